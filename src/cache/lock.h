/* lock: the short coalescing lock of a cache entry.
 *
 * On a miss one worker wins the lock (an add of the entry's lock key) and
 * runs the query; the others wait briefly for its entry.  The lock expires
 * on its own (memcached TTLs are whole seconds, so the TTL is rounded up),
 * so a worker that dies holding it blocks nobody for long. */
#ifndef PITCHEY_CACHE_LOCK_H
#define PITCHEY_CACHE_LOCK_H

#include "cache/client.h"

/* The lock lives on the server of group (the entry's key), so it comes
 * back in the entry's multi-get.  CACHE_OK: won; CACHE_NOT_FOUND: someone
 * holds it; CACHE_ERROR: fail open. */
enum cache_result cache_lock_acquire(struct cache *c, const char *group, const char *lock_key,
                                     int lock_ms) __attribute__((warn_unused_result));
void cache_lock_release(struct cache *c, const char *group, const char *lock_key);

#endif
