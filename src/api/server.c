/* server: accept loop, signals and housekeeping (see server.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>

#include "api/server.h"
#include "api/worker_hooks.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/signals.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    /* USR1 is multiwatch's graceful signal; USR2 it only forwards. */
    static const int stop[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2, 0 };
    signals_install(on_stop_signal, stop);
    signal(SIGHUP, SIG_IGN); /* multiwatch does not forward it */
}

static void handle_one(struct app *app, FCGX_Request *fr)
{
    struct request req;
    struct response res;
    request_init(&req, fr->envp);
    response_init(&res);
    log_set_request_id(req.request_id);
    (void)db_take_wait_us(app->db);

    if (worker_read_body(app, &req, fr->in, &res) == 0)
        dispatch_request(app, &req, &res);

    int64_t db_us = db_take_wait_us(app->db);
    dispatch_finish_headers(app, &req, &res, db_us);
    bool head = req.method == METHOD_HEAD;
    if (response_write(&res, head, fr->out) != 0)
        log_info("event=client_gone");
    if (app->cfg.log.requests && log_enabled(LOG_LEVEL_INFO)) {
        /* Method and path are the client's bytes: escaped (log_escape()). */
        char method[64], path[LOG_VALUE_MAX];
        log_info("event=request method=%s path=%s status=%d code=%s cache=%s "
                 "duration_ms=%.3f db_ms=%.3f bytes=%zu",
                 log_escape(method, sizeof method, req.method_name),
                 log_escape(path, sizeof path, req.path), res.status,
                 res.error_code ? res.error_code : "-", res.cache_status ? res.cache_status : "-",
                 (double)(clock_mono_us() - req.started_us) / 1000.0, (double)db_us / 1000.0,
                 res.body.len);
    }
    FCGX_Finish_r(fr);
    /* The client has its answer: now do work it should not wait for. */
    worker_after_response(app, &req, &res);
    log_set_request_id(NULL);
    response_free(&res);
    request_free(&req);
}

int server_run(struct app *app, int listen_fd)
{
    if (FCGX_Init() != 0) {
        log_error("event=fcgx_init_failed");
        return -1;
    }
    install_signals();
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        log_error("event=listen_socket_bad reason=\"%s\"", strerror(errno));
        return -1;
    }
    FCGX_Request fr;
    if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("event=fcgx_init_request_failed");
        return -1;
    }
    /* Recycle after max_requests plus up to 10% jitter, so a pool started
     * together does not restart together (and trip multiwatch's limit). */
    uint64_t limit = 0;
    if (app->cfg.api.max_requests > 0)
        limit = (uint64_t)app->cfg.api.max_requests +
                randombytes_uniform((uint32_t)app->cfg.api.max_requests / 10 + 1);

    int64_t hk_every = (int64_t)app->cfg.api.housekeeping_ms * 1000;
    int64_t next_hk = clock_mono_us() + hk_every;
    log_info("event=worker_start version=%s", PACKAGE_VERSION);
    int rc = 0;
    while (!stop_requested) {
        int64_t now = clock_mono_us();
        if (now >= next_hk) {
            worker_housekeeping(app, now);
            /* A connection probe in flight advances every few ms, so the
             * circuit closes as soon as Postgres answers. */
            next_hk = now + (db_probe_pending(app->db) ? 5000 : hk_every);
        }
        int wait_ms = (int)((next_hk - now + 999) / 1000);
        struct pollfd p = { listen_fd, POLLIN, 0 };
        int ready = poll(&p, 1, wait_ms < 1 ? 1 : wait_ms);
        if (ready < 0 && errno != EINTR) {
            log_error("event=poll_failed reason=\"%s\"", strerror(errno));
            rc = -1;
            break;
        }
        if (ready <= 0 || stop_requested)
            continue;
        int a = FCGX_Accept_r(&fr);
        if (a == -EAGAIN || a == -EWOULDBLOCK || a == -EINTR || a == -ECONNABORTED)
            continue; /* a sibling won the race, or the client left */
        if (a < 0) {
            log_error("event=accept_failed rc=%d", a);
            rc = -1;
            break;
        }
        app->requests++;
        app->last_request_us = clock_mono_us();
        handle_one(app, &fr);
        if (limit && app->requests >= limit) {
            log_info("event=worker_recycle requests=%llu", (unsigned long long)app->requests);
            break;
        }
    }
    worker_shutdown(app);
    FCGX_Free(&fr, 0);
    log_info("event=worker_stop requests=%llu signal=%d", (unsigned long long)app->requests,
             (int)stop_requested);
    return rc;
}
