/* signals: stop-signal handlers (see signals.h). */
#include "pitchey-build.h"

#include <signal.h>
#include <string.h>

#include "common/signals.h"

void signals_install(void (*handler)(int), const int *sigs)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a stop signal that lands while a worker reads a request or
     * writes its answer must not turn that read or write into EINTR (libfcgi
     * treats it as a broken stream, and a graceful restart would fail the
     * request in flight).  The loops that must notice the signal wait in
     * poll(), which returns EINTR whatever this flag says. */
    sa.sa_flags = SA_RESTART;
    for (const int *s = sigs; *s; s++)
        sigaction(*s, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}
