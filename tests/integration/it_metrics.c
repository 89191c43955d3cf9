/* Integration: GET /api/metrics for the whole pool: exact counts across
 * workers, answered alike by any worker, totals that survive a SIGKILLed
 * worker, the access rule (allow, trusted proxies, the rooms daemon's
 * /metrics), the format parameter, the strict parsers (promtool and
 * python3-prometheus-client), Cache-Status, /api/health's pool, and the
 * dashboard drawn by headless Chromium while traffic runs. */
#include "pitchey-build.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WORKERS 4

/* 127.0.0.1 only (so 127.0.0.2 is refused), plus one address that only
 * a trusted proxy (127.0.0.4) can vouch for. */
static const char extra_conf[] = "[metrics]\n"
                                 "allow = 127.0.0.1/32, ::1, 10.1.2.3\n"
                                 "trusted_proxies = 127.0.0.4\n";

static struct json_object *metrics_json(void)
{
    struct it_response r;
    ck_assert_int_eq(it_get("/api/metrics?format=json", &r), 0);
    ck_assert_msg(r.status == 200, "metrics: %ld %s", r.status, r.body);
    struct json_object *o = it_json(&r);
    it_response_free(&r);
    return o;
}

static struct json_object *route_of(struct json_object *m, const char *route)
{
    struct json_object *routes = it_path(m, "routes");
    for (size_t i = 0; routes && i < json_object_array_length(routes); i++) {
        struct json_object *r = json_object_array_get_idx(routes, i);
        if (strcmp(json_object_get_string(it_path(r, "route")), route) == 0)
            return r;
    }
    ck_abort_msg("no route %s in the metrics", route);
    return NULL;
}

static long long health_2xx(struct json_object *m)
{
    return json_object_get_int64(it_path(route_of(m, "/api/health"), "by_class.2xx"));
}

static long long num(struct json_object *m, const char *path)
{
    struct json_object *v = it_path(m, path);
    ck_assert_msg(v != NULL, "no %s", path);
    return json_object_get_int64(v);
}

/* curl from a chosen loopback source address; returns the HTTP status. */
static int curl_status(const char *from, const char *url, const char *header)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -m 10 -w '%%{http_code}' --interface %s %s%s%s '%s'",
             from, header ? "-H '" : "", header ? header : "", header ? "'" : "", url);
    int rc;
    char *out = it_run(cmd, &rc);
    int status = out ? atoi(out) : 0;
    free(out);
    ck_assert_msg(rc == 0, "curl failed: %s", cmd);
    return status;
}

/* Waits until every worker is back (multiwatch respawns killed ones). */
static void wait_pool_alive(void)
{
    double t0 = it_now();
    for (;;) {
        struct json_object *m = metrics_json();
        long long alive = num(m, "workers.alive");
        json_object_put(m);
        if (alive == WORKERS)
            return;
        ck_assert_msg(it_now() - t0 < 30, "only %lld of %d workers alive", alive, WORKERS);
        it_sleep_ms(100);
    }
}

START_TEST(counts_exactly_n_over_several_workers_from_any_worker)
{
    wait_pool_alive();
    struct json_object *m = metrics_json();
    long long before = health_2xx(m);
    json_object_put(m);

    /* Concurrent clients, so requests land on several workers. */
    enum { N = 240 };
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "seq %d | xargs -P 8 -I{} curl -s -o /dev/null -w '%%{http_code}\\n' "
             "'%s/api/health' | grep -c '^200$'", N, it_env("PITCHEY_TEST_URL"));
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_int_eq(atoi(out), N);
    free(out);

    /* Ask many times, concurrently too, so different workers answer; each
     * answer is the pool's, so each says exactly before + N. */
    char dir[] = "/tmp/pitchey-it-metrics.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "seq 24 | xargs -P 6 -I{} curl -s -o '%s/m{}.json' '%s/api/metrics?format=json'",
             dir, it_env("PITCHEY_TEST_URL"));
    free(it_run(cmd, &rc));
    ck_assert_int_eq(rc, 0);
    bool answered_by[256] = { false };
    int answering = 0, slots_with_health = 0;
    for (int i = 1; i <= 24; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/m%d.json", dir, i);
        struct json_object *o = json_object_from_file(path);
        ck_assert_msg(o != NULL, "%s is not JSON", path);
        ck_assert_int_eq(health_2xx(o), before + N);
        struct json_object *slots = it_path(o, "workers.slots");
        for (size_t s = 0; s < json_object_array_length(slots); s++) {
            struct json_object *w = json_object_array_get_idx(slots, s);
            if (json_object_get_boolean(it_path(w, "busy")) && s < 256 && !answered_by[s]) {
                answered_by[s] = true;
                answering++;
            }
        }
        if (i == 24)
            for (size_t s = 0; s < json_object_array_length(slots); s++)
                slots_with_health += json_object_get_int64(it_path(
                                         json_object_array_get_idx(slots, s), "requests")) > 1;
        json_object_put(o);
        unlink(path);
    }
    rmdir(dir);
    ck_assert_msg(answering >= 2, "only %d worker(s) answered /api/metrics", answering);
    ck_assert_msg(slots_with_health >= 2, "the requests went to %d worker(s)", slots_with_health);
}
END_TEST

START_TEST(totals_survive_a_killed_worker)
{
    wait_pool_alive();
    struct json_object *m = metrics_json();
    long long health = health_2xx(m);
    long long restarts = num(m, "workers.restarts");
    long long requests = num(m, "requests");
    /* The busiest live worker: its totals are what must not be lost. */
    struct json_object *slots = it_path(m, "workers.slots");
    long long victim = 0, victim_requests = -1;
    for (size_t s = 0; s < json_object_array_length(slots); s++) {
        struct json_object *w = json_object_array_get_idx(slots, s);
        if (json_object_get_boolean(it_path(w, "alive")) &&
            num(w, "requests") > victim_requests) {
            victim = num(w, "pid");
            victim_requests = num(w, "requests");
        }
    }
    json_object_put(m);
    ck_assert_int_gt(victim, 1);
    ck_assert_int_gt(victim_requests, 0);
    ck_assert_int_eq(kill((pid_t)victim, SIGKILL), 0);
    double t0 = it_now();
    while (kill((pid_t)victim, 0) == 0) { /* gone (multiwatch reaps it) */
        ck_assert_msg(it_now() - t0 < 10, "worker %lld did not die", victim);
        it_sleep_ms(20);
    }
    wait_pool_alive();
    m = metrics_json();
    ck_assert_int_eq(health_2xx(m), health);            /* not one lost */
    ck_assert_int_ge(num(m, "requests"), requests);
    ck_assert_int_ge(num(m, "workers.restarts"), restarts + 1);
    slots = it_path(m, "workers.slots");
    for (size_t s = 0; s < json_object_array_length(slots); s++)
        ck_assert_int_ne(num(json_object_array_get_idx(slots, s), "pid"), victim);
    json_object_put(m);
}
END_TEST

START_TEST(access_follows_allow_and_trusted_proxies)
{
    char url[512];
    snprintf(url, sizeof url, "%s/api/metrics", it_env("PITCHEY_TEST_URL"));
    ck_assert_int_eq(curl_status("127.0.0.1", url, NULL), 200);
    ck_assert_int_eq(curl_status("127.0.0.2", url, NULL), 403);
    /* The header is not believed from an untrusted peer ... */
    ck_assert_int_eq(curl_status("127.0.0.2", url, "X-Forwarded-For: 127.0.0.1"), 403);
    ck_assert_int_eq(curl_status("127.0.0.2", url, "X-Forwarded-For: 10.1.2.3"), 403);
    ck_assert_int_eq(curl_status("127.0.0.1", url, "X-Forwarded-For: 192.0.2.1"), 200);
    /* ... and is from a trusted one, both ways. */
    ck_assert_int_eq(curl_status("127.0.0.4", url, NULL), 403);
    ck_assert_int_eq(curl_status("127.0.0.4", url, "X-Forwarded-For: 10.1.2.3"), 200);
    ck_assert_int_eq(curl_status("127.0.0.4", url, "X-Forwarded-For: 10.1.2.3, 192.0.2.1"), 403);

    /* The 403 is the contract's error. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "curl -s --interface 127.0.0.2 '%s'", url);
    int rc;
    char *body = it_run(cmd, &rc);
    ck_assert_ptr_nonnull(strstr(body, "\"code\":\"forbidden\""));
    free(body);

    const char *rooms = it_env("PITCHEY_ROOMS_URL");
    if (*rooms) {
        snprintf(url, sizeof url, "%s/metrics", rooms);
        ck_assert_int_eq(curl_status("127.0.0.1", url, NULL), 200);
        ck_assert_int_eq(curl_status("127.0.0.2", url, NULL), 403);
    }
}
END_TEST

START_TEST(format_parameter)
{
    struct it_response r;
    ck_assert_int_eq(it_get("/api/metrics", &r), 0);
    ck_assert_int_eq(r.status, 200);
    char *h = it_header(&r, "Content-Type");
    ck_assert_str_eq(h, "text/plain; version=0.0.4; charset=utf-8");
    free(h);
    h = it_header(&r, "Cache-Control");
    ck_assert_str_eq(h, "no-store");
    free(h);
    ck_assert_ptr_null(it_header(&r, "X-Cache-Status"));
    ck_assert_ptr_nonnull(strstr(r.body, "\npitchey_workers_alive 4\n"));
    it_response_free(&r);

    ck_assert_int_eq(it_get("/api/metrics?format=prometheus", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE pitchey_http_requests_total counter"));
    it_response_free(&r);

    ck_assert_int_eq(it_get("/api/metrics?format=json", &r), 0);
    h = it_header(&r, "Content-Type");
    ck_assert_str_eq(h, "application/json; charset=utf-8");
    free(h);
    struct json_object *o = it_json(&r);
    ck_assert(json_object_is_type(it_path(route_of(o, "/api/health"), "p99"), json_type_double));
    ck_assert(json_object_get_boolean(it_path(o, "rooms.up")) == (*it_env("PITCHEY_ROOMS_URL") != 0));
    json_object_put(o);
    it_response_free(&r);

    const char *bad[] = { "/api/metrics?format=xml", "/api/metrics?format=",
                          "/api/metrics?format=json&format=json", "/api/metrics?format=JSON" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(it_get(bad[i], &r), 0);
        it_assert_error(&r, 400, "invalid_parameter");
        it_response_free(&r);
    }
    ck_assert_int_eq(it_request(NULL, "POST", "/api/metrics", "{}", NULL, &r), 0);
    ck_assert_int_eq(r.status, 405);
    it_response_free(&r);
}
END_TEST

static char *save_metrics_text(void)
{
    static char path[] = "/tmp/pitchey-it-metrics-text.XXXXXX";
    strcpy(path, "/tmp/pitchey-it-metrics-text.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    struct it_response r;
    ck_assert_int_eq(it_get("/api/metrics", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(write(fd, r.body, r.body_len), (ssize_t)r.body_len);
    close(fd);
    it_response_free(&r);
    return path;
}

START_TEST(promtool_accepts_it)
{
    ck_assert_msg(access("/usr/bin/promtool", X_OK) == 0,
                  "promtool missing: apt-get install prometheus (deploy/local installs it)");
    char *path = save_metrics_text();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1", path);
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_msg(rc == 0, "promtool check metrics: %s", out);
    free(out);
    /* The check is not vacuous: promtool rejects a broken exposition. */
    snprintf(cmd, sizeof cmd, "sed 's/^pitchey_workers_alive .*/pitchey_workers_alive{ 4/' '%s' | "
                              "promtool check metrics 2>&1", path);
    out = it_run(cmd, &rc);
    ck_assert_msg(rc != 0, "promtool accepted a broken line: %s", out);
    free(out);
    unlink(path);
}
END_TEST

START_TEST(python_prometheus_client_parses_it)
{
    int rc;
    free(it_run("/usr/bin/python3 -c 'import prometheus_client.parser' 2>&1", &rc));
    ck_assert_msg(rc == 0, "python3-prometheus-client missing (deploy/local installs it)");
    char *path = save_metrics_text();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import sys\n"
             "from prometheus_client.parser import text_string_to_metric_families\n"
             "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
             "h = fams[\"pitchey_http_request_duration_seconds\"]\n"
             "assert h.type == \"histogram\", h.type\n"
             "inf = [s for s in h.samples if s.name.endswith(\"_bucket\") and s.labels[\"le\"] == \"+Inf\" and s.labels[\"route\"] == \"/api/health\"]\n"
             "cnt = [s for s in h.samples if s.name.endswith(\"_count\") and s.labels[\"route\"] == \"/api/health\"]\n"
             "assert inf[0].value == cnt[0].value > 0, (inf, cnt)\n"
             "assert fams[\"pitchey_http_requests\"].type == \"counter\"\n"
             "assert fams[\"pitchey_workers_alive\"].samples[0].value == %d\n"
             "print(len(fams))\n' '%s' 2>&1",
             WORKERS, path);
    char *out = it_run(cmd, &rc);
    ck_assert_msg(rc == 0, "python parser: %s", out);
    ck_assert_int_gt(atoi(out), 20);
    free(out);
    unlink(path);
}
END_TEST

static const char *rfc9211_of(const char *x)
{
    if (strcmp(x, "HIT") == 0)
        return "pitchey; hit";
    if (strcmp(x, "STALE") == 0)
        return "pitchey; fwd=stale";
    if (strcmp(x, "MISS") == 0)
        return "pitchey; fwd=miss";
    return "pitchey; fwd=bypass";
}

START_TEST(cache_status_beside_x_cache_status)
{
    /* A path nobody asked before: the first answer goes to Postgres (MISS,
     * or BYPASS while a loaded machine times memcached out), then hits.
     * Every answer's Cache-Status must say what its X-Cache-Status says. */
    char path[128];
    snprintf(path, sizeof path, "/api/pitches?limit=3&sort=new&genre=drama&q=cs%d", (int)getpid());
    bool first = true, hit = false;
    for (int i = 0; i < 40 && !hit; i++) {
        struct it_response r;
        ck_assert_int_eq(it_get(path, &r), 0);
        ck_assert_int_eq(r.status, 200);
        char *x = it_header(&r, "X-Cache-Status"), *c = it_header(&r, "Cache-Status");
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c, rfc9211_of(x));
        if (first)
            ck_assert_str_ne(x, "HIT");
        first = false;
        hit = strcmp(x, "HIT") == 0;
        free(x);
        free(c);
        it_response_free(&r);
        if (!hit)
            it_sleep_ms(50);
    }
    ck_assert_msg(hit, "no HIT in 40 tries");
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_ptr_null(it_header(&r, "Cache-Status"));
    it_response_free(&r);
}
END_TEST

START_TEST(health_reports_the_pool)
{
    wait_pool_alive();
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    struct json_object *o = it_json(&r);
    ck_assert_int_eq(num(o, "pool.alive"), WORKERS);
    ck_assert_int_ge(num(o, "pool.busy"), 1); /* the worker answering */
    ck_assert_int_le(num(o, "pool.busy"), WORKERS);
    ck_assert_int_gt(num(o, "worker.pid"), 1);
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

START_TEST(pitcheyctl_top_once_reads_the_segment)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' top --once 2>&1", it_env("PITCHEYCTL"),
             it_env("PITCHEY_CONFIG"));
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_msg(rc == 0, "top --once: %s", out);
    ck_assert_msg(strstr(out, "workers 4 alive") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\n/api/health ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\033[") == NULL, "escapes in --once output");
    free(out);
    /* Without a segment it says so and fails. */
    snprintf(cmd, sizeof cmd,
             "printf '[api]\\nruntime_dir = /nonexistent\\n' > /tmp/pitchey-it-top.conf && "
             "'%s' --config /tmp/pitchey-it-top.conf top --once 2>&1; echo \" rc=$?\"; "
             "rm -f /tmp/pitchey-it-top.conf", it_env("PITCHEYCTL"));
    out = it_run(cmd, &rc);
    ck_assert_msg(strstr(out, "/nonexistent/metrics.shm") && strstr(out, " rc=1"), "%s", out);
    free(out);
}
END_TEST

/* Loads a page in headless Chromium for budget_ms of virtual time and
 * returns its DOM (malloc'd); saves a screenshot when png is not NULL. */
static char *chromium_dom(const char *url, int budget_ms, const char *png)
{
    ck_assert_msg(access("/usr/bin/chromium", X_OK) == 0,
                  "chromium missing: apt-get install chromium (deploy/local installs it)");
    char profile[] = "/tmp/pitchey-it-chromium.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(profile));
    char shot[1200] = "";
    if (png)
        snprintf(shot, sizeof shot, "--screenshot='%s' ", png);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic "
             "--disable-dev-shm-usage --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync --user-data-dir='%s' "
             "--window-size=1280,1400 --virtual-time-budget=%d --dump-dom %s'%s' 2>/dev/null; "
             "rm -rf '%s'",
             profile, budget_ms, shot, url, profile);
    int rc;
    char *dom = it_run(cmd, &rc);
    ck_assert_msg(dom && strstr(dom, "</html>"), "chromium gave no DOM (rc %d)", rc);
    return dom;
}

/* The value of attribute attr on the element carrying data-chart="name". */
static double chart_attr(const char *dom, const char *name, const char *attr)
{
    char key[128];
    snprintf(key, sizeof key, "data-chart=\"%s\"", name);
    const char *el = strstr(dom, key);
    ck_assert_msg(el != NULL, "no chart %s", name);
    const char *end = strchr(el, '>');
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(el, key);
    ck_assert_msg(a && a < end, "chart %s has no %s: it never drew", name, attr);
    return atof(a + strlen(key));
}

static pid_t traffic(const char *path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Dies with the test, even when an assertion ends it early. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        double t0 = it_now();
        while (it_now() - t0 < 120) {
            struct it_response r;
            if (it_get(path, &r) == 0)
                it_response_free(&r);
            it_sleep_ms(5); /* steady, not saturating: Chromium needs the cores too */
        }
        _exit(0);
    }
    return pid;
}

START_TEST(dashboard_draws_every_chart_while_traffic_runs)
{
    /* Traffic that hits the cache and traffic that reaches Postgres. */
    pid_t load[3] = { traffic("/api/pitches"), traffic("/api/pitches?limit=5"),
                      traffic("/api/health") };
    char url[512], png[1024];
    snprintf(url, sizeof url, "%s/dashboard/", it_env("PITCHEY_TEST_URL"));
    snprintf(png, sizeof png, "%s/tests/integration/it_metrics-dashboard.png",
             *it_env("BUILDDIR") ? it_env("BUILDDIR") : ".");
    unlink(png);
    /* Three polls: the first is the baseline, the next two draw rates. */
    char *dom = chromium_dom(url, 6000, png);
    for (size_t i = 0; i < 3; i++) {
        kill(load[i], SIGKILL);
        waitpid(load[i], NULL, 0);
    }
    static const char *const names[] = { "requests", "latency", "cache", "postgres",
                                         "errors", "workers", "rooms" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ck_assert_msg(chart_attr(dom, names[i], "data-drawn") >= 1, "%s not drawn", names[i]);
        ck_assert_msg(chart_attr(dom, names[i], "data-values") >= 2, "%s drew no data",
                      names[i]);
    }
    ck_assert(chart_attr(dom, "requests", "data-max") > 0);
    ck_assert(chart_attr(dom, "latency", "data-max") > 0);
    ck_assert(chart_attr(dom, "postgres", "data-max") > 0);
    ck_assert(chart_attr(dom, "workers", "data-max") == WORKERS);
    ck_assert_msg(strstr(dom, "class=\"status ok\"") != NULL, "status not live");
    free(dom);
    /* The screenshot is the test's artefact. */
    struct stat st;
    ck_assert_msg(stat(png, &st) == 0 && st.st_size > 10000, "no screenshot at %s", png);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = { 0 };
    ck_assert_uint_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    ck_assert(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
    fprintf(stderr, "it_metrics: dashboard screenshot: %s\n", png);
}
END_TEST

START_TEST(dashboard_says_when_the_service_cannot_be_reached)
{
    /* The page from disk: its /api/metrics leads nowhere. */
    char url[1200];
    snprintf(url, sizeof url, "file://%s/dashboard/index.html", it_env("SRCDIR"));
    char *dom = chromium_dom(url, 3000, NULL);
    ck_assert_msg(strstr(dom, "class=\"status down\"") != NULL, "no failure shown");
    ck_assert(strstr(dom, "cannot reach the service") != NULL);
    free(dom);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, counts_exactly_n_over_several_workers_from_any_worker);
    tcase_add_test(tc, totals_survive_a_killed_worker);
    tcase_add_test(tc, access_follows_allow_and_trusted_proxies);
    tcase_add_test(tc, format_parameter);
    tcase_add_test(tc, promtool_accepts_it);
    tcase_add_test(tc, python_prometheus_client_parses_it);
    tcase_add_test(tc, cache_status_beside_x_cache_status);
    tcase_add_test(tc, health_reports_the_pool);
    tcase_add_test(tc, pitcheyctl_top_once_reads_the_segment);
    tcase_add_test(tc, dashboard_draws_every_chart_while_traffic_runs);
    tcase_add_test(tc, dashboard_says_when_the_service_cannot_be_reached);
    suite_add_tcase(s, tc);
    return s;
}

IT_MAIN(suite, extra_conf, "--workers 4 --no-apache")
