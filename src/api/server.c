/* server: accept loop, signals and housekeeping (see server.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/server.h"
#include "api/worker_hooks.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "metrics/segment.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The mask to wait with: the stop signals are blocked everywhere else.
 * libfcgi closes a connection it has just accepted when a signal interrupts
 * the select() it waits in for the first bytes (is_af_unix_keeper), and
 * select() is never restarted: a stop signal landing there dropped the
 * request of a front server that had just connected (seen under a reload:
 * Apache "Broken pipe", 503).  So the stop signals are only delivered in
 * ppoll() below, when the worker holds no connection. */
static sigset_t wait_mask;

static void install_signals(void)
{
    /* USR1 is multiwatch's graceful signal; USR2 it only forwards. */
    static const int stop[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2, 0 };
    signals_install(on_stop_signal, stop);
    signal(SIGHUP, SIG_IGN); /* multiwatch does not forward it */
    sigset_t block;
    sigemptyset(&block);
    for (const int *s = stop; *s; s++)
        sigaddset(&block, *s);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    for (const int *s = stop; *s; s++)
        sigdelset(&wait_mask, *s);
}

/* Lets stop signals that are pending in: the worker may be busy for long
 * stretches without ever waiting in ppoll(). */
static void take_pending_signals(void)
{
    struct timespec zero = { 0, 0 };
    (void)ppoll(NULL, 0, &zero, &wait_mask);
}

/* Above [api] max_rss_mb: time to leave (after the request in flight). */
static bool over_memory_ceiling(const struct app *app)
{
    if (app->cfg.api.max_rss_mb <= 0)
        return false;
    uint64_t rss = metrics_rss_bytes();
    if (rss <= (uint64_t)app->cfg.api.max_rss_mb * 1024 * 1024)
        return false;
    log_warn("event=worker_recycle reason=memory rss_mb=%.1f max_rss_mb=%d",
             (double)rss / 1048576.0, app->cfg.api.max_rss_mb);
    return true;
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
    int64_t spent_us = clock_mono_us() - req.started_us;
    if (app->cfg.log.requests && log_enabled(LOG_LEVEL_INFO)) {
        /* Method and path are the client's bytes: escaped (log_escape()). */
        char method[64], path[LOG_VALUE_MAX];
        log_info("event=request method=%s path=%s status=%d code=%s cache=%s "
                 "duration_ms=%lld.%03lld db_ms=%lld.%03lld bytes=%zu",
                 log_escape(method, sizeof method, req.method_name),
                 log_escape(path, sizeof path, req.path), res.status,
                 res.error_code ? res.error_code : "-", res.cache_status ? res.cache_status : "-",
                 (long long)(spent_us / 1000), (long long)(spent_us % 1000),
                 (long long)(db_us / 1000), (long long)(db_us % 1000), res.body.len);
    }
    FCGX_Finish_r(fr);
    metrics_record_request((size_t)req.route_index, metrics_method_from_bit(req.method),
                           res.status, clock_mono_us() - req.started_us, db_us);
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
    /* Right after a request, try to accept at once: under load the next
     * connection is usually waiting, and the poll() before it would be a
     * system call per request for nothing.  Only when nothing waits does
     * the worker sleep in poll() until a connection or its housekeeping. */
    bool busy = false;
    while (!stop_requested) {
        int64_t now = clock_mono_us();
        if (now >= next_hk) {
            take_pending_signals();
            if (stop_requested)
                break;
            worker_housekeeping(app, now);
            if (over_memory_ceiling(app))
                break;
            /* A connection probe in flight advances every few ms, so the
             * circuit closes as soon as Postgres answers. */
            next_hk = now + (db_probe_pending(app->db) ? 5000 : hk_every);
        }
        if (!busy) {
            int wait_ms = (int)((next_hk - now + 999) / 1000);
            struct pollfd p = { listen_fd, POLLIN, 0 };
            if (wait_ms < 1)
                wait_ms = 1;
            struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
            int ready = ppoll(&p, 1, &ts, &wait_mask);
            if (ready < 0 && errno != EINTR) {
                log_error("event=poll_failed reason=\"%s\"", strerror(errno));
                rc = -1;
                break;
            }
            if (ready <= 0 || stop_requested)
                continue;
        }
        int a = FCGX_Accept_r(&fr);
        busy = false;
        if (a == -EAGAIN || a == -EWOULDBLOCK || a == -EINTR || a == -ECONNABORTED)
            continue; /* nothing waits, a sibling won the race, or the client left */
        if (a < 0) {
            log_error("event=accept_failed rc=%d", a);
            rc = -1;
            break;
        }
        app->requests++;
        app->last_request_us = clock_mono_us();
        handle_one(app, &fr);
        busy = true;
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
