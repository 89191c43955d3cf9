/* handle_health: GET /api/health (see API.md).
 *
 * Health keeps its own body shape even when down (monitors read it), and
 * is never cached.  The database check goes through the connection
 * manager, so while the circuit is open it answers 503 at once instead of
 * paying a connect timeout per probe.
 *
 * A worker reuses its last successful checks for up to 100 ms (a monitor
 * or load balancer polling many times a second costs one round trip to
 * Postgres and memcached per worker per 100 ms, not one per request), but
 * never when the database looked unwell meanwhile: a circuit open, no
 * connection, or anything the server sent since (a shutdown notice, an
 * EOF) means a fresh check. */
#include "pitchey-build.h"

#include <stdio.h>
#include <string.h>

#include "api/handle_health.h"
#include "common/clock.h"

DB_STMT(health_ping, "SELECT 1");

#define HEALTH_REUSE_US 100000

static struct {
    int64_t at_us; /* when the checks below ran; 0: never */
    double latency_ms;
    enum cache_health cache;
} last;

void handle_health(struct app *app, struct request *req, struct response *res)
{
    (void)req;
    int64_t t0 = clock_mono_us();
    double latency_ms;
    bool db_ok;
    enum cache_health ch;
    struct db_error err;
    memset(&err, 0, sizeof err);
    if (last.at_us != 0 && t0 - last.at_us < HEALTH_REUSE_US && !db_circuit_open(app->db) &&
        db_is_connected(app->db) && !db_input_pending(app->db)) {
        db_ok = true;
        latency_ms = last.latency_ms;
        ch = last.cache;
    } else {
        PGresult *r = NULL;
        enum db_status st = db_query(app->db, &health_ping, 0, NULL, DB_IDEMPOTENT, &r, &err);
        latency_ms = (double)(clock_mono_us() - t0) / 1000.0;
        PQclear(r);
        db_ok = st == DB_OK;
        ch = cache_ping(app->cache);
        last.at_us = db_ok ? t0 : 0;
        last.latency_ms = latency_ms;
        last.cache = ch;
    }
    bool cache_ok = ch == CACHE_HEALTH_OK || ch == CACHE_HEALTH_DISABLED;

    struct json_object *root = json_object_new_object();
    json_object_object_add(root, "status",
                           json_object_new_string(!db_ok ? "down" : cache_ok ? "ok" : "degraded"));
    json_object_object_add(root, "version", json_object_new_string(PACKAGE_VERSION));
    struct json_object *checks = json_object_new_object();
    struct json_object *dbj = json_object_new_object();
    json_object_object_add(dbj, "status", json_object_new_string(db_ok ? "ok" : "down"));
    char lat[32];
    snprintf(lat, sizeof lat, "%.3f", latency_ms);
    json_object_object_add(dbj, "latency_ms", json_object_new_double_s(latency_ms, lat));
    json_object_object_add(checks, "database", dbj);
    struct json_object *cj = json_object_new_object();
    json_object_object_add(cj, "status", json_object_new_string(cache_health_name(ch)));
    json_object_object_add(checks, "cache", cj);
    json_object_object_add(root, "checks", checks);
    struct json_object *w = json_object_new_object();
    json_object_object_add(w, "pid", json_object_new_int64(app->pid));
    json_object_object_add(w, "requests", json_object_new_int64((int64_t)app->requests));
    json_object_object_add(w, "uptime_s",
                           json_object_new_int64((clock_mono_us() - app->started_us) / 1000000));
    json_object_object_add(root, "worker", w);

    response_json(res, db_ok ? 200 : 503, root);
    json_object_put(root);
    response_header(res, "Cache-Control", "no-store");
    if (!db_ok)
        response_header(res, "Retry-After", "%d", err.retry_after_s > 0 ? err.retry_after_s : 1);
}
