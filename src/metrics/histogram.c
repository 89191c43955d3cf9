/* histogram: buckets and quantiles (see histogram.h). */
#include "pitchey-build.h"

#include "metrics/histogram.h"

static const int64_t bounds_us[HISTOGRAM_BUCKETS] = {
    50,     100,    200,     300,     500,     750,     1000,    1500,    2000,
    3000,   5000,   7500,    10000,   15000,   25000,   50000,   75000,   100000,
    150000, 250000, 500000,  750000,  1000000, 2500000, 5000000, 10000000,
};

int64_t histogram_bound_us(size_t i)
{
    return i < HISTOGRAM_BUCKETS ? bounds_us[i] : INT64_MAX;
}

size_t histogram_bucket_index(int64_t us)
{
    /* Binary search: this runs once per request on the hot path. */
    size_t lo = 0, hi = HISTOGRAM_BUCKETS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (us <= bounds_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double histogram_quantile(const uint64_t counts[HISTOGRAM_SLOTS], double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i < HISTOGRAM_SLOTS; i++)
        total += counts[i];
    if (total == 0)
        return -1;
    if (q <= 0)
        q = 0;
    if (q > 1)
        q = 1;
    double rank = q * (double)total;
    uint64_t below = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        if (counts[i] > 0 && (double)(below + counts[i]) >= rank) {
            double lower = i == 0 ? 0 : (double)bounds_us[i - 1];
            double upper = (double)bounds_us[i];
            double frac = (rank - (double)below) / (double)counts[i];
            if (frac < 0)
                frac = 0;
            return (lower + (upper - lower) * frac) / 1e6;
        }
        below += counts[i];
    }
    return (double)bounds_us[HISTOGRAM_BUCKETS - 1] / 1e6;
}
