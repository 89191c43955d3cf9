/* handle_health: GET /api/health (see API.md).
 *
 * Health keeps its own body shape even when down (monitors read it), and
 * is never cached.  The database check goes through the connection
 * manager, so while the circuit is open it answers 503 at once instead of
 * paying a connect timeout per probe. */
#include "pitchey-build.h"

#include <stdio.h>

#include "api/handle_health.h"
#include "common/clock.h"
#include "metrics/segment.h"

DB_STMT(health_ping, "SELECT 1");

void handle_health(struct app *app, struct request *req, struct response *res)
{
    (void)req;
    int64_t t0 = clock_mono_us();
    PGresult *r = NULL;
    struct db_error err;
    enum db_status st = db_query(app->db, &health_ping, 0, NULL, DB_IDEMPOTENT, &r, &err);
    double latency_ms = (double)(clock_mono_us() - t0) / 1000.0;
    PQclear(r);
    bool db_ok = st == DB_OK;
    enum cache_health ch = cache_ping(app->cache);
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
    /* The whole pool, from the metrics segment (null without one). */
    int alive, busy;
    if (metrics_worker_pool(&alive, &busy) == 0) {
        struct json_object *pool = json_object_new_object();
        json_object_object_add(pool, "alive", json_object_new_int(alive));
        json_object_object_add(pool, "busy", json_object_new_int(busy));
        json_object_object_add(root, "pool", pool);
    } else {
        json_object_object_add(root, "pool", NULL);
    }

    response_json(res, db_ok ? 200 : 503, root);
    json_object_put(root);
    response_header(res, "Cache-Control", "no-store");
    if (!db_ok)
        response_header(res, "Retry-After", "%d", err.retry_after_s > 0 ? err.retry_after_s : 1);
}
