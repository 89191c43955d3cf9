/* Integration: the nginx fast path (conf/nginx/pitchey-fastpath.conf) against
 * the pool, on a stack started with --fastpath.  Apache always goes through
 * the pool, so it is the reference: entries the pool stored are answered by
 * nginx with the same status, body (identity and gzip), ETags, Cache-Control
 * and 304s; nginx picks the same memcached server as libmemcached's ketama
 * for thousands of keys; an entry of another format version is a miss on
 * both sides; whatever the fast path does not know goes to the pool; and a
 * memcached server added to the list keeps both sides agreeing and
 * read-your-writes intact.  Skips (77) without the Lua module. */
#include "pitchey-build.h"

#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "fcgi_client.h"
#include "harness.h"

#define NKEYS 5000

/* ---------------------------------------------------------------- helpers */

static const char *apache(void)
{
    const char *a = it_env("PITCHEY_TEST_APACHE_URL");
    ck_assert_msg(a && *a, "no Apache in this stack");
    return a;
}

static bool served_by_nginx(const struct it_response *r)
{
    char *cs = it_header(r, "Cache-Status");
    bool yes = cs && strstr(cs, "pitchey-nginx; hit");
    free(cs);
    return yes;
}

/* The fast path's counters, for failure messages (malloc'd). */
static char *stats(void)
{
    struct it_response r;
    if (it_get("/pitchey-fastpath/stats", &r) != 0)
        return strdup("(no stats)");
    char *s = strdup(r.body ? r.body : "");
    it_response_free(&r);
    return s;
}

static void header_eq(const struct it_response *a, const struct it_response *b, const char *name,
                      const char *path)
{
    char *x = it_header(a, name), *y = it_header(b, name);
    ck_assert_msg((x == NULL && y == NULL) || (x && y && strcmp(x, y) == 0),
                  "%s: %s differs: pool %s, fast path %s", path, name, x ? x : "(none)",
                  y ? y : "(none)");
    free(x);
    free(y);
}

/* A libmemcached handle set up as src/cache/client.c sets its own. */
static memcached_st *mc_new(const char *servers)
{
    memcached_st *mc = memcached_create(NULL);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    char *copy = strdup(servers), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        in_port_t port = 11211;
        if (colon) {
            *colon = '\0';
            port = (in_port_t)atoi(colon + 1);
        }
        ck_assert_int_eq(memcached_server_add(mc, tok, port), MEMCACHED_SUCCESS);
    }
    free(copy);
    return mc;
}

/* The servers named in the stack's pitchey.conf (what nginx and the pool read). */
static char *conf_servers(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sed -n 's/^servers = //p' '%s' | tail -n 1",
             it_env("PITCHEY_CONFIG"));
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_int_eq(rc, 0);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* Asks nginx and libmemcached for the server of NKEYS keys of every kind;
 * returns how many servers got keys (both sides must agree on each key). */
static int compare_ketama(const char *servers)
{
    memcached_st *mc = mc_new(servers);
    struct buf_s {
        char *data;
        size_t len, cap;
    } b = { malloc(1 << 20), 0, 1 << 20 };
    char (*keys)[200] = calloc(NKEYS, sizeof *keys);
    for (int i = 0; i < NKEYS; i++) {
        switch (i % 5) {
        case 0: snprintf(keys[i], 200, "pitchey:v1:e%d:r:pitches/%d", i % 7 + 1, i); break;
        case 1: snprintf(keys[i], 200, "pitchey:v1:t:pitch:%d", i); break;
        case 2: snprintf(keys[i], 200, "pitchey:v1:e2:r:users/%d", i * 7919); break;
        case 3:
            snprintf(keys[i], 200,
                     "pitchey:v1:e3:r:pitches?sort=new&genre=drama&owner=%d&q=&limit=%d&cursor=",
                     i, i % 100 + 1);
            break;
        default: snprintf(keys[i], 200, "other-%x-%d", (unsigned)(i * 2654435761u), i); break;
        }
        size_t n = strlen(keys[i]);
        memcpy(b.data + b.len, keys[i], n);
        b.len += n;
        b.data[b.len++] = '\n';
    }
    b.data[b.len] = '\0';
    struct it_response r;
    ck_assert_int_eq(it_request(NULL, "POST", "/pitchey-fastpath/servers", b.data, NULL, &r), 0);
    ck_assert_msg(r.status == 200, "servers: %ld", r.status);
    int used[16] = { 0 }, nused = 0;
    char *save = NULL, *line = strtok_r(r.body, "\n", &save);
    for (int i = 0; i < NKEYS; i++, line = strtok_r(NULL, "\n", &save)) {
        ck_assert_msg(line != NULL, "nginx answered %d of %d keys", i, NKEYS);
        memcached_return_t rc;
        const memcached_instance_st *s =
            memcached_server_by_key(mc, keys[i], strlen(keys[i]), &rc);
        ck_assert_msg(s != NULL, "libmemcached: no server for %s", keys[i]);
        char want[128];
        snprintf(want, sizeof want, "%s:%u", memcached_server_name(s),
                 (unsigned)memcached_server_port(s));
        ck_assert_msg(strcmp(want, line) == 0, "key %s: libmemcached %s, nginx %s", keys[i],
                      want, line);
        for (uint32_t k = 0; k < memcached_server_count(mc) && k < 16; k++) {
            const memcached_instance_st *x = memcached_server_instance_by_position(mc, k);
            if (x == s && used[k]++ == 0)
                nused++;
        }
    }
    it_response_free(&r);
    free(keys);
    free(b.data);
    memcached_free(mc);
    return nused;
}

/* ------------------------------------------------------------------ tests */

START_TEST(same_server_as_libmemcached)
{
    char *servers = conf_servers();
    int used = compare_ketama(servers);
    ck_assert_msg(used == 2, "keys spread over %d of 2 servers", used);
    free(servers);
}
END_TEST

static struct test_user owner;
static int64_t pitch_id;

static void setup_data(void)
{
    if (pitch_id)
        return;
    api_register("fastpath", "creator", &owner);
    for (int i = 0; i < 25; i++) {
        char title[64];
        snprintf(title, sizeof title, "Fast path pitch %d", i);
        pitch_id = api_create_pitch(&owner, title, i % 2 ? "drama" : "comedy", "published");
    }
}

/* GET through nginx until the fast path answers (it stands aside for a few
 * seconds after memcached trouble, which a busy machine can cause). */
static void fast_get(const char *path, const char *const *headers, struct it_response *out)
{
    double t0 = it_now();
    for (;;) {
        ck_assert_int_eq(it_request(NULL, "GET", path, NULL, headers, out), 0);
        if (served_by_nginx(out))
            return;
        if (it_now() - t0 > 15)
            ck_abort_msg("%s: not answered by the fast path; %s", path, stats());
        it_response_free(out);
        it_sleep_ms(100);
    }
}

/* Primes path through Apache (the pool) until the pool itself answers HIT,
 * then returns that answer. */
static void pool_hit(const char *path, const char *const *headers, struct it_response *out)
{
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(it_request(apache(), "GET", path, NULL, headers, out), 0);
        char *cs = it_header(out, "X-Cache-Status");
        bool hit = cs && strcmp(cs, "HIT") == 0;
        free(cs);
        if (hit)
            return;
        it_response_free(out);
        it_sleep_ms(20);
    }
    ck_abort_msg("%s: the pool never answered HIT", path);
}

START_TEST(pool_entries_served_alike)
{
    setup_data();
    char item[64], user[64], list_owner[96];
    snprintf(item, sizeof item, "/api/pitches/%lld", (long long)pitch_id);
    snprintf(user, sizeof user, "/api/users/%lld", (long long)owner.id);
    snprintf(list_owner, sizeof list_owner, "/api/pitches?owner=%lld&limit=25",
             (long long)owner.id);
    const char *paths[] = { "/api/pitches",
                            "/api/pitches?sort=popular&limit=5",
                            "/api/pitches?genre=drama&q=Fast",
                            /* a space: the key's name is hashed (BLAKE2b) */
                            "/api/pitches?q=Fast+path&sort=popular",
                            list_owner,
                            item,
                            user,
                            "/api/pitches/999999999",
                            "/api/users/999999999" };
    const char *gzip_h[] = { "Accept-Encoding: gzip", NULL };
    int gzipped = 0, not_found = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        for (int variant = 0; variant < 2; variant++) {
            const char *const *h = variant ? gzip_h : NULL;
            struct it_response pool, fast;
            pool_hit(paths[i], h, &pool);
            fast_get(paths[i], h, &fast);
            char *xc = it_header(&fast, "X-Cache-Status");
            ck_assert_str_eq(xc, "HIT");
            free(xc);
            ck_assert_int_eq(fast.status, pool.status);
            ck_assert_msg(fast.body_len == pool.body_len &&
                              memcmp(fast.body, pool.body, pool.body_len) == 0,
                          "%s: bodies differ", paths[i]);
            header_eq(&pool, &fast, "ETag", paths[i]);
            header_eq(&pool, &fast, "Cache-Control", paths[i]);
            header_eq(&pool, &fast, "Content-Encoding", paths[i]);
            header_eq(&pool, &fast, "Content-Type", paths[i]);
            header_eq(&pool, &fast, "Vary", paths[i]);
            char *rid = it_header(&fast, "X-Request-Id"), *rt = it_header(&fast, "X-Response-Time");
            ck_assert_msg(rid && rt && strstr(rt, "ms"), "%s: no request id or time", paths[i]);
            free(rid);
            free(rt);
            char *ce = it_header(&fast, "Content-Encoding");
            gzipped += ce != NULL;
            free(ce);
            not_found += fast.status == 404;

            /* 304 for the ETag of this variant, from the fast path too (a
             * 404 stays a 404: only a representation matches). */
            char *etag = it_header(&pool, "ETag");
            char inm[128];
            snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
            const char *h304[] = { inm, variant ? "Accept-Encoding: gzip" : NULL, NULL };
            struct it_response nm;
            fast_get(paths[i], h304, &nm);
            long want = pool.status == 200 ? 304 : pool.status;
            ck_assert_msg(nm.status == want, "%s: If-None-Match gave %ld", paths[i], nm.status);
            char *etag2 = it_header(&nm, "ETag");
            ck_assert_str_eq(etag2, etag);
            free(etag2);
            free(etag);
            it_response_free(&nm);
            it_response_free(&pool);
            it_response_free(&fast);
        }
    }
    /* The variants really were exercised. */
    ck_assert_msg(gzipped >= 2, "only %d gzip answers", gzipped);
    ck_assert_int_eq(not_found, 4);
}
END_TEST

START_TEST(other_requests_reach_the_pool)
{
    setup_data();
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", owner.token);
    const char *with_token[] = { auth, NULL };
    const char *with_origin[] = { "Origin: https://elsewhere.example", NULL };
    struct it_response r;
    pool_hit("/api/pitches", NULL, &r);
    it_response_free(&r);
    struct {
        const char *path;
        const char *const *headers;
        long status;
    } cases[] = {
        { "/api/pitches", with_token, 200 },
        { "/api/pitches", with_origin, 200 },
        { "/api/pitches?unknown=1", NULL, 200 },
        { "/api/pitches?limit=0", NULL, 400 },
        { "/api/pitches?limit=20&limit=20", NULL, 400 },
        { "/api/pitches?cursor=forged", NULL, 400 },
        { "/api/pitches/abc", NULL, 400 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(it_request(NULL, "GET", cases[i].path, NULL, cases[i].headers, &r), 0);
        ck_assert_msg(!served_by_nginx(&r), "%s: answered by the fast path", cases[i].path);
        ck_assert_msg(r.status == cases[i].status, "%s: %ld", cases[i].path, r.status);
        char *wv = it_header(&r, "X-Worker-Version");
        ck_assert_msg(wv != NULL, "%s: not answered by a worker", cases[i].path);
        free(wv);
        it_response_free(&r);
    }
    /* A write never passes through the fast path's cache. */
    char body[256];
    snprintf(body, sizeof body, "{\"title\":\"Renamed\",\"logline\":\"l\",\"genre\":\"drama\"}");
    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)pitch_id);
    ck_assert_int_eq(api_json("PUT", path, owner.token, body, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
    ck_assert_int_eq(it_get(path, &r), 0);
    struct json_object *o = it_json(&r);
    ck_assert_str_eq(json_str(o, "title"), "Renamed");
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

/* An entry whose version byte is not the current one is a miss for nginx and
 * for the pool alike (doc/cache-format.md). */
START_TEST(other_format_version_is_a_miss)
{
    setup_data();
    char path[64], key[200];
    snprintf(path, sizeof path, "/api/users/%lld", (long long)owner.id);
    struct it_response r;
    pool_hit(path, NULL, &r);
    it_response_free(&r);
    long long epoch = it_sql_int("SELECT epoch FROM cache_epoch WHERE id = 1");
    snprintf(key, sizeof key, "pitchey:v1:e%lld:r:users/%lld", epoch, (long long)owner.id);
    char *servers = conf_servers();
    memcached_st *mc = mc_new(servers);
    size_t len;
    uint32_t flags;
    memcached_return_t rc;
    char *v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
    ck_assert_msg(v != NULL, "no entry under %s: %s", key, memcached_strerror(mc, rc));
    ck_assert_int_eq(v[2], 1);
    v[2] = 2;
    ck_assert_int_eq(memcached_set(mc, key, strlen(key), v, len, 600, flags), MEMCACHED_SUCCESS);
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_msg(!served_by_nginx(&r), "an entry of version 2 was served");
    char *xc = it_header(&r, "X-Cache-Status");
    ck_assert_str_eq(xc, "MISS");
    free(xc);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
    free(v);
    memcached_free(mc);
    free(servers);
}
END_TEST

/* Every GET of a pitch counts one view, also when nginx answers it: the
 * counts reach Postgres through the pool within a few seconds. */
START_TEST(hits_count_views)
{
    setup_data();
    char path[64], sql[128];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)(pitch_id - 3));
    snprintf(sql, sizeof sql, "SELECT views FROM pitch_views WHERE pitch_id = %lld",
             (long long)(pitch_id - 3));
    struct it_response r;
    pool_hit(path, NULL, &r); /* counted too: wait for its flush */
    it_response_free(&r);
    it_sleep_ms(2500);
    long long before = it_sql_int(sql);
    /* Every read counts, whoever answers it; 40 of them from nginx. */
    int fast = 0, reads = 0;
    double t0 = it_now();
    while (fast < 40) {
        ck_assert_int_eq(it_get(path, &r), 0);
        ck_assert_int_eq(r.status, 200);
        fast += served_by_nginx(&r);
        reads++;
        it_response_free(&r);
        if (it_now() - t0 > 20)
            ck_abort_msg("only %d of %d answered by the fast path; %s", fast, reads, stats());
    }
    long long after = before;
    for (int i = 0; i < 100 && after < before + reads; i++) {
        it_sleep_ms(100);
        after = it_sql_int(sql);
    }
    ck_assert_msg(after == before + reads, "views went from %lld to %lld after %d reads (%d by nginx)",
                  before, after, reads, fast);
    /* HEAD counts none, from nginx or not. */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(it_request(NULL, "HEAD", path, NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        it_response_free(&r);
    }
    it_sleep_ms(2500);
    ck_assert_int_eq(it_sql_int(sql), after);
}
END_TEST

/* The pool refuses malformed reports (only the front server can send them). */
START_TEST(malformed_reports_refused)
{
    char sock[1024];
    snprintf(sock, sizeof sock, "%s/run/api.sock", it_env("PITCHEY_STACK_DIR"));
    const char *bad[] = { "views=1:", "views=x:1", "views=1:0", "views=0:5", "views=1:2;",
                          "views=1:2,,3:4", "hits=x", "", NULL };
    for (int i = 0; bad[i]; i++) {
        char views[64];
        snprintf(views, sizeof views, "PITCHEY_FASTPATH_REPORT=%s", bad[i]);
        const char *params[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/api/internal/fastpath-report",
                                 "CONTENT_LENGTH=0", views, NULL };
        char *out = fcgi_request(sock, params, NULL, 0, 5000);
        ck_assert_msg(out != NULL, "no answer for %s", bad[i]);
        ck_assert_msg(strncmp(out, "Status: 400", 11) == 0, "%s: %.40s", bad[i], out);
        free(out);
    }
    const char *good[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/api/internal/fastpath-report",
                           "CONTENT_LENGTH=0", "PITCHEY_FASTPATH_REPORT=hits=2 views=1:2,3:4",
                           NULL };
    char *out = fcgi_request(sock, good, NULL, 0, 5000);
    ck_assert_msg(out && strncmp(out, "Status: 204", 11) == 0, "good counts: %.40s",
                  out ? out : "(none)");
    free(out);
    /* A client's header of that name is an HTTP_ parameter: no effect. */
    struct it_response r;
    const char *h[] = { "PITCHEY-FASTPATH-REPORT: views=1:1000", NULL };
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, h, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

/* A bump that cannot reach every server retires the old epoch on every
 * server the worker reaches, and nginx stops answering from that epoch at
 * once (doc/cache-format.md). */
START_TEST(retired_epoch_stops_the_fast_path)
{
    setup_data();
    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)(pitch_id - 5));
    struct it_response r;
    pool_hit(path, NULL, &r);
    it_response_free(&r);
    fast_get(path, NULL, &r);
    it_response_free(&r);

    /* The marker alone, on every server: nginx stands aside. */
    long long epoch = it_sql_int("SELECT epoch FROM cache_epoch WHERE id = 1");
    char marker[96];
    snprintf(marker, sizeof marker, "pitchey:v1:epoch:%lld", epoch);
    char *servers = conf_servers();
    memcached_st *mc = mc_new(servers);
    for (uint32_t i = 0; i < memcached_server_count(mc); i++) {
        const memcached_instance_st *s = memcached_server_instance_by_position(mc, i);
        memcached_st *one = memcached_create(NULL);
        memcached_behavior_set(one, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
        memcached_server_add(one, memcached_server_name(s), memcached_server_port(s));
        ck_assert_int_eq(memcached_set(one, marker, strlen(marker), "1", 1, 30, 0),
                         MEMCACHED_SUCCESS);
        memcached_free(one);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(it_get(path, &r), 0);
        ck_assert_msg(!served_by_nginx(&r), "answered from a retired epoch");
        it_response_free(&r);
    }
    memcached_free(mc);

    /* A write while server 2 is down: the pool bumps the epoch and leaves
     * the marker of the old one on server 1. */
    epoch = it_sql_int("SELECT epoch FROM cache_epoch WHERE id = 1");
    ck_assert_int_eq(it_stack("mc-stop", "2"), 0);
    char body[128];
    snprintf(body, sizeof body, "{\"title\":\"Retired\",\"logline\":\"l\",\"genre\":\"drama\"}");
    ck_assert_int_eq(api_json("PUT", path, owner.token, body, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
    long long now = it_sql_int("SELECT epoch FROM cache_epoch WHERE id = 1");
    ck_assert_msg(now > epoch, "no epoch bump (%lld, %lld)", epoch, now);
    snprintf(marker, sizeof marker, "pitchey:v1:epoch:%lld", now - 1);
    char first[256];
    snprintf(first, sizeof first, "%s", servers);
    first[strcspn(first, ",")] = '\0';
    memcached_st *one = mc_new(first);
    size_t len;
    uint32_t flags;
    memcached_return_t rc;
    char *v = memcached_get(one, marker, strlen(marker), &len, &flags, &rc);
    ck_assert_msg(v != NULL, "no %s on server 1", marker);
    free(v);
    memcached_free(one);
    ck_assert_int_eq(it_stack("mc-start", "2"), 0);
    free(servers);
    ck_assert_int_eq(it_get(path, &r), 0);
    struct json_object *o = it_json(&r);
    ck_assert_str_eq(json_str(o, "title"), "Retired");
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

static pid_t extra_mc;

static void stop_extra(void)
{
    if (extra_mc > 0) {
        kill(extra_mc, SIGKILL);
        waitpid(extra_mc, NULL, 0);
        extra_mc = 0;
    }
}

static void reload_front_and_pool(void)
{
    const char *dir = it_env("PITCHEY_STACK_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "nginx -p '%s/nginx/' -c '%s/nginx/nginx.conf' -e '%s/logs/nginx-error.log' -s reload",
             dir, dir, dir);
    int rc;
    free(it_run(cmd, &rc));
    ck_assert_int_eq(rc, 0);
    /* SIGUSR2: each worker finishes its request and exits; multiwatch
     * starts a new one, which reads the new list. */
    char *pids = it_stack_output("worker-pids", "");
    for (char *p = strtok(pids, " \n"); p; p = strtok(NULL, " \n"))
        kill((pid_t)atoi(p), SIGUSR2);
    free(pids);
}

START_TEST(server_added_to_the_list)
{
    setup_data();
    /* A third memcached on a free port, then on both sides' list. */
    int port = 0;
    for (int i = 0; i < 20 && port == 0; i++) {
        int p = 20000 + (int)(random() % 40000);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "exec 3<>/dev/tcp/127.0.0.1/%d", p);
        int rc;
        free(it_run(cmd, &rc));
        if (rc != 0)
            port = p;
    }
    ck_assert(port != 0);
    extra_mc = fork();
    if (extra_mc == 0) {
        setsid();
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        execlp("memcached", "memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", ps, "-U", "0",
               "-m", "16", (char *)NULL);
        _exit(127);
    }
    atexit(stop_extra);
    char *before = conf_servers();
    char after[512], cmd[1400];
    snprintf(after, sizeof after, "%s,127.0.0.1:%d", before, port);
    snprintf(cmd, sizeof cmd, "sed -i 's/^servers = .*/servers = %s/' '%s'", after,
             it_env("PITCHEY_CONFIG"));
    int rc;
    free(it_run(cmd, &rc));
    ck_assert_int_eq(rc, 0);
    reload_front_and_pool();
    /* nginx's new workers have the new list once it agrees on 3 servers. */
    int used = 0;
    for (int i = 0; i < 100 && used != 3; i++) {
        it_sleep_ms(100);
        char *now = conf_servers();
        used = compare_ketama(now);
        free(now);
    }
    ck_assert_msg(used == 3, "keys spread over %d of 3 servers", used);

    /* Read-your-writes across the change, through nginx: every pitch is read
     * (cached), renamed, and must be read back renamed at once. */
    struct json_object *mine = api_call("GET", "/api/pitches?limit=25", NULL, NULL, 200);
    ck_assert(mine != NULL);
    json_object_put(mine);
    /* Earlier tests stopped a server: wait out the fast path's careful time. */
    struct it_response first;
    fast_get("/api/pitches?limit=25", NULL, &first);
    it_response_free(&first);
    int hits = 0;
    for (int round = 0; round < 3; round++) {
        for (int64_t id = pitch_id - 24; id <= pitch_id; id++) {
            char path[64], body[256], title[64];
            snprintf(path, sizeof path, "/api/pitches/%lld", (long long)id);
            struct it_response r;
            for (int k = 0; k < 3; k++) { /* MISS, then hits */
                ck_assert_int_eq(it_get(path, &r), 0);
                hits += served_by_nginx(&r);
                it_response_free(&r);
            }
            snprintf(title, sizeof title, "Round %d of %lld", round, (long long)id);
            snprintf(body, sizeof body,
                     "{\"title\":\"%s\",\"logline\":\"l\",\"genre\":\"drama\"}", title);
            ck_assert_int_eq(api_json("PUT", path, owner.token, body, NULL, &r), 0);
            ck_assert_msg(r.status == 200, "PUT %s: %ld", path, r.status);
            it_response_free(&r);
            ck_assert_int_eq(it_get(path, &r), 0);
            struct json_object *o = it_json(&r);
            ck_assert_msg(strcmp(json_str(o, "title"), title) == 0,
                          "%s: read %s after writing %s", path, json_str(o, "title"), title);
            json_object_put(o);
            it_response_free(&r);
        }
    }
    if (hits < 25)
        ck_abort_msg("only %d fast-path hits after the change; %s", hits, stats());
    free(before);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_fastpath");
    TCase *tc = tcase_create("fastpath");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_server_as_libmemcached);
    tcase_add_test(tc, pool_entries_served_alike);
    tcase_add_test(tc, other_requests_reach_the_pool);
    tcase_add_test(tc, other_format_version_is_a_miss);
    tcase_add_test(tc, hits_count_views);
    tcase_add_test(tc, malformed_reports_refused);
    tcase_add_test(tc, retired_epoch_stops_the_fast_path);
    tcase_add_test(tc, server_added_to_the_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (access("/usr/lib/nginx/modules/ngx_http_lua_module.so", F_OK) != 0 ||
        access("/usr/share/lua/5.1/nginx/memcached.lua", F_OK) != 0) {
        puts("SKIP: libnginx-mod-http-lua or lua-nginx-memcached is not installed");
        return 77;
    }
    it_stack_start(NULL, "--fastpath --workers 4");
    SRunner *sr = srunner_create(suite());
    /* One process: the tests share the data and the added server. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    stop_extra();
    it_stack_stop();
    return failed ? 1 : 0;
}
