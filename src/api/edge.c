/* edge: the edge cache seen by handlers (see edge.h).
 *
 * Interim implementation while the memcached-backed one is built: every
 * answer is BYPASS and nothing is stored, which is what API.md requires
 * while memcached is down. */
#include "pitchey-build.h"

#include <string.h>

#include "api/edge.h"

enum edge_outcome edge_begin(struct app *app, struct request *req, struct edge_ctx *ctx,
                             const char *route_key, const char *const *tags, size_t ntags,
                             bool anonymous, struct response *res)
{
    (void)app;
    (void)req;
    (void)route_key;
    (void)res;
    memset(ctx, 0, sizeof *ctx);
    for (size_t i = 0; i < ntags && i < EDGE_MAX_TAGS; i++)
        ctx->tags[i] = tags[i];
    ctx->ntags = ntags;
    ctx->anonymous = anonymous;
    return EDGE_MISS;
}

void edge_finish(struct app *app, struct request *req, struct edge_ctx *ctx,
                 struct response *res)
{
    (void)app;
    (void)req;
    (void)ctx;
    edge_private(res);
}

void edge_private(struct response *res)
{
    response_header(res, "Cache-Control", "private, no-store");
    res->cache_status = "BYPASS";
}

void edge_invalidate(struct app *app, const char *const *tags, size_t ntags)
{
    (void)app;
    (void)tags;
    (void)ntags;
}

void edge_after_response(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    (void)res;
}

void edge_housekeeping(struct app *app, int64_t now_us)
{
    (void)app;
    (void)now_us;
}
