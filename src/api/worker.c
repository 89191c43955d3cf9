/* worker: body reading, after-response work, housekeeping and shutdown of
 * one API process (see worker_hooks.h). */
#include "pitchey-build.h"

#include "api/edge.h"
#include "api/handle_metrics.h"
#include "api/views.h"
#include "api/worker_hooks.h"
#include "common/clock.h"
#include "common/log.h"
#include "metrics/segment.h"

int worker_read_body(struct app *app, struct request *req, FCGX_Stream *in, struct response *res)
{
    (void)res;
    /* The first hook of every request: the worker is busy from here until
     * metrics_record_request() after the answer. */
    metrics_request_begin();
    if (req->method != METHOD_POST && req->method != METHOD_PUT)
        return 0;
    long max = app->cfg.http.max_body;
    char chunk[16384];
    for (;;) {
        int n = FCGX_GetStr(chunk, sizeof chunk, in);
        if (n <= 0)
            break;
        /* Past the limit the rest is drained, not kept, so the front server
         * sees its whole request consumed and relays our 413. */
        if (!req->body_too_large) {
            if ((long)(req->body.len + (size_t)n) > max) {
                req->body_too_large = true;
                buf_free(&req->body);
            } else {
                buf_append(&req->body, chunk, (size_t)n);
            }
        }
    }
    return 0;
}

/* views_flush(), counted for the metrics when it had something to write
 * and sent it or could not (a flush left for later is views' own count;
 * the statement's own outcome arrives later, as a database figure). */
static int flush_views(struct app *app)
{
    bool pending = views_pending(app->views) > 0;
    int rc = views_flush(app->views, app->db);
    if (pending && rc != 1)
        metrics_count_view_flush(rc == 0);
    return rc;
}

void worker_after_response(struct app *app, struct request *req, struct response *res)
{
    edge_after_response(app, req, res);
    if (db_sending(app->db))
        db_poll(app->db); /* a flush's result, if it came */
    if (views_batch_full(app->views))
        (void)flush_views(app);
}

void worker_housekeeping(struct app *app, int64_t now_us)
{
    static int64_t next_flush;
    if (now_us >= next_flush) {
        (void)flush_views(app);
        next_flush = now_us + (int64_t)app->cfg.api.view_flush_ms * 1000;
    }
    edge_housekeeping(app, now_us);
    db_housekeeping(app->db, now_us);
    /* Housekeeping runs every few ms while a connection probe is in
     * flight; the figures need no more than four copies a second. */
    static int64_t next_publish;
    if (now_us >= next_publish) {
        api_metrics_publish(app);
        next_publish = now_us + 250000;
    }
}

void worker_shutdown(struct app *app)
{
    /* Leaving: the counts are lost unless written now, which is worth a
     * short wait (up to 500 ms) for another worker's flush. */
    int64_t give_up = clock_mono_us() + 500000;
    while (views_pending(app->views) > 0 && clock_mono_us() < give_up) {
        int rc = flush_views(app);
        db_wait(app->db);
        if (rc != 0 && !views_in_flight(app->views))
            clock_sleep_ms(2);
    }
    db_wait(app->db);
    if (views_pending(app->views) > 0)
        log_warn("event=views_lost_at_shutdown pending=%d", views_pending(app->views));
    /* Last figures first: the slot keeps them for the next worker. */
    api_metrics_publish(app);
    metrics_worker_detach();
}
