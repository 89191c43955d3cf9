/* pitchey-api: the FastCGI worker.
 *
 * Finds its listening socket (fd 0 from spawn-fcgi or multiwatch, fd 3 from
 * systemd socket activation, or one it opens with --listen), loads the
 * config, and runs the accept loop until told to stop. */
#include "pitchey-build.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/app.h"
#include "api/password.h"
#include "api/server.h"
#include "api/views.h"
#include "common/clock.h"
#include "common/log.h"

#define SD_LISTEN_FDS_START 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pitchey-api [--config PATH] [--listen PATH|HOST:PORT] [--check-config]\n"
            "  Started by spawn-fcgi or multiwatch, the listening socket is fd 0;\n"
            "  under systemd socket activation it is fd 3 (LISTEN_FDS).\n"
            "  --config PATH    settings file (default %s)\n"
            "  --listen ADDR    open this unix socket path or host:port instead\n"
            "  --check-config   load the settings, report, exit\n"
            "  --version        print the version\n",
            config_default_path());
}

static bool is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The systemd protocol: LISTEN_PID names this process. */
static int systemd_fd(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    if (pid && fds && atol(pid) == (long)getpid() && atoi(fds) >= 1)
        return SD_LISTEN_FDS_START;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "check-config", no_argument, NULL, 't' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *listen_addr = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'l': listen_addr = optarg; break;
        case 't': check_only = true; break;
        case 'V': printf("pitchey-api %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    log_init("pitchey-api");
    if (sodium_init() < 0) {
        log_error("event=startup_failed reason=\"libsodium init failed\"");
        return 1;
    }
    struct app app;
    memset(&app, 0, sizeof app);
    char err[512];
    if (config_load(&app.cfg, config_path ? config_path : config_default_path(), err,
                    sizeof err) != 0) {
        fprintf(stderr, "pitchey-api: %s\n", err);
        config_free(&app.cfg);
        return 1;
    }
    enum log_level level;
    if (log_parse_level(app.cfg.log.level, &level) != 0) {
        fprintf(stderr, "pitchey-api: [log] level: expected error, warn, info or debug\n");
        config_free(&app.cfg);
        return 1;
    }
    log_set_level(level);
    if (secret_load(app.cfg.auth.secret_file, app.secret, err, sizeof err) != 0) {
        fprintf(stderr, "pitchey-api: %s\n", err);
        config_free(&app.cfg);
        return 1;
    }
    if (check_only) {
        printf("pitchey-api: configuration OK\n");
        config_free(&app.cfg);
        return 0;
    }

    int fd;
    if (listen_addr) {
        fd = FCGX_OpenSocket(listen_addr, 1024);
        if (fd < 0) {
            fprintf(stderr, "pitchey-api: cannot listen on %s\n", listen_addr);
            config_free(&app.cfg);
            return 1;
        }
    } else if ((fd = systemd_fd()) >= 0) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
    } else {
        fd = 0;
    }
    if (!is_socket(fd)) {
        fprintf(stderr, "pitchey-api: fd %d is not a socket: start under spawn-fcgi, multiwatch "
                        "or systemd, or pass --listen\n", fd);
        config_free(&app.cfg);
        return 1;
    }

    app.pid = getpid();
    app.started_us = clock_mono_us();
    /* A new worker counts as busy: it keeps its caches current until it has
     * been idle for [database] idle_timeout. */
    app.last_request_us = app.started_us;
    struct db_options dbo = {
        .url = app.cfg.database.url,
        .application_name = "pitchey-api",
        .connect_timeout_ms = app.cfg.database.connect_timeout_ms,
        .statement_timeout_ms = app.cfg.database.statement_timeout_ms,
        .idle_timeout_s = app.cfg.database.idle_timeout_s,
        .retries = app.cfg.database.retries,
        .retry_base_ms = app.cfg.database.retry_base_ms,
        .breaker_threshold = app.cfg.database.breaker_threshold,
        .breaker_cooldown_ms = app.cfg.database.breaker_cooldown_ms,
        .prepared_statements = app.cfg.database.prepared_statements,
    };
    app.db = db_new(&dbo);
    struct cache_options co = {
        .servers = app.cfg.cache.servers,
        .timeout_ms = app.cfg.cache.timeout_ms,
        .breaker_threshold = app.cfg.cache.breaker_threshold,
        .breaker_cooldown_ms = app.cfg.cache.breaker_cooldown_ms,
    };
    app.cache = cache_new(&co);
    app.views = views_new(app.cfg.api.view_flush_batch);
    if (password_prepare(&app.cfg) != 0)
        log_warn("event=password_prepare_failed");

    int rc = server_run(&app, fd);

    db_wait(app.db); /* a view flush in flight reports to app.views */
    views_free(app.views);
    cache_free(app.cache);
    db_free(app.db);
    sodium_memzero(app.secret, sizeof app.secret);
    config_free(&app.cfg);
    return rc == 0 ? 0 : 1;
}
