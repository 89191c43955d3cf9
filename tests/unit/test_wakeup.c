/* Unit tests: futex wake-ups across processes (common/wakeup). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/wakeup.h"
#include "unit.h"

static char path[] = "/tmp/pitchey-wakeup-XXXXXX";

static struct wakeup *open_table(void)
{
    static bool made;
    if (!made) {
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        made = true;
    }
    struct wakeup *w = wakeup_open(path);
    ck_assert_ptr_nonnull(w);
    return w;
}

START_TEST(times_out_without_signal)
{
    struct wakeup *w = open_table();
    uint32_t t = wakeup_ticket(w, 42);
    int64_t t0 = clock_mono_us();
    ck_assert(!wakeup_wait(w, 42, t, 20000));
    int64_t spent = clock_mono_us() - t0;
    ck_assert_int_ge(spent, 15000);
    ck_assert_int_lt(spent, 2000000);
    wakeup_close(w);
}
END_TEST

START_TEST(signal_before_wait_is_not_lost)
{
    struct wakeup *w = open_table();
    uint32_t t = wakeup_ticket(w, 7);
    wakeup_signal(w, 7);
    int64_t t0 = clock_mono_us();
    ck_assert(wakeup_wait(w, 7, t, 2000000));
    ck_assert_int_lt(clock_mono_us() - t0, 1000000);
    wakeup_close(w);
}
END_TEST

/* A child sleeps on a bucket with a long timeout; the parent signals it
 * through its own mapping of the file; the child wakes long before the
 * timeout and says so with its exit code. */
START_TEST(wakes_another_process)
{
    struct wakeup *w = open_table();
    uint32_t t = wakeup_ticket(w, 99);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct wakeup *cw = wakeup_open(path);
        int64_t t0 = clock_mono_us();
        bool woke = cw && wakeup_wait(cw, 99, t, 5000000);
        bool in_time = clock_mono_us() - t0 < 4000000;
        /* Free both handles, the inherited one too: valgrind checks the
         * child's heap at _exit (tests/valgrind/run). */
        wakeup_close(cw);
        wakeup_close(w);
        _exit(woke && in_time ? 0 : 1);
    }
    usleep(100000); /* let the child reach its wait */
    wakeup_signal(w, 99);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    wakeup_close(w);
}
END_TEST

START_TEST(unreachable_path_gives_null)
{
    ck_assert_ptr_null(wakeup_open("/nonexistent-dir/pitchey/edge.wake"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("wakeup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, times_out_without_signal);
    tcase_add_test(tc, signal_before_wait_is_not_lost);
    tcase_add_test(tc, wakes_another_process);
    tcase_add_test(tc, unreachable_path_gives_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    unlink(path);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
