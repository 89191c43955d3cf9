/* response: building and writing answers (see response.h). */
#include "pitchey-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/response.h"
#include "common/jsonutil.h"

#define JSON_TYPE "application/json; charset=utf-8"

void response_init(struct response *res)
{
    memset(res, 0, sizeof *res);
    res->status = 200;
    buf_init(&res->headers);
    buf_init(&res->body);
}

void response_free(struct response *res)
{
    buf_free(&res->headers);
    buf_free(&res->body);
}

void response_header(struct response *res, const char *name, const char *fmt, ...)
{
    buf_append_str(&res->headers, name);
    buf_append_str(&res->headers, ": ");
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&res->headers, fmt, ap);
    va_end(ap);
    buf_append_str(&res->headers, "\r\n");
}

void response_json(struct response *res, int status, struct json_object *obj)
{
    size_t len;
    const char *text = json_text(obj, &len);
    res->status = status;
    res->content_type = JSON_TYPE;
    buf_reset(&res->body);
    buf_append(&res->body, text, len);
}

void response_empty(struct response *res, int status)
{
    res->status = status;
    res->content_type = NULL;
    buf_reset(&res->body);
}

static void error_body(struct response *res, int status, const char *code, const char *message,
                       struct json_object *fields)
{
    struct json_object *err = json_object_new_object();
    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message", json_object_new_string(message));
    if (fields)
        json_object_object_add(err, "fields", fields);
    struct json_object *root = json_object_new_object();
    json_object_object_add(root, "error", err);
    response_json(res, status, root);
    json_object_put(root);
    res->error_code = code;
}

void response_error(struct response *res, int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    error_body(res, status, code, message, NULL);
    if (status == 401)
        response_header(res, "WWW-Authenticate", "Bearer");
}

void response_validation(struct response *res, struct json_object *fields)
{
    error_body(res, 422, "validation_failed", "the request breaks a field rule", fields);
}

void response_unavailable(struct response *res, int retry_after_s)
{
    error_body(res, 503, "unavailable", "the service is temporarily unavailable", NULL);
    response_header(res, "Retry-After", "%d", retry_after_s > 0 ? retry_after_s : 1);
}

const char *response_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static bool bodyless(const struct response *res)
{
    return res->status == 204 || res->status == 304;
}

/* The status line and headers, up to and including the blank line. */
static void serialize_head(const struct response *res, struct buf *out)
{
    buf_printf(out, "Status: %d %s\r\n", res->status, response_reason(res->status));
    if (res->content_type && !bodyless(res))
        buf_printf(out, "Content-Type: %s\r\n", res->content_type);
    buf_append(out, res->headers.data, res->headers.len);
    if (!bodyless(res))
        buf_printf(out, "Content-Length: %zu\r\n", res->body.len);
    buf_append_str(out, "\r\n");
}

void response_serialize(const struct response *res, bool head, struct buf *out)
{
    serialize_head(res, out);
    if (!head && !bodyless(res))
        buf_append(out, res->body.data, res->body.len);
}

int response_write(const struct response *res, bool head, FCGX_Stream *out)
{
    /* The body goes out from where it is: no copy of it on every answer. */
    struct buf wire = BUF_INIT;
    serialize_head(res, &wire);
    int rc = FCGX_PutStr(wire.data, (int)wire.len, out) == (int)wire.len ? 0 : -1;
    buf_free(&wire);
    if (rc == 0 && !head && !bodyless(res) && res->body.len > 0 &&
        FCGX_PutStr(res->body.data, (int)res->body.len, out) != (int)res->body.len)
        rc = -1;
    return rc;
}
