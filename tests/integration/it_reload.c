/* Integration: deploys drop nothing.  A bounded load (health checks and
 * registrations, through nginx and Apache) runs while the pool is
 * restarted on a socket held the way pitchey-api.socket holds it
 * (`stack --hold-socket`, `pool-restart` = systemctl restart), reloaded
 * (`pool-reload` = systemctl reload: multiwatch forwards USR2) and while a
 * new binary replaces the old one.  Every request must succeed; the test
 * counts them, proves requests were in flight during each step, and that
 * the workers afterwards run the new binary. */
#include "pitchey-build.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "wsclient.h"

#define LOADERS 4

static char api_copy[256];
static atomic_bool load_stop;
static atomic_long ok_count, fail_count, overlap_count;
/* The current deploy step's window (it_now() seconds; 0: none). */
static _Atomic double step_start, step_end;

struct loader {
    int index;
    long failures_logged;
};

static void *load_run(void *arg)
{
    struct loader *l = arg;
    const char *base = it_env(l->index % 2 ? "PITCHEY_TEST_APACHE_URL" : "PITCHEY_TEST_URL");
    long n = 0;
    while (!atomic_load(&load_stop)) {
        struct it_response r;
        double t0 = it_now();
        int rc;
        long want;
        if (l->index == 0) {
            /* A registration hashes a password (tens of ms): a long request
             * that a restart's signal is likely to meet in flight. */
            char body[256];
            snprintf(body, sizeof body,
                     "{\"email\":\"reload-%d-%ld@example.com\",\"password\":\"correct horse\","
                     "\"name\":\"Reload\",\"role\":\"creator\"}",
                     (int)getpid(), n++);
            const char *h[] = { "Content-Type: application/json", NULL };
            rc = it_request(base, "POST", "/api/auth/register", body, h, &r);
            want = 201;
        } else {
            rc = it_request(base, "GET", "/api/health", NULL, NULL, &r);
            want = 200;
        }
        double t1 = it_now();
        if (rc == 0 && r.status == want) {
            atomic_fetch_add(&ok_count, 1);
        } else {
            atomic_fetch_add(&fail_count, 1);
            if (l->failures_logged++ < 5)
                fprintf(stderr, "loader %d: rc %d status %ld body %.200s\n", l->index, rc,
                        r.status, r.body ? r.body : "");
        }
        /* In flight while a deploy step ran: started before it ended and
         * ended after it started. */
        double s = atomic_load(&step_start), e = atomic_load(&step_end);
        if (s > 0 && t0 < (e > 0 ? e : t1 + 1) && t1 > s)
            atomic_fetch_add(&overlap_count, 1);
        it_response_free(&r);
    }
    return NULL;
}

/* Runs one deploy step (a stack command) with the load going; returns how
 * many requests overlapped it. */
static long deploy_step(const char *cmd)
{
    long before = atomic_load(&overlap_count);
    atomic_store(&step_end, 0.0);
    atomic_store(&step_start, it_now());
    ck_assert_int_eq(it_stack(cmd, NULL), 0);
    atomic_store(&step_end, it_now());
    it_sleep_ms(700); /* the load runs on against the new pool */
    atomic_store(&step_start, 0.0);
    return atomic_load(&overlap_count) - before;
}

/* Replaces the pool's binary as a package upgrade does: a new file renamed
 * over the old path (the running workers keep the old inode). */
static ino_t replace_binary(void)
{
    char tmp[300], cmd[1024];
    snprintf(tmp, sizeof tmp, "%s.new", api_copy);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv -f '%s' '%s'", it_env("PITCHEY_API_ORIGINAL"),
             tmp, tmp, api_copy);
    ck_assert_int_eq(system(cmd), 0);
    struct stat st;
    ck_assert_int_eq(stat(api_copy, &st), 0);
    return st.st_ino;
}

/* Every worker runs the file whose inode is ino. */
static void assert_workers_run(ino_t ino)
{
    char *pids = it_stack_output("worker-pids", NULL);
    int count = 0;
    for (char *p = strtok(pids, "\n"); p; p = strtok(NULL, "\n")) {
        char exe[64];
        struct stat st;
        snprintf(exe, sizeof exe, "/proc/%s/exe", p);
        ck_assert_int_eq(stat(exe, &st), 0);
        ck_assert_msg(st.st_ino == ino, "worker %s runs inode %lu, not the new %lu", p,
                      (unsigned long)st.st_ino, (unsigned long)ino);
        count++;
    }
    ck_assert_int_eq(count, 3);
    free(pids);
}

START_TEST(restart_reload_and_new_binary_fail_nothing)
{
    pthread_t th[LOADERS];
    struct loader ls[LOADERS];
    for (int i = 0; i < LOADERS; i++) {
        ls[i] = (struct loader){ .index = i };
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_run, &ls[i]), 0);
    }
    it_sleep_ms(1000);
    long warm = atomic_load(&ok_count);

    long o1 = deploy_step("pool-restart");          /* systemctl restart */
    ino_t ino = replace_binary();
    long o2 = deploy_step("pool-reload");           /* new binary + systemctl reload */
    assert_workers_run(ino);
    ino = replace_binary();
    long o3 = deploy_step("pool-restart");          /* new binary + systemctl restart */
    assert_workers_run(ino);

    atomic_store(&load_stop, true);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(th[i], NULL);
    long ok = atomic_load(&ok_count), failed = atomic_load(&fail_count);
    fprintf(stderr, "it_reload: %ld requests succeeded (%ld before the first step), %ld failed; "
                    "in flight during the steps: %ld, %ld, %ld\n",
            ok, warm, failed, o1, o2, o3);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_gt(warm, 0);
    ck_assert_int_gt(ok, 100);
    ck_assert_int_gt(o1, 0);
    ck_assert_int_gt(o2, 0);
    ck_assert_int_gt(o3, 0);
}
END_TEST

START_TEST(the_socket_outlives_the_pool)
{
    /* The socket file and its listener stay while the pool restarts: the
     * inode of the socket file is the same before and after. */
    char path[1100];
    snprintf(path, sizeof path, "%s/run/api.sock", it_env("PITCHEY_STACK_DIR"));
    struct stat a, b;
    ck_assert_int_eq(stat(path, &a), 0);
    char *before = it_stack_output("worker-pids", NULL);
    ck_assert_int_eq(it_stack("pool-restart", NULL), 0);
    char *after = it_stack_output("worker-pids", NULL);
    ck_assert_int_eq(stat(path, &b), 0);
    ck_assert(S_ISSOCK(b.st_mode));
    ck_assert_int_eq(a.st_ino, b.st_ino);
    ck_assert_str_ne(before, after);
    free(before);
    free(after);
}
END_TEST

/* The rooms daemon's pid, from the stack's records. */
static int rooms_pid(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "awk '$1 == \"rooms\" { p = $2 } END { print p }' '%s/pids'",
             it_env("PITCHEY_STACK_DIR"));
    char *out = it_run(cmd, NULL);
    int pid = atoi(out);
    free(out);
    ck_assert_int_gt(pid, 0);
    return pid;
}

static struct wsc *ws_open(void)
{
    int status = 0;
    struct wsc *c = wsc_connect(it_env("PITCHEY_TEST_WS_URL"), NULL, 0, &status);
    ck_assert_msg(c != NULL, "no WebSocket through nginx (status %d)", status);
    return c;
}

START_TEST(rooms_survive_hup_and_restart_with_1001)
{
    struct wsc *c = ws_open();
    wsc_sendf(c, "{\"type\":\"join\",\"room\":\"lobby\"}");
    struct json_object *j = wsc_expect(c, "joined", 5000, NULL);
    ck_assert_msg(j != NULL, "no joined");
    json_object_put(j);
    /* HUP: the daemon stays (it used to die with status 129), the client
     * stays connected and is still served. */
    int pid = rooms_pid();
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    it_sleep_ms(500);
    ck_assert_int_eq(kill(pid, 0), 0);
    ck_assert_int_eq(wsc_close_code(c), 0);
    wsc_sendf(c, "{\"type\":\"leave\",\"room\":\"lobby\"}");
    wsc_sendf(c, "{\"type\":\"join\",\"room\":\"lobby\"}");
    j = wsc_expect(c, "joined", 5000, NULL);
    ck_assert_msg(j != NULL, "no joined after HUP");
    json_object_put(j);
    /* A restart tells the client to come back (1001), and it can. */
    ck_assert_int_eq(it_stack("rooms-stop", NULL), 0);
    ck_assert_int_eq(wsc_wait_close(c, 5000), 1001);
    wsc_free(c);
    ck_assert_int_eq(it_stack("rooms-start", NULL), 0);
    c = ws_open();
    wsc_sendf(c, "{\"type\":\"join\",\"room\":\"lobby\"}");
    j = wsc_expect(c, "joined", 5000, NULL);
    ck_assert_msg(j != NULL, "no joined after the restart");
    json_object_put(j);
    wsc_free(c);
}
END_TEST

static Suite *reload_suite(void)
{
    Suite *s = suite_create("reload");
    TCase *t = tcase_create("deploys");
    tcase_set_timeout(t, 90);
    tcase_add_test(t, restart_reload_and_new_binary_fail_nothing);
    tcase_add_test(t, the_socket_outlives_the_pool);
    tcase_add_test(t, rooms_survive_hup_and_restart_with_1001);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (getenv("PITCHEY_TEST_URL") && *getenv("PITCHEY_TEST_URL")) {
        fprintf(stderr, "it_reload: needs a private stack (unset PITCHEY_TEST_URL)\n");
        return 77;
    }
    /* The pool runs a copy of pitchey-api that the test may replace. */
    const char *api = getenv("PITCHEY_API");
    if (api == NULL || *api == '\0') {
        fprintf(stderr, "it_reload: PITCHEY_API is not set\n");
        return 99;
    }
    char dir[] = "/tmp/pitchey-reload.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 99;
    chmod(dir, 0755);
    snprintf(api_copy, sizeof api_copy, "%s/pitchey-api", dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", api, api_copy);
    if (system(cmd) != 0)
        return 99;
    setenv("PITCHEY_API_ORIGINAL", api, 1);
    setenv("PITCHEY_API", api_copy, 1);
    it_stack_start(NULL, "--hold-socket --workers 3");
    SRunner *sr = srunner_create(reload_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    it_stack_stop();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "it_reload: could not remove %s\n", dir);
    return failed ? 1 : 0;
}
