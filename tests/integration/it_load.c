/* Integration: what bench/run found under load, as regressions with the
 * default settings: a burst of registrations queues for the hashing slots
 * instead of failing, view-count flushes from several workers never
 * deadlock, and a cached 404 never answers 304 (If-None-Match: *). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/views.h"
#include "api_client.h"
#include "db/db.h"

/* 32 registrations at once (a data loader, a launch event): every one
 * answers 201; the ones that found both hashing slots busy waited in line
 * ([auth] hash_wait_ms, 1 s by default) instead of answering 503. */
START_TEST(registration_burst_all_succeed)
{
    enum { N = 32 };
    pid_t kids[N];
    int pipes[N][2];
    char run[32];
    snprintf(run, sizeof run, "%ld", (long)getpid());
    for (int k = 0; k < N; k++) {
        ck_assert_int_eq(pipe(pipes[k]), 0);
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            char body[256];
            snprintf(body, sizeof body,
                     "{\"email\":\"burst-%s-%d@example.com\",\"password\":\"correct horse\","
                     "\"name\":\"Burst %d\",\"role\":\"investor\"}",
                     run, k, k);
            struct it_response r;
            long status = -1;
            if (api_json("POST", "/api/auth/register", NULL, body, NULL, &r) == 0)
                status = r.status;
            it_response_free(&r);
            char out[32];
            int n = snprintf(out, sizeof out, "%ld", status);
            ssize_t w = write(pipes[k][1], out, (size_t)n);
            (void)w;
            _exit(0);
        }
        close(pipes[k][1]);
    }
    int created = 0, other = 0;
    char seen[256] = "";
    for (int k = 0; k < N; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        char in[32] = "";
        ssize_t n = read(pipes[k][0], in, sizeof in - 1);
        close(pipes[k][0]);
        in[n > 0 ? n : 0] = '\0';
        if (strcmp(in, "201") == 0) {
            created++;
        } else {
            other++;
            size_t len = strlen(seen);
            snprintf(seen + len, sizeof seen - len, " %s", in);
        }
    }
    fprintf(stderr, "burst: %d registrations 201, %d other:%s\n", created, other, seen);
    ck_assert_msg(other == 0, "%d of %d registrations failed:%s", other, N, seen);
}
END_TEST

static long long deadlocks_logged(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "grep -c 'deadlock detected' '%s/logs/postgres.log' || true",
             it_env("PITCHEY_STACK_DIR"));
    int rc;
    char *out = it_run(cmd, &rc);
    long long n = out ? atoll(out) : -1;
    free(out);
    return n;
}

/* One flusher: counts views of ids [first, first + n) in ascending or
 * descending order, flushing whenever `batch` ids are pending, for
 * `seconds`; then flushes what is left.  Exit status: the number of
 * flushes that failed (0 expected); the views it counted go to fd `out`. */
static void flusher(int64_t first, int n, int batch, bool descending, double seconds, int out)
{
    struct db_options o = {
        .url = it_env("PITCHEY_DATABASE_URL"),
        .application_name = "it_load",
        .connect_timeout_ms = 2000,
        .statement_timeout_ms = 5000,
        .idle_timeout_s = 60,
        .retries = 1,
        .retry_base_ms = 10,
        .breaker_threshold = 1000,
        .breaker_cooldown_ms = 100,
        /* Planned at every call, as through PgBouncer: the plan follows
         * the batch's size, so the two flushers lock in different orders. */
        .prepared_statements = false,
    };
    struct db *db = db_new(&o);
    struct views *v = views_new(batch);
    long long counted = 0;
    int failures = 0;
    double t0 = it_now();
    while (it_now() - t0 < seconds) {
        for (int i = 0; i < n; i++) {
            views_count(v, descending ? first + n - 1 - i : first + i);
            counted++;
            if (db_sending(db))
                db_poll(db); /* as the worker does after each request */
            if (views_batch_full(v) && views_flush(v, db) < 0)
                failures++;
        }
    }
    /* What is left, as a worker does at shutdown. */
    double t1 = it_now();
    while (views_pending(v) > 0 && it_now() - t1 < 10) {
        if (views_flush(v, db) < 0)
            failures++;
        db_wait(db);
        it_sleep_ms(3);
    }
    if (views_pending(v) > 0)
        failures++;
    char text[32];
    int len = snprintf(text, sizeof text, "%lld", counted);
    ssize_t w = write(out, text, (size_t)len);
    (void)w;
    views_free(v);
    db_free(db);
    _exit(failures > 100 ? 100 : failures);
}

/* Two workers flushing overlapping ids in opposite orders for 3 s, one in
 * small batches (Postgres joins them in array order) and one in large ones
 * (a hash join, in the table's physical order, which updates shuffle): what
 * the item scenario of bench/run does at scale, where it deadlocked.  No
 * deadlock in Postgres' log, no failed flush, and every view counted is in
 * the table. */
START_TEST(view_flushes_never_deadlock)
{
    struct test_user u;
    api_register("views", "creator", &u);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH p AS (INSERT INTO pitches (owner_id, title, logline, genre, status)"
             " SELECT %lld, 'Viewed ' || g, 'A pitch people look at', 'drama', 'published'"
             " FROM generate_series(1, 2000) g RETURNING id),"
             " v AS (INSERT INTO pitch_views (pitch_id) SELECT id FROM p)"
             " SELECT min(id) FROM p",
             (long long)u.id);
    long long first = it_sql_int(sql);
    ck_assert_int_gt(first, 0);
    long long before = deadlocks_logged();
    ck_assert_int_ge(before, 0);
    int pipes[2][2];
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(pipe(pipes[k]), 0);
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0)
            flusher(first, 2000, k == 0 ? 16 : 1500, k == 1, 3.0, pipes[k][1]);
        close(pipes[k][1]);
    }
    long long counted = 0;
    for (int k = 0; k < 2; k++) {
        int st;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "flusher %d: %d failed flushes", k,
                      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        char in[32] = "";
        ssize_t n = read(pipes[k][0], in, sizeof in - 1);
        close(pipes[k][0]);
        in[n > 0 ? n : 0] = '\0';
        counted += atoll(in);
    }
    snprintf(sql, sizeof sql,
             "SELECT sum(views) FROM pitch_views WHERE pitch_id BETWEEN %lld AND %lld", first,
             first + 1999);
    long long stored = it_sql_int(sql);
    fprintf(stderr, "views: %lld counted, %lld stored\n", counted, stored);
    ck_assert_int_gt(counted, 2000 * 2);
    ck_assert_int_eq(stored, counted);
    ck_assert_int_eq(deadlocks_logged(), before);
}
END_TEST

/* If-None-Match: * matches only a representation the caller may see: a
 * missing pitch, a missing user and someone else's draft answer 404 (also
 * once a 404 is cached), and such a request counts no view. */
START_TEST(if_none_match_star_only_for_what_exists)
{
    struct test_user owner, other;
    api_register("inm-owner", "creator", &owner);
    api_register("inm-other", "investor", &other);
    int64_t draft = api_create_pitch(&owner, "Secret draft", "drama", "draft");
    int64_t shown = api_create_pitch(&owner, "Public pitch", "drama", "published");
    const char *star[] = { "If-None-Match: *", NULL };
    char path[96], auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", other.token);
    const char *star_other[] = { "If-None-Match: *", auth, NULL };
    const char *missing[] = { "/api/pitches/999999999", "/api/users/999999999" };
    for (int round = 0; round < 3; round++) { /* a miss, then cached 404s */
        for (size_t i = 0; i < 2; i++) {
            struct it_response r;
            ck_assert_int_eq(it_request(NULL, "GET", missing[i], NULL, star, &r), 0);
            it_assert_error(&r, 404, "not_found");
            it_response_free(&r);
        }
        snprintf(path, sizeof path, "/api/pitches/%lld", (long long)draft);
        struct it_response r;
        ck_assert_int_eq(it_request(NULL, "GET", path, NULL, star, &r), 0);
        it_assert_error(&r, 404, "not_found");
        it_response_free(&r);
        ck_assert_int_eq(it_request(NULL, "GET", path, NULL, star_other, &r), 0);
        it_assert_error(&r, 404, "not_found");
        it_response_free(&r);
    }
    /* What exists matches "*": 304, and a view is counted. */
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)shown);
    struct it_response r;
    ck_assert_int_eq(it_request(NULL, "GET", path, NULL, star, &r), 0);
    ck_assert_int_eq(r.status, 304);
    it_response_free(&r);
    /* The draft's views stayed at zero after the flush interval. */
    it_sleep_ms(1500);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT views FROM pitch_views WHERE pitch_id = %lld",
             (long long)draft);
    ck_assert_int_eq(it_sql_int(sql), 0);
    snprintf(sql, sizeof sql, "SELECT views FROM pitch_views WHERE pitch_id = %lld",
             (long long)shown);
    ck_assert_int_eq(it_sql_int(sql), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_load");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, registration_burst_all_succeed);
    tcase_add_test(tc, view_flushes_never_deadlock);
    tcase_add_test(tc, if_none_match_star_only_for_what_exists);
    suite_add_tcase(s, tc);
    return s;
}

/* The default settings (4 workers, hashing and flushing as shipped). */
IT_MAIN(suite, NULL, "--workers 4 --no-apache --no-rooms")
