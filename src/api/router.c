/* router: static route table matching (see router.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <string.h>

#include "api/router.h"

/* Matches one pattern; copies the {id} segment. */
static int match_pattern(const char *pattern, const char *path, char *idbuf, size_t idlen)
{
    const char *p = pattern, *s = path;
    while (*p) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            if (n == 0)
                return 0;
            if (idbuf && idlen) {
                size_t c = n < idlen - 1 ? n : idlen - 1;
                memcpy(idbuf, s, c);
                idbuf[c] = '\0';
                /* An over-long id cannot be valid; keep it invalid. */
                if (n >= idlen - 1 && idlen > 1)
                    idbuf[0] = 'x';
            }
            s += n;
            p += 4;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *s == '\0';
}

static unsigned with_implied(unsigned methods)
{
    if (methods & METHOD_GET)
        methods |= METHOD_HEAD;
    return methods | METHOD_OPTIONS;
}

enum route_match router_match(const struct route *table, size_t n, const char *path,
                              enum http_method method, const struct route **route,
                              char *idbuf, size_t idlen, unsigned *allowed)
{
    unsigned union_methods = 0;
    const struct route *found = NULL, *first = NULL;
    *route = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!match_pattern(table[i].pattern, path, idbuf, idlen))
            continue;
        if (first == NULL)
            first = &table[i];
        unsigned m = with_implied(table[i].methods);
        union_methods |= m;
        if (found == NULL && (m & method)) {
            found = &table[i];
            /* Keep scanning: the Allow header lists every method. */
        }
    }
    *allowed = union_methods;
    if (union_methods == 0)
        return ROUTE_NOT_FOUND;
    if (found == NULL) {
        *route = first;
        return ROUTE_METHOD_NOT_ALLOWED;
    }
    /* The id buffer holds the last match; re-match the winner. */
    match_pattern(found->pattern, path, idbuf, idlen);
    *route = found;
    return ROUTE_FOUND;
}

void router_allow_list(unsigned methods, char *out, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        { METHOD_GET, "GET" },       { METHOD_HEAD, "HEAD" },       { METHOD_POST, "POST" },
        { METHOD_PUT, "PUT" },       { METHOD_DELETE, "DELETE" },   { METHOD_OPTIONS, "OPTIONS" },
    };
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(methods & names[i].bit))
            continue;
        int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "", names[i].name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}
