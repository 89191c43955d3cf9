/* worker_hooks: the per-process work around requests.
 *
 * The accept loop calls these at fixed points: body reading before
 * dispatch, work after the answer was sent (refreshes, warming), periodic
 * housekeeping (idle connection close, view flush, cache epoch) and the
 * last flush at shutdown. */
#ifndef PITCHEY_API_WORKER_HOOKS_H
#define PITCHEY_API_WORKER_HOOKS_H

#include <fcgiapp.h>

#include "api/app.h"

/* Reads the body of POST and PUT up to [http] max_body; a larger body is
 * drained and marked, so the handler answers 413 in its turn.  Returns 0
 * (the handler runs) or -1 when res already holds the answer. */
int worker_read_body(struct app *app, struct request *req, FCGX_Stream *in,
                     struct response *res);
void worker_after_response(struct app *app, struct request *req, struct response *res);
void worker_housekeeping(struct app *app, int64_t now_us);
void worker_shutdown(struct app *app);

#endif
