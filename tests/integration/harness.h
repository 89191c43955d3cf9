/* harness: what every integration test shares.
 *
 * it_stack_start() starts a private stack with tests/harness/stack (or uses
 * the running one named by PITCHEY_TEST_URL) and stops it when the test
 * program exits, also on SIGINT/SIGTERM; the stack's own watchdog stops it
 * if the program is killed outright.  it_http() is a small libcurl client. */
#ifndef PITCHEY_TESTS_HARNESS_H
#define PITCHEY_TESTS_HARNESS_H

#include <check.h>
#include <json.h>
#include <stdbool.h>
#include <stddef.h>

/* extra_conf: INI text appended to the stack's pitchey.conf, or NULL.
 * stack_args: extra arguments for `stack start`, or NULL. */
void it_stack_start(const char *extra_conf, const char *stack_args);
void it_stack_stop(void);
/* The end of a test program: checks the stack's logs for the secrets the
 * tests used (it_logs_leaks()), then stops the stack.  Returns 1 when a log
 * holds one (or could not be checked), else 0. */
int it_stack_finish(void);
/* Runs `stack CMD DIR ARGS...` (a fault helper); returns its exit code. */
int it_stack(const char *cmd, const char *args);
/* Output of `stack CMD DIR ARGS` (malloc'd), e.g. worker-pids. */
char *it_stack_output(const char *cmd, const char *args);
bool it_stack_is_private(void);
/* Every token and password the tests send or receive through it_request()
 * is written to DIR/secrets; when the program ends, a private stack's logs
 * (DIR/logs) are searched for each and any hit fails the program.  Returns
 * 1 when a file under DIR/logs holds a line of DIR/secrets (and names it on
 * stderr), 0 when none does, -1 when the search failed. */
int it_logs_leaks(const char *dir);
/* Runs a shell command; returns its standard output (malloc'd) and sets
 * *exit_code (-1 when it did not exit normally). */
char *it_run(const char *cmd, int *exit_code);
const char *it_env(const char *name);

struct it_response {
    long status;
    char *headers;   /* raw header block, last response only */
    char *body;
    size_t body_len;
    double seconds;
};

/* headers: NULL-terminated "Name: value" strings, or NULL.  base: NULL for
 * PITCHEY_TEST_URL.  Returns 0, or -1 when no HTTP answer came at all. */
int it_request(const char *base, const char *method, const char *path, const char *body,
               const char *const *headers, struct it_response *out);
int it_get(const char *path, struct it_response *out);
void it_response_free(struct it_response *r);
/* Value of a response header (case-insensitive), malloc'd; NULL if absent. */
char *it_header(const struct it_response *r, const char *name);
/* The body parsed as JSON (new reference), failing the test if it is not. */
struct json_object *it_json(const struct it_response *r);
/* obj.a.b style lookup; NULL when missing. */
struct json_object *it_path(struct json_object *obj, const char *dotted);
/* Asserts the contract's error shape and code. */
void it_assert_error(const struct it_response *r, long status, const char *code);
/* Runs one SQL query on the stack's database (PG* environment) and
 * returns the first column of the first row as a number; -1 on error. */
long long it_sql_int(const char *sql);
double it_now(void);
void it_sleep_ms(int ms);

#define IT_MAIN(make_suite, extra_conf, stack_args)                             \
    int main(void)                                                              \
    {                                                                           \
        it_stack_start(extra_conf, stack_args);                                 \
        SRunner *sr = srunner_create(make_suite());                             \
        srunner_run_all(sr, CK_ENV);                                            \
        int failed = srunner_ntests_failed(sr);                                 \
        srunner_free(sr);                                                       \
        failed += it_stack_finish();                                            \
        return failed ? 1 : 0;                                                  \
    }

#endif
