/* Integration: what an attacker found (issue 9) stays closed: long input at
 * login, the rate-limit table's growth, raw bytes in the log, security
 * headers, duplicate JSON keys; and the log check for secrets can fail. */
#include "pitchey-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_client.h"

static void expect_error(const char *method, const char *path, const char *token,
                         const char *body, long status, const char *code)
{
    struct it_response r;
    ck_assert_int_eq(api_json(method, path, token, body, NULL, &r), 0);
    it_assert_error(&r, status, code);
    it_response_free(&r);
}

/* ---------------------------------------------------------------- login */

START_TEST(login_with_a_3000_character_email_is_422)
{
    size_t n = 3000;
    char *body = malloc(n + 100);
    int k = snprintf(body, n + 100, "{\"email\":\"");
    memset(body + k, 'a', n - 5);
    snprintf(body + k + n - 5, 100, "@b.co\",\"password\":\"wrong password\"}");
    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, body, NULL, &r), 0);
    it_assert_error(&r, 422, "validation_failed");
    struct json_object *o = it_json(&r);
    ck_assert_ptr_nonnull(it_path(o, "error.fields.email"));
    json_object_put(o);
    it_response_free(&r);
    free(body);

    /* A 300-character password is refused the same way, as at register. */
    char pw[400];
    k = snprintf(pw, sizeof pw, "{\"email\":\"someone@example.com\",\"password\":\"");
    memset(pw + k, 'p', 300);
    snprintf(pw + k + 300, sizeof pw - (size_t)k - 300, "\"}");
    expect_error("POST", "/api/auth/login", NULL, pw, 422, "validation_failed");
    /* Nothing reached the rate-limit table. */
    ck_assert_int_eq(it_sql_int("SELECT count(*) FROM login_failures WHERE length(email) > 254"), 0);
}
END_TEST

START_TEST(expired_login_failures_are_pruned)
{
    /* 250 failures of other clients, out of the 15-minute window. */
    ck_assert_int_eq(
        it_sql_int("WITH i AS (INSERT INTO login_failures (email, addr, at)"
                   " SELECT 'junk-' || g || '@example.com', '198.51.100.7',"
                   "        now() - interval '2 hours' FROM generate_series(1, 250) g"
                   " RETURNING 1) SELECT count(*) FROM i"),
        250);
    char body[128];
    struct it_response r;
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body,
                 "{\"email\":\"prune-%d-%d@example.com\",\"password\":\"wrong password\"}",
                 (int)getpid(), i);
        ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, body, NULL, &r), 0);
        it_assert_error(&r, 401, "invalid_credentials");
        it_response_free(&r);
        long long left = it_sql_int("SELECT count(*) FROM login_failures"
                                    " WHERE addr = '198.51.100.7'");
        /* At most 100 per recorded failure: the work per request is bounded. */
        ck_assert_int_eq(left, i == 0 ? 150 : i == 1 ? 50 : 0);
    }
    /* The failures inside the window are still counted. */
    ck_assert_int_eq(it_sql_int("SELECT count(*) FROM login_failures WHERE email LIKE 'prune-%'"),
                     3);
}
END_TEST

/* ---------------------------------------------------------------- headers */

static void expect_security_headers(const char *method, const char *path, const char *body,
                                    long status)
{
    struct it_response r;
    ck_assert_int_eq(api_json(method, path, NULL, body, NULL, &r), 0);
    ck_assert_msg(r.status == status, "%s %s: %ld", method, path, r.status);
    static const char *const want[][2] = {
        { "X-Content-Type-Options", "nosniff" },
        { "X-Frame-Options", "DENY" },
        { "Referrer-Policy", "no-referrer" },
        { "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *v = it_header(&r, want[i][0]);
        ck_assert_msg(v != NULL, "%s %s (%ld): no %s", method, path, r.status, want[i][0]);
        ck_assert_str_eq(v, want[i][1]);
        free(v);
    }
    it_response_free(&r);
}

START_TEST(security_headers_on_every_answer)
{
    expect_security_headers("GET", "/api/health", NULL, 200);
    expect_security_headers("GET", "/api/pitches", NULL, 200);
    expect_security_headers("GET", "/api/pitches", NULL, 200); /* a HIT too */
    expect_security_headers("HEAD", "/api/pitches", NULL, 200);
    expect_security_headers("GET", "/api/pitches/999999999", NULL, 404);
    expect_security_headers("GET", "/api/pitches/abc", NULL, 400);
    expect_security_headers("GET", "/api/users/me", NULL, 401);
    expect_security_headers("DELETE", "/api/health", NULL, 405);
    expect_security_headers("POST", "/api/auth/login", "{", 400);
    expect_security_headers("OPTIONS", "/api/pitches", NULL, 204);
}
END_TEST

/* ---------------------------------------------------------- duplicate keys */

START_TEST(duplicate_json_keys_are_invalid_json)
{
    struct test_user u;
    api_register("dupkeys", "creator", &u);
    expect_error("POST", "/api/auth/login", NULL,
                 "{\"email\":\"a@example.com\",\"email\":\"b@example.com\",\"password\":\"x\"}",
                 400, "invalid_json");
    expect_error("POST", "/api/pitches", u.token,
                 "{\"title\":\"One\",\"logline\":\"L\",\"genre\":\"drama\",\"status\":\"published\","
                 "\"status\":\"draft\"}",
                 400, "invalid_json");
    /* Spelled differently, still the same key. */
    expect_error("POST", "/api/pitches", u.token,
                 "{\"title\":\"One\",\"logline\":\"L\",\"genre\":\"drama\",\"\\u0074itle\":\"Two\"}",
                 400, "invalid_json");
    /* Nothing was created. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pitches WHERE owner_id = %lld",
             (long long)u.id);
    ck_assert_int_eq(it_sql_int(sql), 0);
}
END_TEST

/* ---------------------------------------------------------------- the log */

/* Sends one raw HTTP/1.0 request line to the front server (curl would
 * escape what an attacker sends as it is); returns the status code. */
static int raw_get(const char *raw_path)
{
    const char *url = it_env("PITCHEY_TEST_URL");
    const char *colon = strrchr(url, ':');
    ck_assert_ptr_nonnull(colon);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", raw_path);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    char resp[4096];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof resp - 1 && (k = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    resp[got] = '\0';
    int status = 0;
    ck_assert_int_eq(sscanf(resp, "HTTP/1.%*d %d", &status), 1);
    return status;
}

/* Parses a key=value log line: keys [a-z_]+, values bare (no space, quote,
 * backslash) or double-quoted with \" \\ \xNN escapes.  Returns the
 * decoded value of `want` (malloc'd) or NULL; fails the test when the line
 * does not parse. */
static char *logfmt_value(const char *line, const char *want)
{
    char *found = NULL;
    const char *p = line;
    while (*p && *p != '\n') {
        const char *k = p;
        while ((*p >= 'a' && *p <= 'z') || *p == '_')
            p++;
        ck_assert_msg(p > k && *p == '=', "bad key at \"%.40s\" in %s", k, line);
        size_t klen = (size_t)(p - k);
        p++;
        char val[2048];
        size_t vn = 0;
        if (*p == '"') {
            p++;
            while (*p != '"') {
                ck_assert_msg(*p && *p != '\n', "unterminated quote in %s", line);
                if (*p == '\\') {
                    if (p[1] == '"' || p[1] == '\\') {
                        val[vn++] = p[1];
                        p += 2;
                    } else {
                        unsigned v;
                        ck_assert_msg(p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1,
                                      "bad escape in %s", line);
                        val[vn++] = (char)v;
                        p += 4;
                    }
                } else {
                    val[vn++] = *p++;
                }
                ck_assert_uint_lt(vn, sizeof val);
            }
            p++;
        } else {
            while (*p && *p != ' ' && *p != '\n') {
                ck_assert_msg(*p != '"' && *p != '\\', "bare quote in %s", line);
                val[vn++] = *p++;
                ck_assert_uint_lt(vn, sizeof val);
            }
        }
        ck_assert_msg(*p == ' ' || *p == '\n' || *p == '\0', "junk after a value in %s", line);
        while (*p == ' ')
            p++;
        if (found == NULL && strlen(want) == klen && strncmp(k, want, klen) == 0) {
            found = malloc(vn + 1);
            memcpy(found, val, vn);
            found[vn] = '\0';
        }
    }
    return found;
}

START_TEST(raw_bytes_in_a_path_leave_the_log_text)
{
    char path[256];
    snprintf(path, sizeof path, "/api/probe-%d/\xff\xfe\"x\"=1\\", (int)getpid());
    int st = raw_get(path);
    ck_assert_int_eq(st, 404);
    char logpath[2048];
    snprintf(logpath, sizeof logpath, "%s/logs/api.log", it_env("PITCHEY_STACK_DIR"));
    char marker[64];
    snprintf(marker, sizeof marker, "probe-%d", (int)getpid());
    /* The request line is written before the answer goes out; allow a
     * little slack on a busy machine anyway. */
    int found = 0;
    for (int tries = 0; tries < 50 && !found; tries++) {
        FILE *f = fopen(logpath, "rb");
        ck_assert_ptr_nonnull(f);
        char line[8192];
        while (fgets(line, sizeof line, f)) {
            for (const unsigned char *c = (const unsigned char *)line; *c; c++)
                ck_assert_msg(*c == '\n' || (*c >= ' ' && *c < 0x7f),
                              "api.log holds byte 0x%02x: %s", *c, line);
            if (strstr(line, marker) == NULL || strstr(line, "event=request") == NULL)
                continue;
            char *logged = logfmt_value(line, "path");
            ck_assert_ptr_nonnull(logged);
            ck_assert_str_eq(logged, path); /* decodes back to the exact bytes */
            free(logged);
            char *status = logfmt_value(line, "status");
            ck_assert_str_eq(status, "404");
            free(status);
            found++;
        }
        fclose(f);
        if (!found)
            it_sleep_ms(100);
    }
    ck_assert_int_eq(found, 1);
}
END_TEST

/* ------------------------------------------------------ the secrets check */

/* The end-of-program check (harness it_logs_leaks()) finds a secret in a
 * log, and finds nothing where there is none. */
START_TEST(secret_check_finds_a_leak)
{
    char dir[] = "/tmp/pitchey-leak.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[256], cmd[1024];
    snprintf(p, sizeof p, "%s/logs", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(cmd, sizeof cmd,
             "printf 'tok-AbCdEf0123456789_-xyz\\ncorrect horse\\n' >'%s/secrets' &&"
             " printf 'ts=x level=info event=request path=/api/x\\n' >'%s/logs/api.log'",
             dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(it_logs_leaks(dir), 0);
    snprintf(cmd, sizeof cmd,
             "printf 'ts=x level=info auth=tok-AbCdEf0123456789_-xyz\\n' >>'%s/logs/api.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(it_logs_leaks(dir), 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, login_with_a_3000_character_email_is_422);
    tcase_add_test(tc, expired_login_failures_are_pruned);
    tcase_add_test(tc, security_headers_on_every_answer);
    tcase_add_test(tc, duplicate_json_keys_are_invalid_json);
    tcase_add_test(tc, raw_bytes_in_a_path_leave_the_log_text);
    tcase_add_test(tc, secret_check_finds_a_leak);
    suite_add_tcase(s, tc);
    return s;
}

IT_MAIN(suite, "[auth]\nhash_opslimit = 1\nhash_memlimit = 8192\n", "--no-apache")
