/* query: query string parsing (see query.h). */
#include "pitchey-build.h"

#include <string.h>

#include "api/query.h"
#include "common/utf8.h"
#include "common/xalloc.h"

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *query_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%') {
            if (len - i < 3) {
                free(out);
                return NULL;
            }
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    if (memchr(out, '\0', n) || !utf8_valid(out, n)) {
        free(out);
        return NULL;
    }
    return out;
}

void query_parse(struct query *q, const char *raw)
{
    q->params = NULL;
    q->count = 0;
    if (raw == NULL || *raw == '\0')
        return;
    size_t cap = 0;
    const char *p = raw;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            if (q->count == cap) {
                cap = cap ? cap * 2 : 8;
                q->params = xrealloc(q->params, cap * sizeof *q->params);
            }
            struct query_param *qp = &q->params[q->count++];
            qp->name = query_decode(p, nlen);
            qp->value = query_decode(v, vlen);
            qp->bad = qp->value == NULL;
            if (qp->name == NULL)
                qp->name = xstrdup("");
            if (qp->value == NULL)
                qp->value = xstrdup("");
        }
        if (!end)
            break;
        p = end + 1;
    }
}

void query_free(struct query *q)
{
    for (size_t i = 0; i < q->count; i++) {
        free(q->params[i].name);
        free(q->params[i].value);
    }
    free(q->params);
    q->params = NULL;
    q->count = 0;
}

enum query_lookup query_get(const struct query *q, const char *name, const char **value)
{
    const struct query_param *found = NULL;
    for (size_t i = 0; i < q->count; i++) {
        if (strcmp(q->params[i].name, name) != 0)
            continue;
        if (found)
            return QUERY_INVALID;
        found = &q->params[i];
    }
    if (found == NULL)
        return QUERY_ABSENT;
    if (found->bad || found->value[0] == '\0')
        return QUERY_INVALID;
    *value = found->value;
    return QUERY_FOUND;
}
