/* backoff: exponential backoff with jitter for retries.
 *
 * Try k (0-based) waits base * 2^k, scaled by a random factor in
 * [0.5, 1.0] so that workers failing together do not retry together
 * ("equal jitter").  The random source is passed in for testability. */
#ifndef PITCHEY_COMMON_BACKOFF_H
#define PITCHEY_COMMON_BACKOFF_H

#include <stdint.h>

#define BACKOFF_MAX_MS 10000

/* unit is a uniform random number in [0, 1]. */
int backoff_delay_ms(int base_ms, int attempt, double unit);

#endif
