/* worker: body reading, after-response work, housekeeping and shutdown of
 * one API process (see worker_hooks.h). */
#include "pitchey-build.h"

#include "api/worker_hooks.h"
#include "common/log.h"

int worker_read_body(struct app *app, struct request *req, FCGX_Stream *in, struct response *res)
{
    (void)res;
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

void worker_after_response(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    (void)res;
}

void worker_housekeeping(struct app *app, int64_t now_us)
{
    db_housekeeping(app->db, now_us);
}

void worker_shutdown(struct app *app)
{
    (void)app;
}
