/* expose: Prometheus text and JSON (see expose.h). */
#include "pitchey-build.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "metrics/expose.h"

static const char *const class_names[METRICS_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

/* A label value or JSON string: route patterns are plain, but escape
 * anyway (\, " and newlines are the only specials in both formats). */
static void put_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_append_char(b, '\\');
        if (*s == '\n') {
            buf_append_str(b, "\\n");
            continue;
        }
        buf_append_char(b, *s);
    }
}

/* Seconds as Prometheus and JSON both read them. */
static void put_seconds(struct buf *b, uint64_t us)
{
    buf_printf(b, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

static void put_bound(struct buf *b, size_t i)
{
    put_seconds(b, (uint64_t)histogram_bound_us(i));
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct buf *b, const char *name, const char *labels, uint64_t v)
{
    if (labels && *labels)
        buf_printf(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
    else
        buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void one(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    family(b, name, type, help);
    sample(b, name, NULL, v);
}

/* A histogram family member: cumulative buckets, +Inf, _sum, _count. */
static void histogram(struct buf *b, const char *name, const char *label_name,
                      const char *label_value, const uint64_t counts[HISTOGRAM_SLOTS],
                      uint64_t sum_us)
{
    uint64_t cum = 0;
    char lab[128] = "";
    if (label_name) {
        struct buf t = BUF_INIT;
        put_escaped(&t, label_value);
        snprintf(lab, sizeof lab, "%s=\"%s\",", label_name, t.data ? t.data : "");
        buf_free(&t);
    }
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cum += counts[i];
        buf_printf(b, "%s_bucket{%sle=\"", name, lab);
        put_bound(b, i);
        buf_printf(b, "\"} %" PRIu64 "\n", cum);
    }
    cum += counts[HISTOGRAM_BUCKETS];
    buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, cum);
    size_t l = strlen(lab);
    if (l)
        lab[l - 1] = '\0'; /* drop the trailing comma */
    buf_printf(b, l ? "%s_sum{%s} " : "%s_sum%s ", name, lab);
    put_seconds(b, sum_us);
    buf_printf(b, l ? "\n%s_count{%s} %" PRIu64 "\n" : "\n%s_count%s %" PRIu64 "\n", name, lab,
               cum);
}

static uint64_t route_total(const struct metrics_route_figures *f)
{
    uint64_t n = 0;
    for (size_t m = 0; m < METRICS_METHODS; m++)
        for (size_t c = 0; c < METRICS_CLASSES; c++)
            n += f->requests[m][c];
    return n;
}

void metrics_expose_text(const struct metrics_snapshot *s, struct buf *b)
{
    const uint64_t *c = s->counters;
    char lab[256];

    family(b, "pitchey_http_requests_total", "counter",
           "Requests answered by the pool, by route, method and status class.");
    for (size_t r = 0; r < s->nroutes; r++)
        for (size_t m = 0; m < METRICS_METHODS; m++)
            for (size_t k = 0; k < METRICS_CLASSES; k++) {
                uint64_t v = s->route[r].requests[m][k];
                /* Every route's GET 2xx always, so each route has a series
                 * from the start; other combinations once they occur. */
                if (v == 0 && !(m == METRICS_GET && k == 1))
                    continue;
                struct buf t = BUF_INIT;
                put_escaped(&t, s->routes[r]);
                snprintf(lab, sizeof lab, "route=\"%s\",method=\"%s\",code=\"%s\"",
                         t.data ? t.data : "", metrics_method_names[m], class_names[k]);
                buf_free(&t);
                sample(b, "pitchey_http_requests_total", lab, v);
            }
    family(b, "pitchey_http_request_duration_seconds", "histogram",
           "Time from the request's start to its answer being sent, by route.");
    for (size_t r = 0; r < s->nroutes; r++)
        histogram(b, "pitchey_http_request_duration_seconds", "route", s->routes[r],
                  s->route[r].latency, s->route[r].latency_sum_us);

    family(b, "pitchey_cache_requests_total", "counter",
           "Edge cache results of cacheable requests (hit, miss, stale, bypass).");
    sample(b, "pitchey_cache_requests_total", "result=\"hit\"", c[MC_CACHE_HIT]);
    sample(b, "pitchey_cache_requests_total", "result=\"miss\"", c[MC_CACHE_MISS]);
    sample(b, "pitchey_cache_requests_total", "result=\"stale\"", c[MC_CACHE_STALE]);
    sample(b, "pitchey_cache_requests_total", "result=\"bypass\"", c[MC_CACHE_BYPASS]);
    one(b, "pitchey_cache_not_modified_total", "counter",
        "304 answers to If-None-Match (also counted as hits or misses).",
        c[MC_CACHE_NOT_MODIFIED]);
    one(b, "pitchey_cache_stores_total", "counter", "Entries written to memcached.",
        c[MC_CACHE_STORE]);
    one(b, "pitchey_cache_invalidations_total", "counter", "Cache tags bumped by writes.",
        c[MC_CACHE_INVALIDATION]);
    family(b, "pitchey_cache_coalesced_waits_total", "counter",
           "Misses that waited for another worker's refresh, by outcome.");
    uint64_t waits = c[MC_CACHE_LOCK_WAIT], fallbacks = c[MC_CACHE_LOCK_FALLBACK];
    sample(b, "pitchey_cache_coalesced_waits_total", "outcome=\"served\"",
           waits > fallbacks ? waits - fallbacks : 0);
    sample(b, "pitchey_cache_coalesced_waits_total", "outcome=\"fallback\"", fallbacks);
    one(b, "pitchey_cache_refreshes_total", "counter",
        "Stale entries recomputed after answering.", c[MC_CACHE_REFRESH]);
    one(b, "pitchey_cache_warms_total", "counter", "Entries recomputed by warming.",
        c[MC_CACHE_WARM]);
    one(b, "pitchey_cache_epoch_bumps_total", "counter",
        "Cache epoch bumps in Postgres (memcached could not record an invalidation).",
        c[MC_CACHE_EPOCH_BUMP]);

    family(b, "pitchey_memcached_operations_total", "counter", "memcached calls, by operation.");
    sample(b, "pitchey_memcached_operations_total", "op=\"get\"", c[MC_MEMCACHED_GET]);
    sample(b, "pitchey_memcached_operations_total", "op=\"set\"", c[MC_MEMCACHED_SET]);
    family(b, "pitchey_memcached_errors_total", "counter", "Failed memcached calls, by kind.");
    sample(b, "pitchey_memcached_errors_total", "kind=\"error\"", c[MC_MEMCACHED_ERROR]);
    sample(b, "pitchey_memcached_errors_total", "kind=\"timeout\"", c[MC_MEMCACHED_TIMEOUT]);
    one(b, "pitchey_memcached_skipped_total", "counter",
        "memcached calls skipped while a worker's cache breaker was open.",
        c[MC_MEMCACHED_SKIPPED]);
    one(b, "pitchey_memcached_breaker_opens_total", "counter", "Cache breaker openings.",
        c[MC_MEMCACHED_BREAKER_OPEN]);
    one(b, "pitchey_memcached_resets_total", "counter",
        "memcached handles rebuilt after errors.", c[MC_MEMCACHED_RESET]);

    one(b, "pitchey_db_queries_total", "counter", "Statements sent to Postgres.", c[MC_DB_QUERY]);
    family(b, "pitchey_db_connects_total", "counter", "Connection attempts, by result.");
    sample(b, "pitchey_db_connects_total", "result=\"ok\"", c[MC_DB_CONNECT]);
    sample(b, "pitchey_db_connects_total", "result=\"failed\"", c[MC_DB_CONNECT_FAILURE]);
    one(b, "pitchey_db_reconnects_total", "counter", "Broken connections replaced.",
        c[MC_DB_RECONNECT]);
    one(b, "pitchey_db_retries_total", "counter", "Statements retried.", c[MC_DB_RETRY]);
    family(b, "pitchey_db_errors_total", "counter", "Failed statements, by kind.");
    sample(b, "pitchey_db_errors_total", "kind=\"query\"", c[MC_DB_QUERY_ERROR]);
    sample(b, "pitchey_db_errors_total", "kind=\"timeout\"", c[MC_DB_TIMEOUT]);
    sample(b, "pitchey_db_errors_total", "kind=\"unavailable\"", c[MC_DB_UNAVAILABLE]);
    sample(b, "pitchey_db_errors_total", "kind=\"circuit_open\"", c[MC_DB_BREAKER_REJECT]);
    one(b, "pitchey_db_idle_closes_total", "counter", "Connections closed after idle_timeout.",
        c[MC_DB_IDLE_CLOSE]);
    one(b, "pitchey_db_breaker_opens_total", "counter", "Circuit openings.",
        c[MC_DB_BREAKER_OPEN]);
    family(b, "pitchey_db_request_duration_seconds", "histogram",
           "Time spent waiting on Postgres per request that used it.");
    histogram(b, "pitchey_db_request_duration_seconds", NULL, NULL, s->db_time,
              s->db_time_sum_us);

    one(b, "pitchey_workers_alive", "gauge", "Worker processes running.",
        (uint64_t)s->workers_alive);
    one(b, "pitchey_workers_busy", "gauge", "Workers answering a request now.",
        (uint64_t)s->workers_busy);
    one(b, "pitchey_requests_in_flight", "gauge",
        "Requests being answered now (one per busy worker).", (uint64_t)s->workers_busy);
    one(b, "pitchey_worker_restarts_total", "counter",
        "Workers that took over the slot of one that exited or died.", s->restarts);
    family(b, "pitchey_worker_requests_total", "counter",
           "Requests answered, by worker slot (all the slot's processes).");
    for (size_t w = 0; w < s->nworkers; w++) {
        snprintf(lab, sizeof lab, "worker=\"%zu\"", w);
        sample(b, "pitchey_worker_requests_total", lab, s->worker[w].requests);
    }
    family(b, "pitchey_worker_resident_memory_bytes", "gauge",
           "Resident set size of each running worker.");
    for (size_t w = 0; w < s->nworkers; w++)
        if (s->worker[w].alive) {
            snprintf(lab, sizeof lab, "worker=\"%zu\",pid=\"%d\"", w, s->worker[w].pid);
            sample(b, "pitchey_worker_resident_memory_bytes", lab, s->worker[w].rss_bytes);
        }
    family(b, "pitchey_worker_db_circuit_open", "gauge",
           "1 while a running worker's Postgres circuit is open.");
    for (size_t w = 0; w < s->nworkers; w++)
        if (s->worker[w].alive) {
            snprintf(lab, sizeof lab, "worker=\"%zu\",pid=\"%d\"", w, s->worker[w].pid);
            sample(b, "pitchey_worker_db_circuit_open", lab, s->worker[w].db_circuit_open);
        }
    family(b, "pitchey_password_hash_slot_waits_total", "counter",
           "Register or login attempts that found every password-hash slot busy, by outcome "
           "(got one in time, or answered 503).");
    sample(b, "pitchey_password_hash_slot_waits_total", "outcome=\"slot\"", c[MC_HASH_SLOT_WAIT]);
    sample(b, "pitchey_password_hash_slot_waits_total", "outcome=\"timeout\"",
           c[MC_HASH_SLOT_TIMEOUT]);
    family(b, "pitchey_view_flushes_total", "counter",
           "View-count flushes, by result (sent, could not be sent, left for later).");
    sample(b, "pitchey_view_flushes_total", "result=\"sent\"", c[MC_VIEW_FLUSH]);
    sample(b, "pitchey_view_flushes_total", "result=\"failed\"", c[MC_VIEW_FLUSH_ERROR]);
    sample(b, "pitchey_view_flushes_total", "result=\"deferred\"", c[MC_VIEW_FLUSH_DEFERRED]);
}

/* ------------------------------------------------------------------ JSON */

static void json_quantile(struct buf *b, const char *name, const uint64_t counts[HISTOGRAM_SLOTS],
                          double q)
{
    double v = histogram_quantile(counts, q);
    if (v < 0)
        buf_printf(b, "\"%s\":null", name);
    else
        buf_printf(b, "\"%s\":%.6f", name, v);
}

static void json_histogram(struct buf *b, const uint64_t counts[HISTOGRAM_SLOTS], uint64_t sum_us)
{
    uint64_t n = 0;
    buf_append_str(b, "\"histogram\":[");
    for (size_t i = 0; i < HISTOGRAM_SLOTS; i++) {
        buf_printf(b, "%s%" PRIu64, i ? "," : "", counts[i]);
        n += counts[i];
    }
    buf_printf(b, "],\"count\":%" PRIu64 ",\"sum_seconds\":", n);
    put_seconds(b, sum_us);
    buf_append_char(b, ',');
    json_quantile(b, "p50", counts, 0.50);
    buf_append_char(b, ',');
    json_quantile(b, "p95", counts, 0.95);
    buf_append_char(b, ',');
    json_quantile(b, "p99", counts, 0.99);
}

#define KV(name, v) buf_printf(b, "\"%s\":%" PRIu64, name, (uint64_t)(v))

void metrics_expose_json(const struct metrics_snapshot *s, const struct metrics_rooms *rooms,
                         struct buf *b)
{
    const uint64_t *c = s->counters;
    buf_printf(b, "{\"format\":1,\"time_ms\":%" PRId64 ",\"version\":\"%s\",", s->taken_unix_ms,
               PACKAGE_VERSION);
    KV("requests", s->requests);
    buf_append_str(b, ",\"buckets_seconds\":[");
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        if (i)
            buf_append_char(b, ',');
        put_bound(b, i);
    }
    buf_append_str(b, "],\"routes\":[");
    for (size_t r = 0; r < s->nroutes; r++) {
        const struct metrics_route_figures *f = &s->route[r];
        buf_append_str(b, r ? ",{\"route\":\"" : "{\"route\":\"");
        put_escaped(b, s->routes[r]);
        buf_append_str(b, "\",");
        KV("requests", route_total(f));
        buf_append_str(b, ",\"by_class\":{");
        for (size_t k = 0; k < METRICS_CLASSES; k++) {
            uint64_t n = 0;
            for (size_t m = 0; m < METRICS_METHODS; m++)
                n += f->requests[m][k];
            if (k)
                buf_append_char(b, ',');
            KV(class_names[k], n);
        }
        buf_append_str(b, "},\"by_method\":{");
        bool first = true;
        for (size_t m = 0; m < METRICS_METHODS; m++) {
            uint64_t n = 0;
            for (size_t k = 0; k < METRICS_CLASSES; k++)
                n += f->requests[m][k];
            if (n == 0)
                continue;
            if (!first)
                buf_append_char(b, ',');
            first = false;
            KV(metrics_method_names[m], n);
        }
        buf_append_str(b, "},");
        json_histogram(b, f->latency, f->latency_sum_us);
        buf_append_char(b, '}');
    }
    buf_append_str(b, "],\"cache\":{");
    KV("hit", c[MC_CACHE_HIT]);
    buf_append_char(b, ',');
    KV("miss", c[MC_CACHE_MISS]);
    buf_append_char(b, ',');
    KV("stale", c[MC_CACHE_STALE]);
    buf_append_char(b, ',');
    KV("bypass", c[MC_CACHE_BYPASS]);
    buf_append_char(b, ',');
    KV("not_modified", c[MC_CACHE_NOT_MODIFIED]);
    buf_append_char(b, ',');
    KV("stores", c[MC_CACHE_STORE]);
    buf_append_char(b, ',');
    KV("invalidations", c[MC_CACHE_INVALIDATION]);
    uint64_t waits = c[MC_CACHE_LOCK_WAIT], fallbacks = c[MC_CACHE_LOCK_FALLBACK];
    buf_append_str(b, ",\"coalesced_waits\":{");
    KV("served", waits > fallbacks ? waits - fallbacks : 0);
    buf_append_char(b, ',');
    KV("fallback", fallbacks);
    buf_append_str(b, "},");
    KV("refreshes", c[MC_CACHE_REFRESH]);
    buf_append_char(b, ',');
    KV("warms", c[MC_CACHE_WARM]);
    buf_append_char(b, ',');
    KV("epoch_bumps", c[MC_CACHE_EPOCH_BUMP]);
    buf_append_str(b, "},\"memcached\":{");
    KV("gets", c[MC_MEMCACHED_GET]);
    buf_append_char(b, ',');
    KV("sets", c[MC_MEMCACHED_SET]);
    buf_append_char(b, ',');
    KV("errors", c[MC_MEMCACHED_ERROR]);
    buf_append_char(b, ',');
    KV("timeouts", c[MC_MEMCACHED_TIMEOUT]);
    buf_append_char(b, ',');
    KV("skipped", c[MC_MEMCACHED_SKIPPED]);
    buf_append_char(b, ',');
    KV("breaker_opens", c[MC_MEMCACHED_BREAKER_OPEN]);
    buf_append_char(b, ',');
    KV("resets", c[MC_MEMCACHED_RESET]);
    buf_append_str(b, "},\"db\":{");
    KV("queries", c[MC_DB_QUERY]);
    buf_append_char(b, ',');
    KV("connects", c[MC_DB_CONNECT]);
    buf_append_char(b, ',');
    KV("connect_failures", c[MC_DB_CONNECT_FAILURE]);
    buf_append_char(b, ',');
    KV("reconnects", c[MC_DB_RECONNECT]);
    buf_append_char(b, ',');
    KV("retries", c[MC_DB_RETRY]);
    buf_append_str(b, ",\"errors\":{");
    KV("query", c[MC_DB_QUERY_ERROR]);
    buf_append_char(b, ',');
    KV("timeout", c[MC_DB_TIMEOUT]);
    buf_append_char(b, ',');
    KV("unavailable", c[MC_DB_UNAVAILABLE]);
    buf_append_char(b, ',');
    KV("circuit_open", c[MC_DB_BREAKER_REJECT]);
    buf_append_str(b, "},");
    KV("idle_closes", c[MC_DB_IDLE_CLOSE]);
    buf_append_char(b, ',');
    KV("breaker_opens", c[MC_DB_BREAKER_OPEN]);
    buf_append_char(b, ',');
    KV("circuits_open", s->db_circuits_open);
    buf_append_str(b, ",\"time\":{");
    json_histogram(b, s->db_time, s->db_time_sum_us);
    buf_append_str(b, "}},\"workers\":{");
    KV("alive", s->workers_alive);
    buf_append_char(b, ',');
    KV("busy", s->workers_busy);
    buf_append_char(b, ',');
    KV("in_flight", s->workers_busy);
    buf_append_char(b, ',');
    KV("restarts", s->restarts);
    buf_append_str(b, ",\"slots\":[");
    for (size_t w = 0; w < s->nworkers; w++) {
        const struct metrics_worker_figures *f = &s->worker[w];
        buf_printf(b,
                   "%s{\"slot\":%zu,\"pid\":%d,\"alive\":%s,\"busy\":%s,\"requests\":%" PRIu64
                   ",\"rss_bytes\":%" PRIu64 ",\"db_circuit_open\":%s,\"cache_bypassing\":%s,"
                   "\"started_unix\":%" PRId64 ",\"restarts\":%" PRIu64 "}",
                   w ? "," : "", w, f->pid, f->alive ? "true" : "false",
                   f->busy ? "true" : "false", f->requests, f->rss_bytes,
                   f->db_circuit_open ? "true" : "false", f->cache_bypassing ? "true" : "false",
                   f->started_unix, f->restarts);
    }
    buf_append_str(b, "]},\"auth\":{");
    KV("hash_slot_waits", c[MC_HASH_SLOT_WAIT]);
    buf_append_char(b, ',');
    KV("hash_slot_timeouts", c[MC_HASH_SLOT_TIMEOUT]);
    buf_append_str(b, "},\"views\":{");
    KV("flushes", c[MC_VIEW_FLUSH]);
    buf_append_char(b, ',');
    KV("flush_errors", c[MC_VIEW_FLUSH_ERROR]);
    buf_append_char(b, ',');
    KV("flushes_deferred", c[MC_VIEW_FLUSH_DEFERRED]);
    buf_append_char(b, '}');
    if (rooms) {
        if (rooms->up)
            buf_printf(b,
                       ",\"rooms\":{\"up\":true,\"connections\":%.0f,\"rooms\":%.0f,"
                       "\"members\":%.0f,\"messages_in\":%.0f,\"messages_out\":%.0f,"
                       "\"events\":%.0f,\"lag_seconds\":%.6f}",
                       rooms->connections, rooms->rooms, rooms->members, rooms->messages_in,
                       rooms->messages_out, rooms->events, rooms->lag_seconds);
        else
            buf_append_str(b, ",\"rooms\":{\"up\":false}");
    }
    buf_append_char(b, '}');
}
