/* edge: the edge cache as handlers see it (API.md "Caching").
 *
 * A cacheable GET handler does, in order:
 *
 *   1. check the caller's token (a bad token is 401 before any cache use);
 *   2. edge_begin(): try to answer from memcached (HIT, STALE, or 304 on a
 *      matching If-None-Match); when it returns EDGE_SERVED, res is complete;
 *   3. otherwise query Postgres and build the answer in res;
 *   4. edge_finish(): store a shared answer (200, or an anonymous 404 for a
 *      few seconds) and set ETag, Cache-Control, Vary, gzip and
 *      X-Cache-Status; or edge_private() for an answer that depends on the
 *      caller (users/me, a draft seen by its owner).
 *
 * Writes call edge_invalidate() with the tags they touched, after COMMIT.
 * Everything fails open: with memcached down the answer is BYPASS and
 * nothing errors. */
#ifndef PITCHEY_API_EDGE_H
#define PITCHEY_API_EDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/app.h"

#define EDGE_MAX_TAGS 4

struct edge_ctx {
    char key[251];                      /* full memcached key of the entry */
    const char *tags[EDGE_MAX_TAGS];    /* e.g. "pitches", "pitch:42", "user:7" */
    size_t ntags;
    unsigned long long gens[EDGE_MAX_TAGS]; /* tag generations read before the query */
    bool have_gens;
    bool anonymous;     /* no token: cached 404s may be served */
    bool refresh;       /* this worker refreshes a stale entry after answering */
    bool locked;        /* this worker holds the coalescing lock */
    int status_hint;    /* internal */
};

enum edge_outcome {
    EDGE_SERVED,  /* res holds the answer (HIT, STALE or 304) */
    EDGE_MISS,    /* run the query, then edge_finish() */
};

/* route_key: the route and its normalised known parameters, defaults
 * filled in, fixed order, e.g. "pitches?sort=new&genre=&owner=&q=&limit=20&cursor=".
 * tags: what the answer depends on (copied by pointer: keep them alive
 * until edge_finish). */
enum edge_outcome edge_begin(struct app *app, struct request *req, struct edge_ctx *ctx,
                             const char *route_key, const char *const *tags, size_t ntags,
                             bool anonymous, struct response *res);
void edge_finish(struct app *app, struct request *req, struct edge_ctx *ctx,
                 struct response *res);
void edge_private(struct response *res);
/* Bumps the generations of the tags after a committed write; when
 * memcached cannot record it, bumps the cache epoch in Postgres. */
void edge_invalidate(struct app *app, const char *const *tags, size_t ntags);
/* Work after the answer was sent: refresh a stale entry, warm lists. */
void edge_after_response(struct app *app, struct request *req, struct response *res);
/* Once a second: reads the cache epoch from Postgres. */
void edge_housekeeping(struct app *app, int64_t now_us);

#endif
