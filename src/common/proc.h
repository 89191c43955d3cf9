/* proc: this process's id without a system call per use.
 *
 * glibc no longer caches getpid(); the API calls for it on every log line,
 * request id and coalescing lock.  The cached value is reset in the child
 * of every fork (pthread_atfork), so forked tests and daemons stay right. */
#ifndef PITCHEY_COMMON_PROC_H
#define PITCHEY_COMMON_PROC_H

#include <sys/types.h>

pid_t proc_pid(void);

#endif
