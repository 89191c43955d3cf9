/* Integration: the connection manager under Postgres faults (restart,
 * stop, hang) and the hashing limit under a burst of logins. */
#include "pitchey-build.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"

static struct test_user user;
static int64_t pitch_id;

static void setup_once(void)
{
    if (user.id)
        return;
    api_register("faults", "creator", &user);
    pitch_id = api_create_pitch(&user, "Fault Tolerant", "drama", "published");
}

/* users/me is never cached: every answer needs Postgres. */
static long me(double *seconds, char **retry_after)
{
    struct it_response r;
    ck_assert_int_eq(api_json("GET", "/api/users/me", user.token, NULL, NULL, &r), 0);
    long st = r.status;
    if (seconds)
        *seconds = r.seconds;
    if (retry_after)
        *retry_after = it_header(&r, "Retry-After");
    if (st == 503)
        it_assert_error(&r, 503, "unavailable");
    it_response_free(&r);
    return st;
}

static int count_in_log(const char *needle)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/logs/api.log", it_env("PITCHEY_STACK_DIR"));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

START_TEST(restart_between_requests_is_invisible)
{
    if (!it_stack_is_private())
        return;
    setup_once();
    for (int i = 0; i < 12; i++) /* every worker holds a connection */
        ck_assert_int_eq(me(NULL, NULL), 200);
    ck_assert_int_eq(it_stack("pg-stop", NULL), 0);
    ck_assert_int_eq(it_stack("pg-start", NULL), 0);
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(me(NULL, NULL), 200);
}
END_TEST

START_TEST(stopped_is_503_then_every_worker_recovers)
{
    if (!it_stack_is_private())
        return;
    setup_once();
    ck_assert_int_eq(it_stack("pg-stop", NULL), 0);
    for (int i = 0; i < 12; i++) {
        double s;
        char *ra;
        ck_assert_int_eq(me(&s, &ra), 503);
        ck_assert_msg(ra && atoi(ra) >= 1, "Retry-After missing");
        free(ra);
        ck_assert_msg(s < 3.0, "a 503 took %.2fs", s);
    }
    /* Writes too. */
    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/pitches", user.token,
                              "{\"title\":\"T\",\"logline\":\"L\",\"genre\":\"drama\"}", NULL, &r),
                     0);
    it_assert_error(&r, 503, "unavailable");
    it_response_free(&r);
    ck_assert_int_eq(it_stack("pg-start", NULL), 0);
    double t0 = it_now();
    while (me(NULL, NULL) != 200)
        ck_assert_msg(it_now() - t0 < 10, "no recovery");
    double first_ok = it_now() - t0;
    /* Each worker's background probe closes its circuit within a probe
     * interval (250 ms) plus a housekeeping tick: a second later every
     * answer is 200 again. */
    it_sleep_ms(1000);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(me(NULL, NULL), 200);
    fprintf(stderr, "first 200 %.3fs after postgres was back\n", first_ok);
}
END_TEST

START_TEST(hung_is_503_and_the_circuit_stops_connecting)
{
    if (!it_stack_is_private())
        return;
    setup_once();
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(me(NULL, NULL), 200);
    ck_assert_int_eq(it_stack("pg-hang", NULL), 0);
    /* Phase 1: each worker meets the hang once or twice (statement
     * deadline, then a connect timeout) and opens its circuit. */
    double worst = 0;
    int fast = 0;
    for (int i = 0; i < 60 && fast < 8; i++) {
        double s;
        char *ra;
        ck_assert_int_eq(me(&s, &ra), 503);
        ck_assert_ptr_nonnull(ra);
        free(ra);
        if (s > worst)
            worst = s;
        fast = s < 0.2 ? fast + 1 : 0;
    }
    ck_assert_msg(fast >= 8, "the circuit never opened");
    /* Phase 2: with the circuits open, requests fail fast and only an
     * occasional probe tries to connect. */
    int before = count_in_log("event=db_connect_failed");
    int requests = 60;
    for (int i = 0; i < requests; i++) {
        double s;
        ck_assert_int_eq(me(&s, NULL), 503);
        if (s > worst)
            worst = s;
    }
    int attempts = count_in_log("event=db_connect_failed") - before;
    fprintf(stderr, "hung: %d requests, %d connection attempts, slowest %.2fs\n", requests,
            attempts, worst);
    ck_assert_int_eq(it_stack("pg-resume", NULL), 0);
    ck_assert_msg(attempts < requests / 3, "%d attempts for %d requests", attempts, requests);
    /* No request hung: the statement deadline is 0.5 s + 1 s, connects 1 s. */
    ck_assert_msg(worst < 5.0, "a 503 took %.2fs", worst);
    double t0 = it_now();
    while (me(NULL, NULL) != 200)
        ck_assert_msg(it_now() - t0 < 15, "no recovery after resume");
    it_sleep_ms(1000);
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(me(NULL, NULL), 200);
}
END_TEST

/* With no queue for the hashing slots ([auth] hash_wait_ms = 0), a flood
 * of logins is refused at once beyond the slots, so reads never wait
 * behind it.  (With the default queue, it_load checks that a burst of
 * sign-ups all succeed.) */
START_TEST(login_burst_never_starves_reads)
{
    setup_once();
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse\"}", user.email);
    int pipes[6][2];
    pid_t kids[6];
    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(pipe(pipes[k]), 0);
        kids[k] = fork();
        if (kids[k] == 0) {
            int ok = 0, busy = 0;
            double t0 = it_now();
            while (it_now() - t0 < 4) {
                struct it_response r;
                if (api_json("POST", "/api/auth/login", NULL, body, NULL, &r) == 0) {
                    if (r.status == 200)
                        ok++;
                    else if (r.status == 503)
                        busy++;
                }
                it_response_free(&r);
            }
            char out[64];
            int n = snprintf(out, sizeof out, "%d %d\n", ok, busy);
            ssize_t w = write(pipes[k][1], out, (size_t)n);
            (void)w;
            _exit(0);
        }
        close(pipes[k][1]);
    }
    it_sleep_ms(300);
    char item[64];
    snprintf(item, sizeof item, "/api/pitches/%lld", (long long)pitch_id);
    double worst = 0;
    int reads = 0;
    double t0 = it_now();
    while (it_now() - t0 < 3) {
        double s;
        ck_assert_int_eq(me(&s, NULL), 200);
        if (s > worst)
            worst = s;
        struct it_response r;
        ck_assert_int_eq(it_get(item, &r), 0);
        ck_assert_int_eq(r.status, 200);
        if (r.seconds > worst)
            worst = r.seconds;
        it_response_free(&r);
        reads += 2;
    }
    int ok = 0, busy = 0;
    for (int k = 0; k < 6; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        char in[64] = "";
        ssize_t n = read(pipes[k][0], in, sizeof in - 1);
        if (n > 0) {
            in[n] = '\0';
            int a, b;
            if (sscanf(in, "%d %d", &a, &b) == 2) {
                ok += a;
                busy += b;
            }
        }
        close(pipes[k][0]);
    }
    fprintf(stderr, "burst: logins ok %d, 503 %d; %d reads, slowest %.3fs\n", ok, busy, reads,
            worst);
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(busy, 0); /* more logins than hashing slots: some are refused */
    ck_assert_msg(worst < 2.0, "a read waited %.2fs", worst);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_db_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, restart_between_requests_is_invisible);
    tcase_add_test(tc, stopped_is_503_then_every_worker_recovers);
    tcase_add_test(tc, hung_is_503_and_the_circuit_stops_connecting);
    tcase_add_test(tc, login_burst_never_starves_reads);
    suite_add_tcase(s, tc);
    return s;
}

IT_MAIN(suite,
        "[database]\nconnect_timeout_ms = 1000\nstatement_timeout_ms = 500\n"
        "breaker_cooldown_ms = 250\n"
        "[auth]\nhash_concurrency = 1\nhash_opslimit = 3\nhash_memlimit = 67108864\n"
        "hash_wait_ms = 0\n",
        "--workers 4 --no-apache")
