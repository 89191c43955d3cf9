/* handle_metrics: /api/metrics and the worker's slot (see handle_metrics.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/edge.h"
#include "api/handle_metrics.h"
#include "api/password.h"
#include "api/routes.h"
#include "api/views.h"
#include "common/cidr.h"
#include "common/log.h"
#include "metrics/expose.h"
#include "metrics/rooms_probe.h"
#include "metrics/segment.h"

/* The rooms daemon is on this host; a slow one must not hold a worker. */
#define ROOMS_PROBE_TIMEOUT_MS 250

void api_metrics_attach(struct app *app)
{
    const char *patterns[256];
    size_t n = api_route_count < 256 ? api_route_count : 256;
    for (size_t i = 0; i < n; i++)
        patterns[i] = api_routes[i].pattern;
    char err[512];
    if (metrics_worker_attach(app->cfg.api.runtime_dir, patterns, n, err, sizeof err) != 0)
        log_warn("event=metrics_unavailable reason=\"%s\"", err);
}

void api_metrics_publish(struct app *app)
{
    if (!metrics_worker_attached())
        return;
    struct edge_stats es;
    struct cache_stats cs;
    struct db_stats ds;
    edge_get_stats(app, &es);
    memset(&cs, 0, sizeof cs);
    if (app->cache)
        cache_get_stats(app->cache, &cs);
    memset(&ds, 0, sizeof ds);
    if (app->db)
        db_get_stats(app->db, &ds);
    struct metrics_process p = { .rss_bytes = metrics_rss_bytes() };
    uint64_t *c = p.counters;
    c[MC_CACHE_HIT] = es.hits;
    c[MC_CACHE_MISS] = es.misses;
    c[MC_CACHE_STALE] = es.stale;
    c[MC_CACHE_BYPASS] = es.bypass;
    c[MC_CACHE_NOT_MODIFIED] = es.not_modified;
    c[MC_CACHE_STORE] = es.stores;
    c[MC_CACHE_INVALIDATION] = es.invalidations;
    c[MC_CACHE_LOCK_WAIT] = es.lock_waits;
    c[MC_CACHE_LOCK_FALLBACK] = es.lock_fallbacks;
    c[MC_CACHE_REFRESH] = es.refreshes;
    c[MC_CACHE_WARM] = es.warms;
    c[MC_CACHE_EPOCH_BUMP] = es.epoch_bumps;
    c[MC_MEMCACHED_GET] = cs.gets;
    c[MC_MEMCACHED_SET] = cs.sets;
    c[MC_MEMCACHED_ERROR] = cs.errors;
    c[MC_MEMCACHED_TIMEOUT] = cs.timeouts;
    c[MC_MEMCACHED_SKIPPED] = cs.bypassed;
    c[MC_MEMCACHED_BREAKER_OPEN] = cs.breaker_opens;
    c[MC_MEMCACHED_RESET] = cs.resets;
    c[MC_DB_QUERY] = ds.queries;
    c[MC_DB_CONNECT] = ds.connects;
    c[MC_DB_CONNECT_FAILURE] = ds.connect_failures;
    c[MC_DB_RECONNECT] = ds.reconnects;
    c[MC_DB_RETRY] = ds.retries;
    c[MC_DB_QUERY_ERROR] = ds.query_errors;
    c[MC_DB_TIMEOUT] = ds.timeouts;
    c[MC_DB_UNAVAILABLE] = ds.unavailable;
    c[MC_DB_IDLE_CLOSE] = ds.idle_closes;
    c[MC_DB_BREAKER_OPEN] = ds.breaker_opens;
    c[MC_DB_BREAKER_REJECT] = ds.breaker_rejects;
    c[MC_VIEW_FLUSH_DEFERRED] = app->views ? views_busy_count(app->views) : 0;
    password_get_stats(&c[MC_HASH_SLOT_WAIT], &c[MC_HASH_SLOT_TIMEOUT]);
    p.db_circuit_open = app->db && db_circuit_open(app->db);
    p.cache_bypassing = app->cache && cache_enabled(app->cache) && cache_bypassing(app->cache);
    metrics_publish_process(&p);
}

static void trim_copy(const char *s, size_t n, char *out, size_t outlen)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void api_metrics_client(const char *trusted_proxies, const char *remote_addr,
                        const char *forwarded_for, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", remote_addr ? remote_addr : "");
    if (forwarded_for == NULL || trusted_proxies == NULL || *trusted_proxies == '\0' ||
        !cidr_list_contains(trusted_proxies, out))
        return;
    /* Right to left: each trusted hop vouches for the one before it. */
    const char *end = forwarded_for + strlen(forwarded_for);
    while (end > forwarded_for) {
        const char *start = end;
        while (start > forwarded_for && start[-1] != ',')
            start--;
        char hop[64];
        trim_copy(start, (size_t)(end - start), hop, sizeof hop);
        end = start > forwarded_for ? start - 1 : start;
        if (hop[0] == '\0')
            continue;
        snprintf(out, outlen, "%s", hop);
        if (!cidr_list_contains(trusted_proxies, hop))
            return;
    }
}

bool api_metrics_allowed(const struct config *cfg, const char *remote_addr,
                         const char *forwarded_for)
{
    char client[64];
    api_metrics_client(cfg->metrics.trusted_proxies, remote_addr, forwarded_for, client,
                       sizeof client);
    return cidr_list_contains(cfg->metrics.allow, client);
}

void handle_metrics(struct app *app, struct request *req, struct response *res)
{
    const char *xff = request_param(req->envp, "HTTP_X_FORWARDED_FOR");
    if (!api_metrics_allowed(&app->cfg, req->remote_addr, xff)) {
        response_error(res, 403, "forbidden", "metrics are not available to this address");
        return;
    }
    const char *format = "prometheus";
    enum query_lookup q = query_get(&req->query, "format", &format);
    if (q == QUERY_INVALID || (q == QUERY_FOUND && strcmp(format, "json") != 0 &&
                               strcmp(format, "prometheus") != 0)) {
        response_error(res, 400, "invalid_parameter", "format must be json or prometheus");
        return;
    }
    struct metrics_snapshot *snap = malloc(sizeof *snap);
    if (snap == NULL) {
        response_error(res, 500, "internal", "internal error");
        return;
    }
    api_metrics_publish(app); /* this worker's own figures, current */
    if (metrics_worker_snapshot(snap) != 0) {
        free(snap);
        log_warn("event=metrics_unavailable reason=\"no segment\"");
        response_unavailable(res, 1);
        return;
    }
    response_empty(res, 200);
    if (strcmp(format, "json") == 0) {
        struct metrics_rooms rooms;
        (void)metrics_rooms_fetch(app->cfg.rooms.listen, ROOMS_PROBE_TIMEOUT_MS, &rooms);
        metrics_expose_json(snap, &rooms, &res->body);
        res->content_type = "application/json; charset=utf-8";
    } else {
        metrics_expose_text(snap, &res->body);
        res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    free(snap);
    response_header(res, "Cache-Control", "no-store");
}
