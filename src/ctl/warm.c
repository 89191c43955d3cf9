/* warm: pitcheyctl warm (see warm.h).
 *
 * pitcheyctl has no HTTP address of the service, and needs none: it links
 * the API's routes and runs each path in process, exactly as a worker
 * refreshes a stale entry (edge_warm_path: an internal HEAD request that
 * skips the lookup, queries Postgres and stores the answer in memcached
 * under the current cache epoch).  Any host with the config and the secret
 * can warm the cache that every API host reads. */
#include "pitchey-build.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/app.h"
#include "api/edge.h"
#include "api/views.h"
#include "common/clock.h"
#include "ctl/warm.h"

static const char *const genres[] = { "action", "animation", "comedy", "documentary",
                                      "drama", "fantasy", "horror", "romance",
                                      "sci-fi", "thriller", "other" };

static int warm_one(struct app *app, const char *path, int *failed)
{
    if (strncmp(path, "/api/", 5) != 0) {
        fprintf(stderr, "pitcheyctl: warm: %s: not an /api path\n", path);
        (*failed)++;
        return 1;
    }
    bool stored = false;
    int64_t t0 = clock_mono_us();
    int status = edge_warm_path(app, path, &stored);
    printf("%-60s %d %s %.1fms\n", path, status, stored ? "stored" : "not stored",
           (double)(clock_mono_us() - t0) / 1000.0);
    if (!stored)
        (*failed)++;
    return 0;
}

int ctl_warm(const struct config *cfg, int argc, char **argv)
{
    struct app app;
    memset(&app, 0, sizeof app);
    app.cfg = *cfg; /* borrowed: freed by the caller */
    char err[512];
    if (secret_load(cfg->auth.secret_file, app.secret, err, sizeof err) != 0) {
        fprintf(stderr, "pitcheyctl: %s\n", err);
        return 1;
    }
    if (cfg->cache.servers == NULL || cfg->cache.servers[0] == '\0') {
        fprintf(stderr, "pitcheyctl: warm: no [cache] servers configured\n");
        return 1;
    }
    app.pid = getpid();
    app.started_us = clock_mono_us();
    struct db_options dbo = {
        .url = cfg->database.url,
        .application_name = "pitcheyctl",
        .connect_timeout_ms = cfg->database.connect_timeout_ms,
        .statement_timeout_ms = cfg->database.statement_timeout_ms,
        .idle_timeout_s = cfg->database.idle_timeout_s,
        .retries = cfg->database.retries,
        .retry_base_ms = cfg->database.retry_base_ms,
        .breaker_threshold = cfg->database.breaker_threshold,
        .breaker_cooldown_ms = cfg->database.breaker_cooldown_ms,
        .prepared_statements = cfg->database.prepared_statements,
    };
    struct cache_options co = {
        .servers = cfg->cache.servers,
        /* An operator's command, not a request: a busy memcached may take
         * longer than a worker would wait, and a warm should not fail on it. */
        .timeout_ms = cfg->cache.timeout_ms > 1000 ? cfg->cache.timeout_ms : 1000,
        .breaker_threshold = cfg->cache.breaker_threshold,
        .breaker_cooldown_ms = cfg->cache.breaker_cooldown_ms,
    };
    app.db = db_new(&dbo);
    app.cache = cache_new(&co);
    app.views = views_new(cfg->api.view_flush_batch);

    int failed = 0, total = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++, total++)
            warm_one(&app, argv[i], &failed);
    } else {
        const char *sorts[] = { "new", "popular" };
        for (size_t s = 0; s < 2; s++) {
            char path[128];
            snprintf(path, sizeof path, "/api/pitches?sort=%s", sorts[s]);
            warm_one(&app, path, &failed);
            total++;
            for (size_t g = 0; g < sizeof genres / sizeof genres[0]; g++, total++) {
                snprintf(path, sizeof path, "/api/pitches?sort=%s&genre=%s", sorts[s], genres[g]);
                warm_one(&app, path, &failed);
            }
        }
    }
    printf("warmed %d of %d (epoch %llu)\n", total - failed, total,
           (unsigned long long)edge_epoch());
    db_wait(app.db); /* a view flush in flight reports to app.views */
    views_free(app.views);
    cache_free(app.cache);
    db_free(app.db);
    sodium_memzero(app.secret, sizeof app.secret);
    return failed ? 1 : 0;
}
