/* Integration: the three ways pitchey-api gets its listening socket
 * (--listen on a unix path or host:port, systemd socket activation; fd 0
 * from spawn-fcgi is what every other suite uses), spoken to in FastCGI
 * directly, and a clean exit on TERM. */
#include "pitchey-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "harness.h"

static const char *const health[] = {
    "REQUEST_METHOD=GET", "REQUEST_URI=/api/health", "SCRIPT_NAME=/api/health",
    "REMOTE_ADDR=127.0.0.1", "SERVER_PROTOCOL=HTTP/1.1", NULL,
};

static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Asks for health until it answers 200 (the worker may still be starting). */
static void expect_health(const char *address)
{
    double t0 = it_now();
    char *out = NULL;
    while (it_now() - t0 < 15) {
        out = fcgi_request(address, health, NULL, 0, 5000);
        if (out && strncmp(out, "Status: 200", 11) == 0)
            break;
        free(out);
        out = NULL;
        it_sleep_ms(100);
    }
    ck_assert_msg(out != NULL, "no 200 from %s", address);
    ck_assert(strstr(out, "\"status\":\"ok\"") != NULL);
    ck_assert(strstr(out, "X-Worker-Version: " PACKAGE_VERSION) != NULL);
    free(out);
}

static int free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void stop_cleanly(pid_t pid)
{
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
}

START_TEST(listen_on_unix_path)
{
    char dir[] = "/tmp/pitchey-sock.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock[256];
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    char *argv[] = { (char *)it_env("PITCHEY_API"), (char *)"--config",
                     (char *)it_env("PITCHEY_CONFIG"), (char *)"--listen", sock, NULL };
    pid_t pid = spawn(argv);
    expect_health(sock);
    stop_cleanly(pid);
    unlink(sock);
    rmdir(dir);
}
END_TEST

START_TEST(listen_on_tcp)
{
    /* A port the kernel says is free at this moment. */
    int port = free_tcp_port();
    ck_assert_int_gt(port, 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    char *argv[] = { (char *)it_env("PITCHEY_API"), (char *)"--config",
                     (char *)it_env("PITCHEY_CONFIG"), (char *)"--listen", addr, NULL };
    pid_t pid = spawn(argv);
    expect_health(addr);
    stop_cleanly(pid);
}
END_TEST

START_TEST(systemd_socket_activation)
{
    if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
        return; /* not on this system */
    char dir[] = "/tmp/pitchey-sock.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock[256];
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    /* systemd-socket-activate holds the socket and starts the worker on the
     * first connection with LISTEN_FDS=1 and LISTEN_PID set. */
    char *argv[] = { (char *)"/usr/bin/systemd-socket-activate", (char *)"-l", sock,
                     (char *)it_env("PITCHEY_API"), (char *)"--config",
                     (char *)it_env("PITCHEY_CONFIG"), NULL };
    pid_t pid = spawn(argv);
    double t0 = it_now();
    struct stat st;
    while (stat(sock, &st) != 0 && it_now() - t0 < 10)
        it_sleep_ms(50);
    expect_health(sock);
    expect_health(sock); /* the same worker keeps accepting */
    stop_cleanly(pid);
    unlink(sock);
    rmdir(dir);
}
END_TEST

/* A worker above [api] max_rss_mb answers the request in flight, then
 * leaves by itself (status 0, for its supervisor to replace) and says why.
 * 1 MiB: every worker is above it once it has started. */
START_TEST(memory_ceiling_recycles_the_worker)
{
    char dir[] = "/tmp/pitchey-sock.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sock[256], conf[256], log[256], cmd[2048];
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    snprintf(conf, sizeof conf, "%s/pitchey.conf", dir);
    snprintf(log, sizeof log, "%s/api.log", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf '\\n[api]\\nmax_rss_mb = 1\\n' >>'%s'",
             it_env("PITCHEY_CONFIG"), conf, conf);
    int rc;
    free(it_run(cmd, &rc));
    ck_assert_int_eq(rc, 0);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(it_env("PITCHEY_API"), "pitchey-api", "--config", conf, "--listen", sock,
              (char *)NULL);
        _exit(127);
    }
    expect_health(sock);
    double t0 = it_now();
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && it_now() - t0 < 10)
        it_sleep_ms(20);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("the worker stayed above its memory ceiling");
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    snprintf(cmd, sizeof cmd, "grep -c 'event=worker_recycle reason=memory' '%s'", log);
    char *out = it_run(cmd, &rc);
    ck_assert_msg(rc == 0 && atoi(out) == 1, "log: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    free(it_run(cmd, &rc));
}
END_TEST

START_TEST(not_a_socket_is_refused)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' </dev/null 2>&1", it_env("PITCHEY_API"),
             it_env("PITCHEY_CONFIG"));
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_msg(rc == 1, "exit %d", rc);
    ck_assert_msg(strstr(out, "is not a socket") != NULL, "got %s", out);
    free(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_sockets");
    TCase *tc = tcase_create("sockets");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, listen_on_unix_path);
    tcase_add_test(tc, listen_on_tcp);
    tcase_add_test(tc, systemd_socket_activation);
    tcase_add_test(tc, memory_ceiling_recycles_the_worker);
    tcase_add_test(tc, not_a_socket_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

IT_MAIN(suite, NULL, "--no-apache --no-rooms")
