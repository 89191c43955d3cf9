/* dispatch: routing, the order of checks of API.md, and the headers every
 * /api answer carries. */
#include "pitchey-build.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "api/routes.h"
#include "api/fastpath.h"
#include "common/clock.h"
#include "common/log.h"

/* Origins from [http] cors_origins, separated by spaces or commas. */
static bool origin_allowed(const struct app *app, const char *origin)
{
    const char *list = app->cfg.http.cors_origins;
    if (origin == NULL || list == NULL || *list == '\0')
        return false;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        if ((n == 1 && *p == '*') || (n == olen && strncasecmp(p, origin, n) == 0))
            return true;
        p += n;
    }
    return false;
}

static void preflight(struct app *app, struct request *req, struct response *res,
                      unsigned allowed)
{
    char allow[128];
    router_allow_list(allowed, allow, sizeof allow);
    response_empty(res, 204);
    response_header(res, "Allow", "%s", allow);
    if (origin_allowed(app, req->origin)) {
        response_header(res, "Access-Control-Allow-Methods", "%s", allow);
        response_header(res, "Access-Control-Allow-Headers",
                        "Authorization, Content-Type, Idempotency-Key, If-None-Match, "
                        "X-Request-Id");
        response_header(res, "Access-Control-Max-Age", "600");
    }
}

/* RFC 9211 Cache-Status for our X-Cache-Status: a HIT was answered from
 * the cache; the others went (or, for STALE, go after answering) to
 * Postgres, and fwd says why. */
static const char *cache_status_rfc9211(const char *x)
{
    if (strcmp(x, "HIT") == 0)
        return "pitchey; hit";
    if (strcmp(x, "STALE") == 0)
        return "pitchey; fwd=stale";
    if (strcmp(x, "MISS") == 0)
        return "pitchey; fwd=miss";
    return "pitchey; fwd=bypass";
}

/* The report nginx sends once a second for the hits it answered itself
 * (api/fastpath.h): views join this worker's batch, hits its counters. */
static void fastpath_report(struct app *app, struct request *req, struct response *res)
{
    if (fastpath_apply_report(req->fastpath_report, app->views) != 0) {
        log_warn("event=fastpath_report_malformed");
        response_error(res, 400, "invalid_parameter", "malformed fast path report");
        return;
    }
    response_empty(res, 204);
}

void dispatch_request(struct app *app, struct request *req, struct response *res)
{
    const struct route *route = NULL;
    if (req->fastpath_report) {
        fastpath_report(app, req, res);
        return;
    }
    char idbuf[32] = "";
    unsigned allowed = 0;
    enum route_match m = router_match(api_routes, api_route_count, req->path, req->method,
                                      &route, idbuf, sizeof idbuf, &allowed);
    if (route)
        req->route_index = (int)(route - api_routes); /* the metrics' route label */
    if (m == ROUTE_NOT_FOUND) {
        response_error(res, 404, "not_found", "no such route");
        return;
    }
    if (m == ROUTE_METHOD_NOT_ALLOWED) {
        char allow[128];
        router_allow_list(allowed, allow, sizeof allow);
        response_error(res, 405, "method_not_allowed", "method %s is not allowed here",
                       req->method == METHOD_OTHER ? "this" : req->method_name);
        response_header(res, "Allow", "%s", allow);
        if (route && (route->flags & ROUTE_CACHEABLE))
            res->cache_status = "BYPASS";
        return;
    }
    if (route->flags & ROUTE_CACHEABLE)
        res->cache_status = "BYPASS"; /* handlers upgrade it when they use the cache */
    if (req->method == METHOD_OPTIONS) {
        preflight(app, req, res, allowed);
        return;
    }
    if (strstr(route->pattern, "{id}") && request_parse_id(idbuf, &req->path_id) != 0) {
        response_error(res, 400, "invalid_parameter", "the id must be an integer from 1 to %lld",
                       (long long)INT64_MAX);
        return;
    }
    handler_fn fn = (handler_fn)route->handler;
    fn(app, req, res);
}

void dispatch_finish_headers(struct app *app, struct request *req, struct response *res,
                             int64_t db_us)
{
    int64_t spent = clock_mono_us() - req->started_us;
    response_header(res, "X-Request-Id", "%s", req->request_id);
    /* Integer arithmetic: printf's floating point showed in the profile. */
    response_header(res, "X-Response-Time", "%lld.%03lldms", (long long)(spent / 1000),
                    (long long)(spent % 1000));
    response_header(res, "X-Database-Time", "%lld.%03lldms", (long long)(db_us / 1000),
                    (long long)(db_us % 1000));
    response_header(res, "X-Worker-Version", "%s", PACKAGE_VERSION);
    if (res->cache_status) {
        response_header(res, "X-Cache-Status", "%s", res->cache_status);
        response_header(res, "Cache-Status", "%s", cache_status_rfc9211(res->cache_status));
    }
    /* Every answer is JSON (or Prometheus text) for programs, never a page:
     * no MIME sniffing into HTML, no framing, no referrer leaking ids or
     * cursors, and no active content should a browser render it anyway. */
    response_header(res, "X-Content-Type-Options", "nosniff");
    response_header(res, "X-Frame-Options", "DENY");
    response_header(res, "Referrer-Policy", "no-referrer");
    response_header(res, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    if (origin_allowed(app, req->origin)) {
        response_header(res, "Access-Control-Allow-Origin", "%s", req->origin);
        response_header(res, "Access-Control-Expose-Headers",
                        "ETag, Location, Retry-After, X-Request-Id, X-Response-Time, "
                        "X-Database-Time, X-Worker-Version, X-Cache-Status, Cache-Status");
        response_header(res, "Vary", "Origin");
    }
}

void app_db_error(struct app *app, struct response *res, enum db_status st,
                  const struct db_error *err)
{
    (void)app;
    if (st == DB_UNAVAILABLE) {
        response_unavailable(res, err->retry_after_s);
        return;
    }
    /* The detail goes to the log only: no SQL or server text to clients. */
    /* The server's message may quote input (`invalid input syntax: "..."`). */
    char sqlstate[32], reason[LOG_VALUE_MAX];
    log_error("event=db_error sqlstate=%s reason=%s",
              log_escape(sqlstate, sizeof sqlstate, err->sqlstate),
              log_escape(reason, sizeof reason, err->message));
    response_error(res, 500, "internal", "internal error");
}
