/* proc: cached process id (see proc.h). */
#include "pitchey-build.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/proc.h"

static pid_t cached;

static void forget(void)
{
    cached = 0;
}

pid_t proc_pid(void)
{
    if (cached == 0) {
        static bool registered;
        if (!registered) {
            pthread_atfork(NULL, NULL, forget);
            registered = true;
        }
        cached = getpid();
    }
    return cached;
}
