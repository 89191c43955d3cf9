/* breaker: a circuit breaker for one dependency of one process.
 *
 * Closed: calls go through.  After `threshold` consecutive failures it
 * opens: calls fail fast for `cooldown_us`.  Then it lets exactly one probe
 * through (half-open); the probe's success closes it, its failure opens it
 * again for another cooldown.  A probe whose outcome is never reported (a
 * caller that checked the breaker and then had no call to make) counts as
 * failed after a cooldown, so the breaker cannot stay half-open forever.
 * Time is passed in (monotonic microseconds), which keeps the module pure
 * and its tests exact. */
#ifndef PITCHEY_COMMON_BREAKER_H
#define PITCHEY_COMMON_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

struct breaker {
    int threshold;
    int64_t cooldown_us;
    int failures;
    int64_t open_until;  /* 0 when closed */
    bool probing;        /* a half-open probe is in flight */
    int64_t probe_until; /* a probe not reported by then counts as failed */
    uint64_t opens;      /* times it opened, for metrics */
    uint64_t rejects;    /* calls refused while open */
};

void breaker_init(struct breaker *b, int threshold, int cooldown_ms);
/* True if the caller may try now.  While open returns false and counts a
 * reject; when the cooldown has passed, returns true once (the probe). */
bool breaker_allow(struct breaker *b, int64_t now);
void breaker_success(struct breaker *b);
void breaker_failure(struct breaker *b, int64_t now);
/* Opens at once, whatever the count (a failure that proves the dependency
 * is gone, such as a timeout). */
void breaker_trip(struct breaker *b, int64_t now);
bool breaker_is_open(const struct breaker *b, int64_t now);
/* Whole seconds until a probe will be allowed, at least 1 (Retry-After). */
int breaker_retry_after_s(const struct breaker *b, int64_t now);

#endif
