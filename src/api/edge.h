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
#include <stdint.h>

#include "api/app.h"
#include "api/auth.h"

#define EDGE_MAX_TAGS 4

struct edge_ctx {
    char key[251];                      /* full memcached key of the entry */
    const char *tags[EDGE_MAX_TAGS];    /* e.g. "pitches", "pitch:42", "user:7" */
    size_t ntags;
    uint64_t gens[EDGE_MAX_TAGS];        /* tag generations read before the query */
    bool have_gens;
    bool anonymous;     /* no token: cached 404s may be served */
    bool refresh;       /* this worker refreshes a stale entry after answering */
    bool locked;        /* this worker holds the coalescing lock */
    int status_hint;    /* internal */
    bool bypass;        /* memcached unusable for this request: BYPASS */
    uint64_t epoch;     /* the epoch the keys were built with */
    char route_key[256]; /* internal: for the lock key */
};

/* Per-process counters, for the pool-wide metrics. */
struct edge_stats {
    uint64_t hits;          /* answered from the cache (304s included) */
    uint64_t misses;        /* looked up, not usable: the handler queried */
    uint64_t stale;         /* answered STALE */
    uint64_t bypass;        /* memcached unusable: answered from Postgres, BYPASS */
    uint64_t not_modified;  /* 304s (also counted as hits or misses) */
    uint64_t stores;        /* entries written */
    uint64_t invalidations; /* tags bumped */
    uint64_t lock_waits;    /* misses that waited for another worker's entry */
    uint64_t lock_fallbacks;/* ... and then queried themselves */
    uint64_t refreshes;     /* stale entries recomputed after the answer */
    uint64_t warms;         /* entries recomputed by warming */
    uint64_t warm_skips;    /* warms not needed: fresh already, or being recomputed */
    uint64_t epoch_bumps;   /* cache epoch bumped in Postgres */
    uint64_t careful_epoch_reads; /* epoch read at a lookup, after memcached trouble */
    uint64_t memcached_errors; /* from the client: failed memcached calls */
};

enum edge_outcome {
    EDGE_SERVED,  /* res holds the answer (HIT, STALE or 304) */
    EDGE_MISS,    /* run the query, then edge_finish() */
};

/* route_key: the route and its normalised known parameters, defaults
 * filled in, fixed order, e.g. "pitches?sort=new&genre=&owner=&q=&limit=20&cursor=".
 * tags: what the answer depends on (copied by pointer: keep them alive
 * until edge_finish).
 * caller: NULL for an anonymous request, else the result of auth_begin().
 * A pending caller's session is fetched in the same multi-get as the
 * entry; before a cached answer is served the token is settled (cached
 * session, else Postgres), and a bad one is answered 401 (EDGE_SERVED).  On
 * EDGE_MISS the caller may still be pending: call auth_settle(). */
enum edge_outcome edge_begin(struct app *app, struct request *req, struct edge_ctx *ctx,
                             const char *route_key, const char *const *tags, size_t ntags,
                             struct auth_user *caller, struct response *res);
void edge_finish(struct app *app, struct request *req, struct edge_ctx *ctx,
                 struct response *res);
void edge_private(struct response *res);
/* edge_private() for an answer whose edge_begin() returned EDGE_MISS:
 * also releases the coalescing lock this worker may hold. */
void edge_private_after_begin(struct app *app, struct edge_ctx *ctx, struct response *res);
/* Bumps the generations of the tags after a committed write; when
 * memcached cannot record it, bumps the cache epoch in Postgres. */
void edge_invalidate(struct app *app, const char *const *tags, size_t ntags);
/* Work after the answer was sent: refresh a stale entry, warm lists. */
void edge_after_response(struct app *app, struct request *req, struct response *res);
/* Once a second: reads the cache epoch from Postgres. */
void edge_housekeeping(struct app *app, int64_t now_us);
void edge_get_stats(const struct app *app, struct edge_stats *out);
/* Recomputes one cacheable path ("/api/pitches?sort=popular") in process
 * and stores it, as a refresh does (pitcheyctl warm).  Returns the status
 * the handler answered, and whether it was stored. */
int edge_warm_path(struct app *app, const char *path, bool *stored);
/* The epoch this process puts in its keys (0 until known). */
uint64_t edge_epoch(void);

#endif
