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
    for (const int *s = sigs; *s; s++)
        sigaction(*s, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}
