/* request: what a handler needs to know about one FastCGI request.
 *
 * Built from the CGI parameters (an envp array, so unit tests need no
 * FastCGI connection).  Strings point into the envp or into memory the
 * request owns; everything is released by request_free(). */
#ifndef PITCHEY_API_REQUEST_H
#define PITCHEY_API_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "api/query.h"
#include "common/buf.h"

enum http_method {
    METHOD_OTHER = 0,
    METHOD_GET = 1 << 0,
    METHOD_HEAD = 1 << 1,
    METHOD_POST = 1 << 2,
    METHOD_PUT = 1 << 3,
    METHOD_DELETE = 1 << 4,
    METHOD_OPTIONS = 1 << 5,
};

#define REQUEST_ID_MAX 64

struct request {
    enum http_method method;
    const char *method_name;
    char *path;              /* without the query string */
    struct query query;
    const char *authorization;
    const char *content_type;
    long content_length;     /* -1 when absent */
    const char *if_none_match;
    const char *accept_encoding;
    const char *origin;
    const char *remote_addr;
    const char *idempotency_key;
    const char *preflight_method; /* Access-Control-Request-Method */
    char request_id[REQUEST_ID_MAX + 1];
    int64_t started_us;
    struct buf body;
    bool body_too_large;
    int64_t path_id;         /* the {id} of the route, once matched */
    int route_index;         /* entry of the route table dispatch chose; -1: none */
    char **envp;             /* the CGI parameters, for rarely read ones */
    /* PITCHEY_FASTPATH_REPORT: the nginx fast path's hits and views
     * (api/fastpath.h).  Only the front server sets such a parameter (a
     * client's headers arrive as HTTP_*), so it needs no other proof. */
    const char *fastpath_report;
};

/* Parses the CGI parameters; never fails (bad parts surface later as the
 * contract's errors). */
void request_init(struct request *req, char **envp);
void request_free(struct request *req);
const char *request_param(char **envp, const char *name);
/* 1-64 characters of [A-Za-z0-9._-] (X-Request-Id, Idempotency-Key). */
bool request_token_ok(const char *s);
/* The token of "Authorization: Bearer <token>"; NULL when there is no
 * Authorization header; "" when the header is not a well-formed bearer. */
const char *request_bearer(const struct request *req);
bool request_accepts_gzip(const struct request *req);
/* "application/json" with optional parameters, case-insensitive. */
bool request_content_type_json(const char *content_type);
/* Parses a path id: decimal 1 .. 2^63-1, nothing else.  0 or -1. */
int request_parse_id(const char *s, int64_t *id);

#endif
