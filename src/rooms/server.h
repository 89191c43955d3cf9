/* server: the lws context and the /ws protocol: handshake, frames in and
 * out, GET /metrics, the sweep, and shutdown (1001 to every client).
 * One thread, one loop; nothing here blocks. */
#ifndef PITCHEY_ROOMS_SERVER_H
#define PITCHEY_ROOMS_SERVER_H

#include <stdbool.h>

/* Close code for a connection that showed no sign of life for [rooms]
 * idle_timeout (private range of RFC 6455; 1001 stays for shutdown). */
#define ROOMS_CLOSE_IDLE 4408

/* Creates the context listening on [rooms] listen.  Returns -1 with a
 * logged reason. */
int server_init(void) __attribute__((warn_unused_result));
/* Runs the loop until a shutdown finishes. */
void server_run(void);
void server_free(void);
/* From a signal handler: asks the loop to shut down. */
void server_request_stop(void);

#endif
