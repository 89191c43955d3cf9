/* Integration: the shipped front-server snippets (conf/nginx/, conf/apache/)
 * keep the contract at the edge.  Every error nginx or Apache produces
 * itself on /api/ (400, 413, 502, 503, 504) is the contract's JSON error with
 * Content-Type "application/json; charset=utf-8"; X-Request-Id is passed
 * through and logged; /ws is published as exactly that path, so the rooms
 * daemon's /metrics is never reachable through either server. */
#include "pitchey-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "harness.h"

#define JSON_TYPE "application/json; charset=utf-8"

/* The two front servers of the stack: name and base URL. */
struct front {
    const char *name;
    const char *url;
};

static int fronts(struct front out[2])
{
    int n = 0;
    out[n++] = (struct front){ "nginx", it_env("PITCHEY_TEST_URL") };
    const char *ap = getenv("PITCHEY_TEST_APACHE_URL");
    if (ap && *ap)
        out[n++] = (struct front){ "apache", ap };
    return n;
}

/* Asserts a front-server error: status, JSON type, contract shape, code. */
static void assert_front_error(const char *who, const struct it_response *r, long status,
                               const char *code)
{
    ck_assert_msg(r->status == status, "%s: status %ld, expected %ld: %.200s", who, r->status,
                  status, r->body ? r->body : "");
    char *ct = it_header(r, "Content-Type");
    ck_assert_msg(ct && strcmp(ct, JSON_TYPE) == 0, "%s: Content-Type %s", who, ct ? ct : "(none)");
    free(ct);
    it_assert_error(r, status, code);
}

/* Sends raw bytes to host:port of a base URL and returns everything the
 * server answered until it closed, or the head of a 101 (malloc'd); NULL
 * when it could not connect. */
static char *raw_exchange(const char *base, const char *request)
{
    int port = 0;
    const char *colon = strrchr(base, ':');
    if (colon)
        port = atoi(colon + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return NULL;
    }
    size_t len = strlen(request), off = 0;
    while (off < len) {
        ssize_t w = write(fd, request + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        buf_append(&b, chunk, (size_t)n);
        /* A kept-alive connection or an opened WebSocket does not close:
         * stop once the head and Content-Length bytes of body are in. */
        const char *end = strstr(b.data, "\r\n\r\n");
        if (end == NULL)
            continue;
        if (b.len > 12 && strncmp(b.data + 9, "101", 3) == 0)
            break;
        const char *cl = strcasestr(b.data, "\r\nContent-Length:");
        if (cl && cl < end && b.len - (size_t)(end + 4 - b.data) >= (size_t)atol(cl + 17))
            break;
    }
    close(fd);
    buf_reserve(&b, 0);
    return buf_steal(&b, NULL);
}

/* The first line's status code of a raw answer, 0 if none. */
static int raw_status(const char *answer)
{
    int code = 0;
    if (answer && sscanf(answer, "HTTP/1.%*d %d", &code) != 1)
        code = 0;
    return code;
}

/* Lines of the stack's log NAME that hold needle; the front server writes
 * its access line after the answer, so this waits up to 3 s for one. */
static int log_count(const char *name, const char *needle)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "grep -cF -- '%s' '%s/logs/%s'", needle, it_env("PITCHEY_STACK_DIR"),
             name);
    int count = 0;
    for (int tries = 0; tries < 30 && count == 0; tries++) {
        if (tries)
            it_sleep_ms(100);
        char *out = it_run(cmd, NULL);
        count = atoi(out);
        free(out);
    }
    return count;
}

static char *big_body(size_t n)
{
    char *b = malloc(n + 1);
    memset(b, ' ', n);
    b[0] = '{';
    b[n - 1] = '}';
    b[n] = '\0';
    return b;
}

START_TEST(oversized_body_is_json_413)
{
    struct front f[2];
    int n = fronts(f);
    /* 2 MiB: the case, a password far above the 1 MiB limit. */
    char *body = big_body(2 * 1048576);
    const char *h[] = { "Content-Type: application/json", "X-Request-Id: front-413", NULL };
    for (int i = 0; i < n; i++) {
        struct it_response r;
        ck_assert_int_eq(it_request(f[i].url, "POST", "/api/auth/register", body, h, &r), 0);
        assert_front_error(f[i].name, &r, 413, "payload_too_large");
        char *rid = it_header(&r, "X-Request-Id");
        ck_assert_msg(rid && strcmp(rid, "front-413") == 0, "%s: X-Request-Id %s", f[i].name,
                      rid ? rid : "(none)");
        free(rid);
        it_response_free(&r);
    }
    free(body);
    /* nginx refuses it itself: its limit is the service's 1 MiB. */
    ck_assert_int_ge(log_count("nginx-access.log", "POST /api/auth/register HTTP/1.1\" 413"), 1);
}
END_TEST

START_TEST(malformed_request_is_json_400)
{
    struct front f[2];
    int n = fronts(f);
    /* A chunked body whose chunk size is not hexadecimal: the front server
     * rejects it while reading the body, before the service sees it. */
    const char *req = "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nX-Request-Id: front-400\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n";
    for (int i = 0; i < n; i++) {
        char *answer = raw_exchange(f[i].url, req);
        ck_assert_msg(answer != NULL, "%s: no answer", f[i].name);
        ck_assert_msg(raw_status(answer) == 400, "%s: %.300s", f[i].name, answer);
        ck_assert_msg(strcasestr(answer, "\r\nContent-Type: " JSON_TYPE "\r\n") != NULL,
                      "%s: not JSON: %.400s", f[i].name, answer);
        const char *body = strstr(answer, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        struct it_response r = { .status = 400, .headers = answer, .body = (char *)body + 4,
                                 .body_len = strlen(body + 4) };
        it_assert_error(&r, 400, "invalid_parameter");
        free(answer);
    }
}
END_TEST

START_TEST(request_id_passed_through_and_logged)
{
    struct front f[2];
    int n = fronts(f);
    for (int i = 0; i < n; i++) {
        char id[64], hdr[96];
        snprintf(id, sizeof id, "front-rid-%s-%d", f[i].name, (int)getpid());
        snprintf(hdr, sizeof hdr, "X-Request-Id: %s", id);
        const char *h[] = { hdr, NULL };
        struct it_response r;
        ck_assert_int_eq(it_request(f[i].url, "GET", "/api/health", NULL, h, &r), 0);
        ck_assert_int_eq(r.status, 200);
        char *rid = it_header(&r, "X-Request-Id");
        ck_assert_str_eq(rid, id);
        free(rid);
        it_response_free(&r);
        /* The front server's access log names the request by that id. */
        char needle[128], logname[64];
        snprintf(needle, sizeof needle, "rid=%s", id);
        snprintf(logname, sizeof logname, "%s-access.log", f[i].name);
        ck_assert_int_eq(log_count(logname, needle), 1);
    }
    /* An id the contract refuses: nginx makes one, passes it to the service
     * (which answers with it) and logs the same one. */
    const char *bad[] = { "X-Request-Id: no spaces allowed", NULL };
    struct it_response r;
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, bad, &r), 0);
    char *rid = it_header(&r, "X-Request-Id");
    ck_assert_ptr_nonnull(rid);
    ck_assert_msg(strcmp(rid, "no spaces allowed") != 0 && strlen(rid) == 32, "id %s", rid);
    char needle[128];
    snprintf(needle, sizeof needle, "rid=%s", rid);
    ck_assert_int_eq(log_count("nginx-access.log", needle), 1);
    free(rid);
    it_response_free(&r);
}
END_TEST

START_TEST(only_exact_ws_reaches_rooms)
{
    const char *rooms = it_env("PITCHEY_ROOMS_URL"); /* main() made sure it is there */
    /* The daemon's own /metrics answers directly: the check below can fail. */
    char *direct = raw_exchange(rooms, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Connection: close\r\n\r\n");
    ck_assert_msg(direct && strstr(direct, "pitchey_rooms_"), "rooms /metrics: %.200s",
                  direct ? direct : "(none)");
    free(direct);
    /* /ws itself upgrades through both servers (so a 404 below means the
     * path was refused, not that proxying is broken). */
    struct front f0[2];
    int n0 = fronts(f0);
    for (int i = 0; i < n0; i++) {
        char *answer = raw_exchange(f0[i].url,
                                    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                                    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        ck_assert_msg(raw_status(answer) == 101, "%s /ws: %.200s", f0[i].name,
                      answer ? answer : "(none)");
        free(answer);
    }
    const char *paths[] = { "/ws#/../metrics", "/ws/../metrics", "/ws/%2e%2e/metrics",
                            "/ws/metrics", "/wsx/../metrics", "/metrics", "/ws/x" };
    struct front f[2];
    int n = fronts(f);
    for (int i = 0; i < n; i++) {
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            char req[512];
            snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                     paths[p]);
            char *answer = raw_exchange(f[i].url, req);
            ck_assert_msg(answer != NULL, "%s %s: no answer", f[i].name, paths[p]);
            ck_assert_msg(strstr(answer, "pitchey_rooms_") == NULL, "%s %s leaked metrics",
                          f[i].name, paths[p]);
            /* "/ws#/../metrics" is /ws with a fragment: the WebSocket of
             * /ws may answer it (101); every other path is no /ws at all. */
            int st = raw_status(answer);
            ck_assert_msg(st != 200 && (st != 101 || strchr(paths[p], '#')),
                          "%s %s: status %d", f[i].name, paths[p], st);
            free(answer);
        }
    }
}
END_TEST

/* Sends SIGSTOP or SIGCONT to every worker of the pool. */
static void signal_workers(int sig)
{
    char *pids = it_stack_output("worker-pids", NULL);
    int count = 0;
    for (char *p = strtok(pids, "\n"); p; p = strtok(NULL, "\n")) {
        ck_assert_int_eq(kill(atoi(p), sig), 0);
        count++;
    }
    ck_assert_int_gt(count, 0);
    free(pids);
}

START_TEST(hung_pool_is_json_504)
{
    struct front f[2];
    int n = fronts(f);
    /* Every worker stopped: connections wait in the socket's backlog until
     * the front server's read timeout (15 s in the snippets).  Both servers
     * are asked at once, from two processes, so this costs one timeout. */
    signal_workers(SIGSTOP);
    pid_t kids[2];
    for (int i = 0; i < n; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            struct it_response r;
            if (it_request(f[i].url, "GET", "/api/health", NULL, NULL, &r) != 0)
                _exit(2);
            char *ct = it_header(&r, "Content-Type");
            char *ra = it_header(&r, "Retry-After");
            int ok = r.status == 504 && ct && strcmp(ct, JSON_TYPE) == 0 && ra &&
                     r.body && strstr(r.body, "\"code\":\"unavailable\"") &&
                     r.seconds > 10.0;
            if (!ok)
                fprintf(stderr, "%s: %ld after %.1f s, %s: %s\n", f[i].name, r.status, r.seconds,
                        ct ? ct : "-", r.body ? r.body : "");
            _exit(ok ? 0 : 1);
        }
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    signal_workers(SIGCONT);
    ck_assert_int_eq(failed, 0);
    struct it_response r;
    ck_assert_int_eq(it_get("/api/health", &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(stopped_pool_is_json_502_and_503)
{
    struct front f[2];
    int n = fronts(f);
    ck_assert_int_eq(it_stack("pool-stop", NULL), 0);
    for (int i = 0; i < n; i++) {
        struct it_response r;
        ck_assert_int_eq(it_request(f[i].url, "GET", "/api/pitches", NULL, NULL, &r), 0);
        /* nginx says 502 Bad Gateway for a refused connection; Apache's
         * mod_proxy says 503. */
        assert_front_error(f[i].name, &r, strcmp(f[i].name, "nginx") == 0 ? 502 : 503,
                           "unavailable");
        char *ra = it_header(&r, "Retry-After");
        ck_assert_msg(ra && strcmp(ra, "1") == 0, "%s: Retry-After %s", f[i].name, ra ? ra : "-");
        free(ra);
        char *rid = it_header(&r, "X-Request-Id");
        ck_assert_msg(rid && *rid, "%s: no X-Request-Id", f[i].name);
        free(rid);
        it_response_free(&r);
    }
    ck_assert_int_eq(it_stack("pool-start", NULL), 0);
    for (int i = 0; i < n; i++) {
        struct it_response r;
        ck_assert_int_eq(it_request(f[i].url, "GET", "/api/health", NULL, NULL, &r), 0);
        ck_assert_int_eq(r.status, 200);
        it_response_free(&r);
    }
}
END_TEST

static Suite *front_suite(void)
{
    Suite *s = suite_create("front");
    TCase *t = tcase_create("errors");
    tcase_set_timeout(t, 90);
    tcase_add_test(t, oversized_body_is_json_413);
    tcase_add_test(t, malformed_request_is_json_400);
    tcase_add_test(t, request_id_passed_through_and_logged);
    tcase_add_test(t, only_exact_ws_reaches_rooms);
    tcase_add_test(t, hung_pool_is_json_504);
    tcase_add_test(t, stopped_pool_is_json_502_and_503);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    /* A private stack only: this suite stops and hangs the pool. */
    if (getenv("PITCHEY_TEST_URL") && *getenv("PITCHEY_TEST_URL")) {
        fprintf(stderr, "it_front: needs a private stack (unset PITCHEY_TEST_URL)\n");
        return 77;
    }
    it_stack_start(NULL, NULL);
    if (!getenv("PITCHEY_ROOMS_URL") || !getenv("PITCHEY_TEST_APACHE_URL")) {
        fprintf(stderr, "it_front: the stack has no rooms daemon or no Apache\n");
        it_stack_stop();
        return 99;
    }
    SRunner *sr = srunner_create(front_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    it_stack_stop();
    return failed ? 1 : 0;
}
