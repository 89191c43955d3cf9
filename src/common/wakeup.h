/* wakeup: wake the processes of this host that wait for something keyed by
 * a hash, without polling (futexes in a small MAP_SHARED file).
 *
 * The edge cache uses it for request coalescing: a worker that misses while
 * another holds the refresh lock waits on the key's bucket, and the worker
 * that stores the entry (or gives the lock up) signals it, so a waiter
 * wakes microseconds after the entry exists instead of at its next poll.
 * Workers on other hosts are not reached: waiters always give a timeout and
 * look again when it passes.
 *
 * Buckets are shared by hash: a signal may wake a waiter for another key
 * (it looks, finds nothing, waits again); it never loses a wake-up, because
 * a waiter takes its ticket before it looks and waits only while the
 * bucket still holds that ticket. */
#ifndef PITCHEY_COMMON_WAKEUP_H
#define PITCHEY_COMMON_WAKEUP_H

#include <stdbool.h>
#include <stdint.h>

struct wakeup;

/* Maps (creating it if needed) the table at path.  NULL when that fails:
 * callers then poll. */
struct wakeup *wakeup_open(const char *path);
void wakeup_close(struct wakeup *w);
/* The bucket's current ticket: take it before looking for the thing. */
uint32_t wakeup_ticket(struct wakeup *w, uint64_t hash);
/* Sleeps until the bucket moves past ticket (true) or timeout_us passes
 * or a signal arrives (false). */
bool wakeup_wait(struct wakeup *w, uint64_t hash, uint32_t ticket, int timeout_us);
/* Moves the bucket on and wakes its waiters (no system call when none
 * waits). */
void wakeup_signal(struct wakeup *w, uint64_t hash);

#endif
