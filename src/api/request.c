/* request: CGI parameters into struct request (see request.h). */
#include "pitchey-build.h"

#include <ctype.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/request.h"
#include "common/clock.h"
#include "common/proc.h"
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

/* Request ids need to be unique, not secret: a per-process generator
 * (splitmix64, seeded once from libsodium) instead of a getrandom() system
 * call per request. */
static void new_request_id(char *out)
{
    static uint64_t state;
    static pid_t owner;
    pid_t pid = proc_pid();
    if (owner != pid) { /* first use, or a fork since */
        randombytes_buf(&state, sizeof state);
        owner = pid;
    }
    unsigned char raw[12];
    for (size_t i = 0; i < sizeof raw; i += 8) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        memcpy(raw + i, &z, sizeof raw - i < 8 ? sizeof raw - i : 8);
    }
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

/* The CGI parameters a request uses, found in one pass over envp (the
 * front server sends 20-40 of them). */
struct cgi_params {
    const char *method, *uri, *document_uri, *query_string, *authorization, *content_type,
        *content_length, *if_none_match, *accept_encoding, *origin, *remote_addr,
        *idempotency_key, *preflight_method, *request_id, *fastpath_report;
};

static void read_params(char **envp, struct cgi_params *p)
{
    static const struct {
        const char *name;
        size_t len;
        size_t offset;
    } wanted[] = {
#define P(name, field) { name, sizeof name - 1, offsetof(struct cgi_params, field) }
        P("REQUEST_METHOD", method),
        P("REQUEST_URI", uri),
        P("DOCUMENT_URI", document_uri),
        P("QUERY_STRING", query_string),
        P("HTTP_AUTHORIZATION", authorization),
        P("CONTENT_TYPE", content_type),
        P("CONTENT_LENGTH", content_length),
        P("HTTP_IF_NONE_MATCH", if_none_match),
        P("HTTP_ACCEPT_ENCODING", accept_encoding),
        P("HTTP_ORIGIN", origin),
        P("REMOTE_ADDR", remote_addr),
        P("HTTP_IDEMPOTENCY_KEY", idempotency_key),
        P("HTTP_ACCESS_CONTROL_REQUEST_METHOD", preflight_method),
        P("HTTP_X_REQUEST_ID", request_id),
        P("PITCHEY_FASTPATH_REPORT", fastpath_report),
#undef P
    };
    memset(p, 0, sizeof *p);
    for (char **e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        size_t n = (size_t)(eq - *e);
        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
            if (wanted[i].len == n && memcmp(*e, wanted[i].name, n) == 0) {
                const char **slot = (const char **)((char *)p + wanted[i].offset);
                if (*slot == NULL) /* the first one wins, as request_param() does */
                    *slot = eq + 1;
                break;
            }
        }
    }
}

void request_init(struct request *req, char **envp)
{
    struct cgi_params p;
    read_params(envp, &p);
    memset(req, 0, sizeof *req);
    req->started_us = clock_mono_us();
    req->route_index = -1;
    req->envp = envp;
    req->method_name = p.method ? p.method : "GET";
    req->method = parse_method(req->method_name);

    const char *uri = p.uri ? p.uri : p.document_uri ? p.document_uri : "/";
    const char *q = strchr(uri, '?');
    req->path = q ? xstrndup(uri, (size_t)(q - uri)) : xstrdup(uri);
    query_parse(&req->query, q ? q + 1 : p.query_string);

    req->authorization = p.authorization;
    req->content_type = p.content_type;
    req->content_length = -1;
    if (p.content_length && *p.content_length) {
        char *end;
        long v = strtol(p.content_length, &end, 10);
        if (*end == '\0' && v >= 0)
            req->content_length = v;
    }
    req->if_none_match = p.if_none_match;
    req->accept_encoding = p.accept_encoding;
    req->origin = p.origin;
    req->remote_addr = p.remote_addr ? p.remote_addr : "";
    req->idempotency_key = p.idempotency_key;
    req->preflight_method = p.preflight_method;
    req->fastpath_report = p.fastpath_report;
    if (p.request_id && request_token_ok(p.request_id))
        strcpy(req->request_id, p.request_id);
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
