/* signals: the daemons' stop signals set a flag, nothing more.
 *
 * Handlers are installed with SA_RESTART, so a read or write in flight
 * finishes (a graceful restart completes the request it interrupts); the
 * main loops wait in poll(), which returns EINTR all the same, and see the
 * flag there (pitchey-api accepts only after poll() on a non-blocking
 * socket).  SIGPIPE is ignored so a client that went away is an error
 * return, not a dead process. */
#ifndef PITCHEY_COMMON_SIGNALS_H
#define PITCHEY_COMMON_SIGNALS_H

/* sigs: a 0-terminated list of signals that call handler. */
void signals_install(void (*handler)(int), const int *sigs);

#endif
