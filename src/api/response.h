/* response: status, headers and body of one answer, written at once.
 *
 * Handlers fill it; the dispatcher adds the headers every /api answer
 * carries and writes it with response_write().  Errors always use the
 * contract's shape {"error": {"code", "message"}}. */
#ifndef PITCHEY_API_RESPONSE_H
#define PITCHEY_API_RESPONSE_H

#include <fcgiapp.h>
#include <json.h>
#include <stdbool.h>

#include "common/buf.h"

struct response {
    int status;
    struct buf headers;      /* "Name: value\r\n" lines */
    struct buf body;
    const char *content_type;
    const char *error_code;  /* for the log line */
    const char *cache_status; /* X-Cache-Status, NULL when not cacheable */
};

void response_init(struct response *res);
void response_free(struct response *res);
void response_header(struct response *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes the body from obj (does not consume the reference). */
void response_json(struct response *res, int status, struct json_object *obj);
void response_empty(struct response *res, int status);
void response_error(struct response *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 422 validation_failed with a "fields" object (consumes the reference). */
void response_validation(struct response *res, struct json_object *fields);
/* 503 unavailable with Retry-After. */
void response_unavailable(struct response *res, int retry_after_s);
const char *response_reason(int status);
/* Serialises the whole answer (CGI "Status:" form); head: headers only. */
void response_serialize(const struct response *res, bool head, struct buf *out);
int response_write(const struct response *res, bool head, FCGX_Stream *out);

#endif
