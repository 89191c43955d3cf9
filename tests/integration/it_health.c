/* Integration: GET /api/health, the headers of every /api answer, 404/405,
 * both front servers, and the pool surviving dependency faults and a
 * killed worker. */
#include "pitchey-build.h"

#include <ctype.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void assert_matches(const char *value, const char *pattern, const char *what)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(value && regexec(&re, value, 0, NULL, 0) == 0, "%s '%s' !~ %s", what,
                  value ? value : "(none)", pattern);
    regfree(&re);
}

static void assert_common_headers(const struct it_response *r)
{
    char *h = it_header(r, "X-Request-Id");
    assert_matches(h, "^[A-Za-z0-9._-]{1,64}$", "X-Request-Id");
    free(h);
    h = it_header(r, "X-Response-Time");
    assert_matches(h, "^[0-9]+\\.[0-9]{3}ms$", "X-Response-Time");
    free(h);
    h = it_header(r, "X-Database-Time");
    assert_matches(h, "^[0-9]+\\.[0-9]{3}ms$", "X-Database-Time");
    free(h);
    h = it_header(r, "X-Worker-Version");
    ck_assert_str_eq(h, PACKAGE_VERSION);
    free(h);
}

static char last_health[1024];

static const char *health_status(const char *base, long *http)
{
    static char status[32];
    struct it_response r;
    status[0] = '\0';
    *http = 0;
    if (it_request(base, "GET", "/api/health", NULL, NULL, &r) == 0) {
        *http = r.status;
        snprintf(last_health, sizeof last_health, "%ld %s", r.status, r.body);
        struct json_object *o = it_json(&r);
        struct json_object *s = it_path(o, "status");
        snprintf(status, sizeof status, "%s", s ? json_object_get_string(s) : "");
        json_object_put(o);
    }
    it_response_free(&r);
    return status;
}

/* Polls health until it reports want; returns seconds taken or -1. */
static double wait_health(const char *want, double limit_s)
{
    double t0 = it_now();
    while (it_now() - t0 < limit_s) {
        long http;
        if (strcmp(health_status(NULL, &http), want) == 0)
            return it_now() - t0;
        it_sleep_ms(50);
    }
    return -1;
}

START_TEST(health_ok_shape_and_headers)
{
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    assert_common_headers(&r);
    char *h = it_header(&r, "Content-Type");
    ck_assert_str_eq(h, "application/json; charset=utf-8");
    free(h);
    h = it_header(&r, "Cache-Control");
    ck_assert_str_eq(h, "no-store");
    free(h);
    h = it_header(&r, "X-Cache-Status");
    ck_assert_ptr_null(h);
    struct json_object *o = it_json(&r);
    ck_assert_str_eq(json_object_get_string(it_path(o, "status")), "ok");
    ck_assert_str_eq(json_object_get_string(it_path(o, "version")), PACKAGE_VERSION);
    ck_assert_str_eq(json_object_get_string(it_path(o, "checks.database.status")), "ok");
    struct json_object *lat = it_path(o, "checks.database.latency_ms");
    ck_assert(lat && (json_object_is_type(lat, json_type_double) ||
                      json_object_is_type(lat, json_type_int)));
    ck_assert_str_eq(json_object_get_string(it_path(o, "checks.cache.status")), "ok");
    ck_assert(json_object_get_int64(it_path(o, "worker.pid")) > 1);
    ck_assert(json_object_get_int64(it_path(o, "worker.requests")) >= 1);
    ck_assert(json_object_is_type(it_path(o, "worker.uptime_s"), json_type_int));
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

START_TEST(request_id_echoed_or_replaced)
{
    struct it_response r;
    const char *good[] = { "X-Request-Id: trace-123.abc_DEF", NULL };
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, good, &r), 0);
    char *h = it_header(&r, "X-Request-Id");
    ck_assert_str_eq(h, "trace-123.abc_DEF");
    free(h);
    it_response_free(&r);
    const char *bad[] = { "X-Request-Id: has spaces and !", NULL };
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, bad, &r), 0);
    h = it_header(&r, "X-Request-Id");
    ck_assert_str_ne(h, "has spaces and !");
    assert_matches(h, "^[A-Za-z0-9._-]{1,64}$", "X-Request-Id");
    free(h);
    it_response_free(&r);
}
END_TEST

START_TEST(head_has_headers_no_body)
{
    struct it_response r;
    ck_assert_int_eq(it_request(NULL, "HEAD", "/api/health", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    assert_common_headers(&r);
    char *h = it_header(&r, "Content-Type");
    ck_assert_str_eq(h, "application/json; charset=utf-8");
    free(h);
    it_response_free(&r);
}
END_TEST

START_TEST(unknown_route_and_wrong_method)
{
    struct it_response r;
    ck_assert_int_eq(it_get("/api/no/such/thing", &r), 0);
    it_assert_error(&r, 404, "not_found");
    assert_common_headers(&r);
    it_response_free(&r);

    ck_assert_int_eq(it_request(NULL, "POST", "/api/health", "{}",
                                (const char *[]){ "Content-Type: application/json", NULL }, &r),
                     0);
    it_assert_error(&r, 405, "method_not_allowed");
    char *allow = it_header(&r, "Allow");
    ck_assert_str_eq(allow, "GET, HEAD, OPTIONS");
    free(allow);
    it_response_free(&r);

    ck_assert_int_eq(it_request(NULL, "PATCH", "/api/health", NULL, NULL, &r), 0);
    it_assert_error(&r, 405, "method_not_allowed");
    it_response_free(&r);
}
END_TEST

START_TEST(through_apache_too)
{
    const char *apache = getenv("PITCHEY_TEST_APACHE_URL");
    if (apache == NULL || *apache == '\0')
        return; /* a running stack without Apache */
    struct it_response r;
    ck_assert_int_eq(it_request(apache, "GET", "/api/health", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    assert_common_headers(&r);
    it_response_free(&r);
    ck_assert_int_eq(it_request(apache, "GET", "/api/nothing", NULL, NULL, &r), 0);
    it_assert_error(&r, 404, "not_found");
    it_response_free(&r);
}
END_TEST

START_TEST(memcached_down_is_degraded)
{
    if (!it_stack_is_private())
        return;
    ck_assert_int_eq(it_stack("mc-stop", "1"), 0);
    ck_assert_int_eq(it_stack("mc-stop", "2"), 0);
    ck_assert_msg(wait_health("degraded", 10) >= 0, "health never said degraded: %s", last_health);
    long http;
    health_status(NULL, &http);
    ck_assert_int_eq(http, 200);
    ck_assert_int_eq(it_stack("mc-start", "1"), 0);
    ck_assert_int_eq(it_stack("mc-start", "2"), 0);
    ck_assert_msg(wait_health("ok", 20) >= 0, "health never came back to ok: %s", last_health);
}
END_TEST

START_TEST(postgres_stopped_is_503_then_recovers)
{
    if (!it_stack_is_private())
        return;
    ck_assert_int_eq(it_stack("pg-stop", NULL), 0);
    double t0 = it_now();
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(r.seconds < 2.0, "503 took %.2fs", r.seconds);
    struct json_object *o = it_json(&r);
    ck_assert_str_eq(json_object_get_string(it_path(o, "status")), "down");
    ck_assert_str_eq(json_object_get_string(it_path(o, "checks.database.status")), "down");
    json_object_put(o);
    char *ra = it_header(&r, "Retry-After");
    ck_assert_ptr_nonnull(ra);
    ck_assert_int_ge(atoi(ra), 1);
    free(ra);
    assert_common_headers(&r);
    it_response_free(&r);
    /* Every worker answers 503 quickly, none hangs. */
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(it_get("/api/health", &r), 0);
        ck_assert_int_eq(r.status, 503);
        ck_assert_msg(r.seconds < 2.0, "503 took %.2fs", r.seconds);
        it_response_free(&r);
    }
    (void)t0;
    ck_assert_int_eq(it_stack("pg-start", NULL), 0);
    double took = wait_health("ok", 10);
    ck_assert_msg(took >= 0, "health did not recover: %s", last_health);
    /* Every worker recovers within its breaker cooldown (1 s by default)
     * once it gets a request: after a margin, a run of answers all ok. */
    it_sleep_ms(1500);
    for (int i = 0; i < 16; i++) {
        long http;
        ck_assert_str_eq(health_status(NULL, &http), "ok");
    }
    fprintf(stderr, "postgres back: first ok after %.3fs\n", took);
}
END_TEST

START_TEST(postgres_hung_answers_503_without_hanging)
{
    if (!it_stack_is_private())
        return;
    ck_assert_int_eq(it_stack("pg-hang", NULL), 0);
    /* A worker may answer from checks made up to 100 ms before the hang
     * (a hung server sends nothing that would say so). */
    it_sleep_ms(150);
    struct it_response r;
    double worst = 0;
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(it_get("/api/health", &r), 0);
        ck_assert_int_eq(r.status, 503);
        if (r.seconds > worst)
            worst = r.seconds;
        it_response_free(&r);
    }
    ck_assert_int_eq(it_stack("pg-resume", NULL), 0);
    /* connect_timeout_ms is 1000 in the stack; a statement waits at most
     * statement_timeout + 1 s: a hang would be the test's 60 s curl limit. */
    ck_assert_msg(worst < 8.0, "slowest 503 took %.2fs", worst);
    ck_assert_msg(wait_health("ok", 15) >= 0, "health did not recover after resume: %s", last_health);
}
END_TEST

static int count_pids(const char *list)
{
    int n = 0;
    for (const char *p = list; *p; p++)
        if (isdigit((unsigned char)*p) && (p == list || !isdigit((unsigned char)p[-1])))
            n++;
    return n;
}

static bool pid_in_list(const char *list, int pid)
{
    const char *p = list;
    while (*p) {
        while (*p && !isdigit((unsigned char)*p))
            p++;
        if (*p && atoi(p) == pid)
            return true;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return false;
}

START_TEST(killed_worker_is_respawned)
{
    if (!it_stack_is_private())
        return;
    char *pids = it_stack_output("worker-pids", NULL);
    int before = count_pids(pids);
    ck_assert_int_ge(before, 2);
    int victim = atoi(pids);
    free(pids);
    /* Requests in a child while the parent kills a worker. */
    pid_t child = fork();
    if (child == 0) {
        int failures = 0;
        for (int i = 0; i < 200; i++) {
            struct it_response r;
            if (it_get("/api/health", &r) != 0 || r.status != 200)
                failures++;
            it_response_free(&r);
        }
        _exit(failures > 2 ? 1 : 0);
    }
    it_sleep_ms(100);
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    int status;
    waitpid(child, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "more than the in-flight request failed");
    double t0 = it_now();
    int after = 0;
    while (it_now() - t0 < 10) {
        pids = it_stack_output("worker-pids", NULL);
        after = count_pids(pids);
        bool victim_gone = !pid_in_list(pids, victim);
        free(pids);
        if (after == before && victim_gone)
            break;
        it_sleep_ms(100);
    }
    ck_assert_int_eq(after, before);
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(idle_connections_close_and_reopen)
{
    if (!it_stack_is_private())
        return;
    const char *count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pitchey-api'";
    struct it_response r;
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(it_get("/api/health", &r), 0);
        it_response_free(&r);
    }
    ck_assert_int_ge(it_sql_int(count), 1);
    /* idle_timeout is 2 s in this suite; housekeeping runs with no traffic. */
    double t0 = it_now();
    while (it_sql_int(count) != 0)
        ck_assert_msg(it_now() - t0 < 10, "connections still open after %.1fs", it_now() - t0);
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(bad_config_stops_startup_with_line_and_reason)
{
    char path[] = "/tmp/pitchey-badconf.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "[database]\nurl = postgresql:///x\n\n[cache]\nttl = -5\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' --check-config 2>&1", it_env("PITCHEY_API"), path);
    int rc;
    char *out = it_run(cmd, &rc);
    unlink(path);
    ck_assert_msg(rc == 1, "exit %d", rc);
    char want[256];
    snprintf(want, sizeof want, "%s:5: [cache] ttl: out of range", path);
    ck_assert_msg(strstr(out, want) != NULL, "got: %s", out);
    free(out);
}
END_TEST

START_TEST(sigterm_finishes_the_request_in_flight)
{
    if (!it_stack_is_private())
        return;
    /* A registration hashes a password for a while (slow argon2 in this
     * suite): TERM every worker in the middle of it. */
    pid_t child = fork();
    if (child == 0) {
        struct it_response r;
        const char *h[] = { "Content-Type: application/json", NULL };
        char body[256];
        snprintf(body, sizeof body,
                 "{\"email\":\"graceful-%d@example.com\",\"password\":\"12345678\","
                 "\"name\":\"G\",\"role\":\"creator\"}",
                 (int)getpid());
        int rc = it_request(NULL, "POST", "/api/auth/register", body, h, &r);
        _exit(rc == 0 && r.status == 201 ? 0 : 1);
    }
    it_sleep_ms(40);
    char *pids = it_stack_output("worker-pids", NULL);
    for (char *p = pids; *p;) {
        int pid = atoi(p);
        if (pid > 1)
            kill(pid, SIGTERM);
        p += strcspn(p, "\n");
        if (*p)
            p++;
    }
    free(pids);
    int status;
    waitpid(child, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the request in flight did not complete with 201");
    /* multiwatch starts new workers; the service answers again. */
    double t0 = it_now();
    struct it_response r;
    for (;;) {
        ck_assert_int_eq(it_get("/api/health", &r), 0);
        long st = r.status;
        it_response_free(&r);
        if (st == 200)
            break;
        ck_assert_msg(it_now() - t0 < 10, "no worker answered after TERM");
        it_sleep_ms(100);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_health");
    TCase *tc = tcase_create("health");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, health_ok_shape_and_headers);
    tcase_add_test(tc, request_id_echoed_or_replaced);
    tcase_add_test(tc, head_has_headers_no_body);
    tcase_add_test(tc, unknown_route_and_wrong_method);
    tcase_add_test(tc, through_apache_too);
    tcase_add_test(tc, killed_worker_is_respawned);
    tcase_add_test(tc, idle_connections_close_and_reopen);
    tcase_add_test(tc, bad_config_stops_startup_with_line_and_reason);
    tcase_add_test(tc, sigterm_finishes_the_request_in_flight);
    tcase_add_test(tc, memcached_down_is_degraded);
    tcase_add_test(tc, postgres_stopped_is_503_then_recovers);
    tcase_add_test(tc, postgres_hung_answers_503_without_hanging);
    suite_add_tcase(s, tc);
    return s;
}

IT_MAIN(suite,
        "[database]\nidle_timeout = 2\n"
        "[auth]\nhash_opslimit = 4\nhash_memlimit = 134217728\n",
        NULL)
