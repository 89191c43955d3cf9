/* harness: stack control and an HTTP client for integration tests. */
#include "pitchey-build.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/jsonutil.h"
#include "harness.h"

static char stack_dir[1024];
static pid_t owner_pid;
static bool private_stack;

static const char *stack_script(void)
{
    static char path[2048];
    const char *src = getenv("SRCDIR");
    snprintf(path, sizeof path, "%s/tests/harness/stack", src ? src : ".");
    return path;
}

const char *it_env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

bool it_stack_is_private(void)
{
    return private_stack;
}

void it_stack_stop(void)
{
    if (!private_stack || getpid() != owner_pid || stack_dir[0] == '\0')
        return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' stop '%s' >&2", stack_script(), stack_dir);
    int rc = system(cmd);
    (void)rc;
    stack_dir[0] = '\0';
}

/* Secrets the tests used (tokens, passwords), one a line in DIR/secrets,
 * appended by every process of the test program (Check forks each test). */
static void record_secret(const char *secret)
{
    if (stack_dir[0] == '\0' || secret == NULL || strlen(secret) < 8 || strchr(secret, '\n'))
        return;
    /* Load tests send one token thousands of times: write each once. */
    static char seen[16][80];
    static unsigned next;
    for (unsigned i = 0; i < 16; i++)
        if (strncmp(seen[i], secret, sizeof seen[i]) == 0)
            return;
    snprintf(seen[next++ % 16], sizeof seen[0], "%s", secret);
    char path[1100];
    snprintf(path, sizeof path, "%s/secrets", stack_dir);
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    fprintf(f, "%s\n", secret);
    fclose(f);
}

int it_logs_leaks(const char *dir)
{
    char cmd[4096];
    /* Fixed strings; exit 1 is "none found". */
    snprintf(cmd, sizeof cmd,
             "test -s '%s/secrets' || exit 1; grep -rlaF -f '%s/secrets' '%s/logs' >&2", dir, dir,
             dir);
    int rc = system(cmd);
    if (!WIFEXITED(rc))
        return -1;
    return WEXITSTATUS(rc) == 0 ? 1 : WEXITSTATUS(rc) == 1 ? 0 : -1;
}

int it_stack_finish(void)
{
    if (!private_stack || getpid() != owner_pid || stack_dir[0] == '\0') {
        it_stack_stop();
        return 0;
    }
    int leaks = it_logs_leaks(stack_dir);
    it_stack_stop();
    if (leaks == 0)
        return 0;
    fprintf(stderr, "harness: FAIL: the stack's logs %s a secret the tests used%s\n",
            leaks < 0 ? "could not be checked for" : "hold", leaks < 0 ? "" : " (files above)");
    return 1;
}

/* A test program that exits without IT_MAIN's end still gets the check. */
static void stop_at_exit(void)
{
    if (it_stack_finish() != 0)
        _exit(1);
}

static void on_signal(int sig)
{
    it_stack_stop();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads "export NAME='value'" lines. */
static void load_env_lines(FILE *f)
{
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "export ", 7) != 0)
            continue;
        char *name = line + 7;
        char *eq = strchr(name, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *val = eq + 1;
        size_t n = strlen(val);
        while (n && (val[n - 1] == '\n' || val[n - 1] == '\r'))
            val[--n] = '\0';
        if (n >= 2 && val[0] == '\'' && val[n - 1] == '\'') {
            val[n - 1] = '\0';
            val++;
        }
        setenv(name, val, 1);
    }
}

void it_stack_start(const char *extra_conf, const char *stack_args)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("PITCHEY_TEST_URL") && *getenv("PITCHEY_TEST_URL")) {
        const char *d = getenv("PITCHEY_STACK_DIR");
        snprintf(stack_dir, sizeof stack_dir, "%s", d ? d : "");
        return;
    }
    owner_pid = getpid();
    private_stack = true;
    char conf_path[] = "/tmp/pitchey-it-conf.XXXXXX";
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "'%s' start --owner-pid %d", stack_script(), (int)owner_pid);
    if (extra_conf) {
        int fd = mkstemp(conf_path);
        if (fd < 0 || write(fd, extra_conf, strlen(extra_conf)) < 0) {
            fprintf(stderr, "harness: cannot write extra config\n");
            exit(99);
        }
        close(fd);
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --extra-conf '%s'", conf_path);
    }
    if (stack_args)
        snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", stack_args);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(stop_at_exit);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        fprintf(stderr, "harness: cannot run %s\n", cmd);
        exit(99);
    }
    load_env_lines(f);
    int rc = pclose(f);
    if (extra_conf)
        unlink(conf_path);
    const char *d = getenv("PITCHEY_STACK_DIR");
    snprintf(stack_dir, sizeof stack_dir, "%s", d ? d : "");
    if (rc != 0 || !getenv("PITCHEY_TEST_URL")) {
        fprintf(stderr, "harness: the stack did not start (exit %d)\n", rc);
        it_stack_stop();
        exit(99); /* automake: a hard error, not a test failure */
    }
    fprintf(stderr, "harness: stack up at %s (dir %s)\n", getenv("PITCHEY_TEST_URL"), stack_dir);
}

int it_stack(const char *cmd, const char *args)
{
    char line[4096];
    snprintf(line, sizeof line, "'%s' %s '%s' %s >&2", stack_script(), cmd, stack_dir,
             args ? args : "");
    int rc = system(line);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *it_run(const char *cmd, int *exit_code)
{
    FILE *f = popen(cmd, "r");
    struct buf b = BUF_INIT;
    char chunk[1024];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    int rc = f ? pclose(f) : -1;
    if (exit_code)
        *exit_code = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    buf_reserve(&b, 0);
    return buf_steal(&b, NULL);
}

char *it_stack_output(const char *cmd, const char *args)
{
    char line[4096];
    snprintf(line, sizeof line, "'%s' %s '%s' %s", stack_script(), cmd, stack_dir,
             args ? args : "");
    return it_run(line, NULL);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *user)
{
    buf_append(user, ptr, size * nmemb);
    return size * nmemb;
}

/* Keeps only the last header block (after redirects or 100-continue). */
static size_t collect_header(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct buf *b = user;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        buf_reset(b);
    buf_append(b, ptr, n);
    return n;
}

/* Records the string member `name` of a JSON object text (len bytes, not
 * necessarily NUL-terminated), if any. */
static void record_json_secret(const char *text, size_t len, const char *name)
{
    if (text == NULL || len == 0 || memmem(text, len, name, strlen(name)) == NULL)
        return;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len), *v;
    json_tokener_free(tok);
    if (o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
        record_secret(json_object_get_string(v));
    json_object_put(o);
}

int it_request(const char *base, const char *method, const char *path, const char *body,
               const char *const *headers, struct it_response *out)
{
    memset(out, 0, sizeof *out);
    char url[8192];
    snprintf(url, sizeof url, "%s%s", base ? base : it_env("PITCHEY_TEST_URL"), path);
    CURL *c = curl_easy_init();
    struct buf b = BUF_INIT, h = BUF_INIT;
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], "Authorization: Bearer ", 22) == 0)
            record_secret(headers[i] + 22);
    record_json_secret(body, body ? strlen(body) : 0, "password");
    double t0 = it_now();
    CURLcode rc = curl_easy_perform(c);
    out->seconds = it_now() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    buf_reserve(&b, 0);
    buf_reserve(&h, 0);
    out->body = buf_steal(&b, &out->body_len);
    out->headers = buf_steal(&h, NULL);
    if (out->status >= 200 && out->status < 300)
        record_json_secret(out->body, out->body_len, "token");
    return rc == CURLE_OK ? 0 : -1;
}

int it_get(const char *path, struct it_response *out)
{
    return it_request(NULL, "GET", path, NULL, NULL, out);
}

void it_response_free(struct it_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

char *it_header(const struct it_response *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(p + len - v);
            char *out = malloc(vlen + 1);
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return NULL;
}

struct json_object *it_json(const struct it_response *r)
{
    const char *why = NULL;
    struct json_object *o = json_parse_strict(r->body ? r->body : "", r->body_len, &why);
    ck_assert_msg(o != NULL, "body is not JSON (%s): %.200s", why ? why : "?",
                  r->body ? r->body : "");
    return o;
}

struct json_object *it_path(struct json_object *obj, const char *dotted)
{
    char key[128];
    const char *p = dotted;
    while (obj && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        struct json_object *next = NULL;
        if (!json_object_object_get_ex(obj, key, &next))
            return NULL;
        obj = next;
        p += n;
        if (*p == '.')
            p++;
    }
    return obj;
}

void it_assert_error(const struct it_response *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld; body %.300s", r->status, status,
                  r->body ? r->body : "");
    struct json_object *o = it_json(r);
    struct json_object *c = it_path(o, "error.code");
    struct json_object *m = it_path(o, "error.message");
    ck_assert_msg(c && json_object_is_type(c, json_type_string), "no error.code: %s", r->body);
    ck_assert_msg(m && json_object_is_type(m, json_type_string), "no error.message: %s",
                  r->body);
    ck_assert_str_eq(json_object_get_string(c), code);
    char *ct = it_header(r, "Content-Type");
    ck_assert_msg(ct && strcmp(ct, "application/json; charset=utf-8") == 0, "content type %s",
                  ct ? ct : "(none)");
    free(ct);
    json_object_put(o);
}

long long it_sql_int(const char *sql)
{
    PGconn *c = PQconnectdb("");
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

double it_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void it_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}
