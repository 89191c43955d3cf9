/* request: CGI parameters into struct request (see request.h). */
#include "pitchey-build.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/request.h"
#include "common/clock.h"
#include "common/xalloc.h"

const char *request_param(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

bool request_token_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
            return false;
        if (c >= 0x80)
            return false;
    }
    return n >= 1 && n <= REQUEST_ID_MAX;
}

static void new_request_id(char *out)
{
    unsigned char raw[12];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, REQUEST_ID_MAX + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static enum http_method parse_method(const char *m)
{
    static const struct {
        const char *name;
        enum http_method method;
    } table[] = {
        { "GET", METHOD_GET },       { "HEAD", METHOD_HEAD },     { "POST", METHOD_POST },
        { "PUT", METHOD_PUT },       { "DELETE", METHOD_DELETE }, { "OPTIONS", METHOD_OPTIONS },
    };
    for (size_t i = 0; m && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(m, table[i].name) == 0)
            return table[i].method;
    return METHOD_OTHER;
}

void request_init(struct request *req, char **envp)
{
    memset(req, 0, sizeof *req);
    req->started_us = clock_mono_us();
    req->method_name = request_param(envp, "REQUEST_METHOD");
    if (req->method_name == NULL)
        req->method_name = "GET";
    req->method = parse_method(req->method_name);

    const char *uri = request_param(envp, "REQUEST_URI");
    if (uri == NULL)
        uri = request_param(envp, "DOCUMENT_URI");
    if (uri == NULL)
        uri = "/";
    const char *q = strchr(uri, '?');
    req->path = q ? xstrndup(uri, (size_t)(q - uri)) : xstrdup(uri);
    query_parse(&req->query, q ? q + 1 : request_param(envp, "QUERY_STRING"));

    req->authorization = request_param(envp, "HTTP_AUTHORIZATION");
    req->content_type = request_param(envp, "CONTENT_TYPE");
    const char *cl = request_param(envp, "CONTENT_LENGTH");
    req->content_length = -1;
    if (cl && *cl) {
        char *end;
        long v = strtol(cl, &end, 10);
        if (*end == '\0' && v >= 0)
            req->content_length = v;
    }
    req->if_none_match = request_param(envp, "HTTP_IF_NONE_MATCH");
    req->accept_encoding = request_param(envp, "HTTP_ACCEPT_ENCODING");
    req->origin = request_param(envp, "HTTP_ORIGIN");
    req->remote_addr = request_param(envp, "REMOTE_ADDR");
    req->idempotency_key = request_param(envp, "HTTP_IDEMPOTENCY_KEY");
    req->preflight_method = request_param(envp, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
    req->fastpath_report = request_param(envp, "PITCHEY_FASTPATH_REPORT");
    if (req->remote_addr == NULL)
        req->remote_addr = "";

    const char *rid = request_param(envp, "HTTP_X_REQUEST_ID");
    if (rid && request_token_ok(rid))
        strcpy(req->request_id, rid);
    else
        new_request_id(req->request_id);
    buf_init(&req->body);
}

void request_free(struct request *req)
{
    free(req->path);
    query_free(&req->query);
    buf_free(&req->body);
    req->path = NULL;
}

const char *request_bearer(const struct request *req)
{
    const char *h = req->authorization;
    if (h == NULL)
        return NULL;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return "";
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

bool request_accepts_gzip(const struct request *req)
{
    const char *h = req->accept_encoding;
    while (h && *h) {
        while (*h == ' ' || *h == ',')
            h++;
        size_t n = strcspn(h, ",;");
        size_t tn = n;
        while (tn && h[tn - 1] == ' ')
            tn--;
        bool is_gzip = (tn == 4 && !strncasecmp(h, "gzip", 4)) ||
                       (tn == 6 && !strncasecmp(h, "x-gzip", 6));
        const char *next = h + n;
        bool zero_q = false;
        if (*next == ';') {
            /* "gzip;q=0" explicitly refuses it. */
            const char *qv = next + 1;
            while (*qv == ' ')
                qv++;
            if ((qv[0] == 'q' || qv[0] == 'Q') && qv[1] == '=') {
                double q = strtod(qv + 2, NULL);
                zero_q = q <= 0.0;
            }
            next += strcspn(next, ",");
        }
        if (is_gzip)
            return !zero_q;
        h = next;
    }
    return false;
}

bool request_content_type_json(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    ct += 16;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int request_parse_id(const char *s, int64_t *id)
{
    if (s == NULL || *s == '\0')
        return -1;
    uint64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (!isdigit((unsigned char)s[n]))
            return -1;
        uint64_t digit = (uint64_t)(s[n] - '0');
        if (v > ((uint64_t)INT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (v == 0)
        return -1;
    *id = (int64_t)v;
    return 0;
}
