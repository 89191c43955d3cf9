/* Unit tests: latency buckets and the quantile estimate. */
#include "pitchey-build.h"

#include <math.h>

#include "metrics/histogram.h"
#include "unit.h"

static size_t idx(int64_t us)
{
    return histogram_bucket_index(us);
}

START_TEST(buckets_start_at_50us_and_are_increasing)
{
    ck_assert_int_eq(histogram_bound_us(0), 50);
    for (size_t i = 1; i < HISTOGRAM_BUCKETS; i++)
        ck_assert_int_gt(histogram_bound_us(i), histogram_bound_us(i - 1));
    ck_assert_int_eq(histogram_bound_us(HISTOGRAM_BUCKETS - 1), 10000000);
}
END_TEST

START_TEST(bucket_index_is_the_first_bound_at_or_above)
{
    ck_assert_uint_eq(idx(-5), 0);
    ck_assert_uint_eq(idx(0), 0);
    ck_assert_uint_eq(idx(50), 0);   /* bounds are inclusive, like Prometheus' le */
    ck_assert_uint_eq(idx(51), 1);
    ck_assert_uint_eq(idx(100), 1);
    ck_assert_uint_eq(idx(1000), 6);
    ck_assert_uint_eq(idx(1001), 7);
    ck_assert_uint_eq(idx(10000000), HISTOGRAM_BUCKETS - 1);
    ck_assert_uint_eq(idx(10000001), HISTOGRAM_BUCKETS);
    ck_assert_uint_eq(idx(INT64_MAX), HISTOGRAM_BUCKETS);
    /* Every value lands in the bucket whose bounds enclose it. */
    for (int64_t us = 1; us < 20000000; us = us * 3 / 2 + 1) {
        size_t i = idx(us);
        ck_assert(i == HISTOGRAM_BUCKETS || us <= histogram_bound_us(i));
        ck_assert(i == 0 || us > histogram_bound_us(i - 1));
    }
}
END_TEST

START_TEST(quantile_of_nothing_is_unknown)
{
    uint64_t c[HISTOGRAM_SLOTS] = { 0 };
    ck_assert(histogram_quantile(c, 0.5) < 0);
}
END_TEST

START_TEST(quantile_interpolates_inside_the_bucket)
{
    uint64_t c[HISTOGRAM_SLOTS] = { 0 };
    c[idx(80)] = 100; /* all in (50 us, 100 us] */
    ck_assert(fabs(histogram_quantile(c, 0.5) - 75e-6) < 1e-9);
    ck_assert(fabs(histogram_quantile(c, 0.99) - 99.5e-6) < 1e-9);
    ck_assert(fabs(histogram_quantile(c, 1.0) - 100e-6) < 1e-9);
}
END_TEST

START_TEST(quantile_picks_the_bucket_of_the_rank)
{
    uint64_t c[HISTOGRAM_SLOTS] = { 0 };
    c[idx(40)] = 90;     /* 90 hits at or under 50 us */
    c[idx(4000)] = 10;   /* 10 misses in (3 ms, 5 ms] */
    double p50 = histogram_quantile(c, 0.50);
    double p95 = histogram_quantile(c, 0.95);
    double p99 = histogram_quantile(c, 0.99);
    ck_assert(p50 > 0 && p50 <= 50e-6);
    ck_assert(fabs(p50 - 50e-6 * 50.0 / 90.0) < 1e-9);
    ck_assert(fabs(p95 - (3e-3 + 2e-3 * 0.5)) < 1e-9);  /* rank 95: half-way into the misses */
    ck_assert(fabs(p99 - (3e-3 + 2e-3 * 0.9)) < 1e-9);
    ck_assert(p50 < p95 && p95 < p99);
}
END_TEST

START_TEST(quantile_in_inf_is_the_largest_bound)
{
    uint64_t c[HISTOGRAM_SLOTS] = { 0 };
    c[HISTOGRAM_BUCKETS] = 3;
    ck_assert(fabs(histogram_quantile(c, 0.5) - 10.0) < 1e-9);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_histogram");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, buckets_start_at_50us_and_are_increasing);
    tcase_add_test(tc, bucket_index_is_the_first_bound_at_or_above);
    tcase_add_test(tc, quantile_of_nothing_is_unknown);
    tcase_add_test(tc, quantile_interpolates_inside_the_bucket);
    tcase_add_test(tc, quantile_picks_the_bucket_of_the_rank);
    tcase_add_test(tc, quantile_in_inf_is_the_largest_bound);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
