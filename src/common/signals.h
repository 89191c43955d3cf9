/* signals: the daemons' stop signals set a flag, nothing more.
 *
 * Handlers are installed without SA_RESTART, so a blocking poll() or
 * accept() wakes up and the main loop sees the flag; SIGPIPE is ignored so
 * a client that went away is an error return, not a dead process. */
#ifndef PITCHEY_COMMON_SIGNALS_H
#define PITCHEY_COMMON_SIGNALS_H

/* sigs: a 0-terminated list of signals that call handler. */
void signals_install(void (*handler)(int), const int *sigs);

#endif
