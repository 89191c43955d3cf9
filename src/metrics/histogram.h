/* histogram: the fixed latency buckets every pool-wide histogram uses, and
 * the quantile estimate read back from them.
 *
 * Buckets are upper bounds in microseconds, from 50 us (a cached hit is a
 * few hundred) to 10 s, plus an implicit +Inf.  They are part of the
 * shared segment's layout: changing them changes METRICS_FORMAT_VERSION. */
#ifndef PITCHEY_METRICS_HISTOGRAM_H
#define PITCHEY_METRICS_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_BUCKETS 26                     /* finite bounds */
#define HISTOGRAM_SLOTS (HISTOGRAM_BUCKETS + 1)  /* ... and +Inf */

/* Upper bound of bucket i in microseconds (i < HISTOGRAM_BUCKETS). */
int64_t histogram_bound_us(size_t i);
/* Index of the bucket a duration falls into: the first bound >= us, or
 * HISTOGRAM_BUCKETS (+Inf).  Negative durations count as 0. */
size_t histogram_bucket_index(int64_t us);
/* The q-quantile (0 < q <= 1) in seconds from per-bucket (not cumulative)
 * counts, interpolated linearly inside the bucket the rank falls into, as
 * Prometheus' histogram_quantile() does; a rank in +Inf answers the
 * largest finite bound.  Returns -1 when there are no observations. */
double histogram_quantile(const uint64_t counts[HISTOGRAM_SLOTS], double q);

#endif
