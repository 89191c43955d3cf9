/* signals: the daemons' stop signals set a flag, nothing more.
 *
 * Handlers are installed with SA_RESTART, so a read or write a signal
 * lands in carries on; the main loops wait in poll() or ppoll(), which
 * return EINTR all the same, and see the flag there (pitchey-api also keeps
 * its stop signals blocked except in ppoll(): see api/server.c).  SIGPIPE is ignored so a client that went away is an error
 * return, not a dead process. */
#ifndef PITCHEY_COMMON_SIGNALS_H
#define PITCHEY_COMMON_SIGNALS_H

/* sigs: a 0-terminated list of signals that call handler. */
void signals_install(void (*handler)(int), const int *sigs);

#endif
