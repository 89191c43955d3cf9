/* lock: coalescing locks (see lock.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <unistd.h>

#include "cache/lock.h"
#include "common/proc.h"

enum cache_result cache_lock_acquire(struct cache *c, const char *group, const char *lock_key,
                                     int lock_ms)
{
    char owner[24];
    int n = snprintf(owner, sizeof owner, "%ld", (long)proc_pid());
    /* memcached's clock ticks in whole seconds: an item set with exptime N
     * can vanish after N-1 seconds.  One more second keeps the lock for at
     * least lock_ms (the holder deletes it when done anyway). */
    int ttl_s = (lock_ms + 999) / 1000 + 1;
    return cache_add_by(c, group, lock_key, owner, (size_t)n, ttl_s);
}

void cache_lock_release(struct cache *c, const char *group, const char *lock_key)
{
    (void)cache_delete_by(c, group, lock_key);
}
