/* Unit tests: the shared segment: slots, summing, adoption after a clean
 * exit and after SIGKILL, and refusing a segment of another format. */
#include "pitchey-build.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics/segment.h"
#include "unit.h"

static const char *const routes[] = { "/api/a", "/api/a", "/api/b" };
static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/pitchey-metrics-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void attach(void)
{
    char err[256];
    ck_assert_msg(metrics_worker_attach(dir, routes, 3, err, sizeof err) == 0, "%s", err);
}

static struct metrics_snapshot *snap(void)
{
    char err[256];
    struct metrics_reader *r = metrics_reader_open(dir, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    struct metrics_snapshot *s = malloc(sizeof *s);
    metrics_reader_snapshot(r, s);
    metrics_reader_close(r);
    return s;
}

static uint64_t get_2xx(const struct metrics_snapshot *s, size_t label)
{
    return s->route[label].requests[METRICS_GET][1];
}

/* Runs fn in a child that attaches, records n requests on route entry 0
 * and then either detaches and exits, or is SIGKILLed while attached. */
static void child_records(int n, bool killed)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        if (metrics_worker_attach(dir, routes, 3, err, sizeof err) != 0)
            _exit(2);
        for (int i = 0; i < n; i++)
            metrics_record_request(0, METRICS_GET, 200, 120, 0);
        if (!killed) {
            metrics_worker_detach();
            _exit(0);
        }
        metrics_request_begin(); /* dies busy, mid-request */
        if (write(p[1], "x", 1) != 1)
            _exit(3);
        pause();
        _exit(4);
    }
    close(p[1]);
    int status;
    if (killed) {
        char c;
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    } else {
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    close(p[0]);
}

START_TEST(records_are_summed_by_route_label)
{
    make_dir();
    attach();
    metrics_request_begin();
    metrics_record_request(0, METRICS_GET, 200, 80, 0);
    metrics_record_request(1, METRICS_GET, 204, 80, 500);  /* same label as entry 0 */
    metrics_record_request(2, METRICS_POST, 503, 2000, 0);
    metrics_record_request(99, METRICS_GET, 404, 10, 0);   /* no route: "other" */
    metrics_record_request((size_t)-1, 77, 999, -5, 0);     /* nonsense is clamped */
    metrics_count_view_flush(true);
    struct metrics_snapshot *s = snap();
    ck_assert_uint_eq(s->nroutes, 3);
    ck_assert_str_eq(s->routes[0], "/api/a");
    ck_assert_str_eq(s->routes[1], "/api/b");
    ck_assert_str_eq(s->routes[2], "other");
    ck_assert_uint_eq(get_2xx(s, 0), 2);
    ck_assert_uint_eq(s->route[1].requests[METRICS_POST][4], 1);
    ck_assert_uint_eq(s->route[2].requests[METRICS_GET][3], 1);
    ck_assert_uint_eq(s->route[2].requests[METRICS_OTHER][4], 1);
    ck_assert_uint_eq(s->route[0].latency[histogram_bucket_index(80)], 2);
    ck_assert_uint_eq(s->route[0].latency_sum_us, 160);
    ck_assert_uint_eq(s->db_time[histogram_bucket_index(500)], 1);
    ck_assert_uint_eq(s->requests, 5);
    ck_assert_uint_eq(s->counters[MC_VIEW_FLUSH], 1);
    ck_assert_int_eq(s->workers_alive, 1);
    ck_assert_int_eq(s->workers_busy, 0);
    ck_assert_int_eq(s->worker[0].pid, (int)getpid());
    metrics_request_begin();
    free(s);
    s = snap();
    ck_assert_int_eq(s->workers_busy, 1);
    free(s);
    int alive, busy;
    ck_assert_int_eq(metrics_worker_pool(&alive, &busy), 0);
    ck_assert_int_eq(alive, 1);
    ck_assert_int_eq(busy, 1);
    metrics_worker_detach();
    remove_dir();
}
END_TEST

START_TEST(process_counters_are_added_to_the_adopted_totals)
{
    make_dir();
    attach();
    struct metrics_process p = { .rss_bytes = 4096 };
    p.counters[MC_CACHE_HIT] = 10;
    metrics_publish_process(&p);
    metrics_worker_detach(); /* a clean exit leaves the totals */
    attach();                /* the next worker takes that slot */
    struct metrics_snapshot *s = snap();
    ck_assert_uint_eq(s->counters[MC_CACHE_HIT], 10);
    ck_assert_uint_eq(s->restarts, 1);
    ck_assert_uint_eq(s->nworkers, 1);
    free(s);
    p.counters[MC_CACHE_HIT] = 3; /* its own count starts from zero */
    metrics_publish_process(&p);
    s = snap();
    ck_assert_uint_eq(s->counters[MC_CACHE_HIT], 13);
    free(s);
    metrics_worker_detach();
    remove_dir();
}
END_TEST

START_TEST(a_killed_workers_totals_survive_and_are_adopted)
{
    make_dir();
    child_records(7, false);  /* one worker exits cleanly */
    child_records(5, true);   /* the next one is killed mid-request */
    struct metrics_snapshot *s = snap();
    ck_assert_uint_eq(get_2xx(s, 0), 12);
    ck_assert_int_eq(s->workers_alive, 0);
    ck_assert_int_eq(s->workers_busy, 0);   /* a dead worker is not busy */
    ck_assert_uint_eq(s->nworkers, 1);
    ck_assert_uint_eq(s->restarts, 1);
    free(s);
    attach();                 /* its successor adopts the slot */
    metrics_record_request(0, METRICS_GET, 200, 120, 0);
    s = snap();
    ck_assert_uint_eq(get_2xx(s, 0), 13);
    ck_assert_uint_eq(s->nworkers, 1);
    ck_assert_uint_eq(s->restarts, 2);
    ck_assert_int_eq(s->workers_alive, 1);
    free(s);
    metrics_worker_detach();
    remove_dir();
}
END_TEST

START_TEST(live_workers_get_their_own_slots)
{
    make_dir();
    attach();
    metrics_record_request(0, METRICS_GET, 200, 120, 0);
    child_records(4, false); /* runs while this process holds slot 0 */
    struct metrics_snapshot *s = snap();
    ck_assert_uint_eq(s->nworkers, 2);
    ck_assert_uint_eq(get_2xx(s, 0), 5);
    ck_assert_uint_eq(s->restarts, 0);
    free(s);
    metrics_worker_detach();
    remove_dir();
}
END_TEST

START_TEST(a_foreign_segment_is_refused_by_readers_and_replaced_by_writers)
{
    make_dir();
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, METRICS_SEGMENT_FILE);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a segment, an older format perhaps", 38), 38);
    close(fd);
    ck_assert_ptr_null(metrics_reader_open(dir, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "not a metrics segment"));
    attach();
    metrics_record_request(2, METRICS_GET, 200, 120, 0);
    struct metrics_snapshot *s = snap();
    ck_assert_uint_eq(get_2xx(s, 1), 1);
    free(s);
    metrics_worker_detach();
    /* A binary with another route table replaces it too. */
    static const char *const other[] = { "/api/z" };
    ck_assert_int_eq(metrics_worker_attach(dir, other, 1, err, sizeof err), 0);
    s = snap();
    ck_assert_str_eq(s->routes[0], "/api/z");
    ck_assert_uint_eq(s->requests, 0);
    free(s);
    metrics_worker_detach();
    ck_assert_int_ne(metrics_worker_attach("/nonexistent/dir", routes, 3, err, sizeof err), 0);
    metrics_record_request(0, METRICS_GET, 200, 1, 0); /* not attached: a no-op */
    ck_assert(!metrics_worker_attached());
    remove_dir();
}
END_TEST

START_TEST(method_bits_map_to_names)
{
    ck_assert_int_eq(metrics_method_from_bit(1), METRICS_GET);
    ck_assert_int_eq(metrics_method_from_bit(2), METRICS_HEAD);
    ck_assert_int_eq(metrics_method_from_bit(4), METRICS_POST);
    ck_assert_int_eq(metrics_method_from_bit(8), METRICS_PUT);
    ck_assert_int_eq(metrics_method_from_bit(16), METRICS_DELETE);
    ck_assert_int_eq(metrics_method_from_bit(32), METRICS_OPTIONS);
    ck_assert_int_eq(metrics_method_from_bit(0), METRICS_OTHER);
    ck_assert_int_eq(metrics_method_from_bit(3), METRICS_OTHER);
    ck_assert_int_eq(metrics_method_from_bit(64), METRICS_OTHER);
    ck_assert_str_eq(metrics_method_names[METRICS_DELETE], "DELETE");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_segment");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, records_are_summed_by_route_label);
    tcase_add_test(tc, process_counters_are_added_to_the_adopted_totals);
    tcase_add_test(tc, a_killed_workers_totals_survive_and_are_adopted);
    tcase_add_test(tc, live_workers_get_their_own_slots);
    tcase_add_test(tc, a_foreign_segment_is_refused_by_readers_and_replaced_by_writers);
    tcase_add_test(tc, method_bits_map_to_names);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
