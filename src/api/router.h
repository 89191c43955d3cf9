/* router: method + path pattern to handler, from a static table.
 *
 * Patterns are literal segments and "{id}"; the captured segment is handed
 * back raw so the caller can answer a bad id with 400 after 404/405 have
 * been ruled out (API.md's order of checks). */
#ifndef PITCHEY_API_ROUTER_H
#define PITCHEY_API_ROUTER_H

#include <stddef.h>

#include "api/request.h"

struct route {
    const char *pattern;
    unsigned methods;        /* METHOD_* bits; GET implies HEAD */
    void *handler;           /* opaque to the router */
    unsigned flags;
};

enum route_match {
    ROUTE_FOUND,
    ROUTE_NOT_FOUND,
    ROUTE_METHOD_NOT_ALLOWED,
};

/* On ROUTE_FOUND *route is the entry and id (if the pattern has {id}) the
 * captured segment, copied into idbuf.  On ROUTE_METHOD_NOT_ALLOWED and
 * ROUTE_FOUND, *allowed is the union of methods the path accepts, and on
 * ROUTE_METHOD_NOT_ALLOWED *route is the first entry whose path matched. */
enum route_match router_match(const struct route *table, size_t n, const char *path,
                              enum http_method method, const struct route **route,
                              char *idbuf, size_t idlen, unsigned *allowed);
/* "GET, HEAD, PUT, DELETE, OPTIONS" for an Allow header. */
void router_allow_list(unsigned methods, char *out, size_t len);

#endif
