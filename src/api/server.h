/* server: the FastCGI accept loop of one worker.
 *
 * Waits on the listening socket with a timeout so housekeeping runs even
 * with no traffic; the socket is non-blocking, so a worker that loses the
 * accept race to a sibling just goes back to waiting.  TERM, INT, USR1
 * (multiwatch's graceful signal) and USR2 set a flag: the request in
 * flight finishes, then the loop ends. */
#ifndef PITCHEY_API_SERVER_H
#define PITCHEY_API_SERVER_H

#include "api/app.h"

/* Returns 0 on a clean stop (signal or max_requests), -1 on a fatal error. */
int server_run(struct app *app, int listen_fd);

#endif
