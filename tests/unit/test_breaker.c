/* Unit tests: the circuit breaker state machine. */
#include "pitchey-build.h"

#include "common/breaker.h"
#include "unit.h"

START_TEST(opens_after_threshold)
{
    struct breaker b;
    breaker_init(&b, 3, 1000);
    ck_assert(breaker_allow(&b, 0));
    breaker_failure(&b, 0);
    breaker_failure(&b, 0);
    ck_assert(breaker_allow(&b, 0));
    breaker_failure(&b, 10);
    ck_assert(breaker_is_open(&b, 10));
    ck_assert(!breaker_allow(&b, 20));
    ck_assert_uint_eq(b.rejects, 1);
    ck_assert_uint_eq(b.opens, 1);
    ck_assert_int_eq(breaker_retry_after_s(&b, 20), 1);
}
END_TEST

START_TEST(success_resets_count)
{
    struct breaker b;
    breaker_init(&b, 2, 1000);
    breaker_failure(&b, 0);
    breaker_success(&b);
    breaker_failure(&b, 0);
    ck_assert(!breaker_is_open(&b, 0));
}
END_TEST

START_TEST(one_probe_after_cooldown)
{
    struct breaker b;
    breaker_init(&b, 1, 1000); /* 1 s = 1,000,000 us */
    breaker_failure(&b, 0);
    ck_assert(!breaker_allow(&b, 999999));
    ck_assert(breaker_allow(&b, 1000000));  /* the probe */
    ck_assert(!breaker_allow(&b, 1000001)); /* only one */
    breaker_failure(&b, 1000002);           /* probe failed: open again */
    ck_assert(!breaker_allow(&b, 1500000));
    ck_assert_uint_eq(b.opens, 2);
    ck_assert(breaker_allow(&b, 2000002));
    breaker_success(&b);
    ck_assert(!breaker_is_open(&b, 2000003));
    ck_assert(breaker_allow(&b, 2000003));
}
END_TEST

/* A probe nobody reports on (the caller checked and then made no call)
 * must not keep the breaker half-open forever: after a cooldown it counts
 * as failed and the next caller probes.  (A worker answered BYPASS for 15 s
 * and more after memcached came back, until a write happened to report.) */
START_TEST(unreported_probe_expires)
{
    struct breaker b;
    breaker_init(&b, 1, 1000); /* 1 s = 1,000,000 us */
    breaker_failure(&b, 0);
    ck_assert(breaker_is_open(&b, 500000));
    ck_assert(breaker_allow(&b, 1000000)); /* the probe, never reported */
    ck_assert(breaker_is_open(&b, 1500000));
    ck_assert(!breaker_allow(&b, 1500000));
    ck_assert(!breaker_is_open(&b, 2000000));
    ck_assert(breaker_allow(&b, 2000000)); /* a new probe */
    breaker_success(&b);
    ck_assert(!breaker_is_open(&b, 2000001));
    ck_assert(breaker_allow(&b, 2000001));
}
END_TEST

START_TEST(retry_after_rounds_up)
{
    struct breaker b;
    breaker_init(&b, 1, 2500);
    breaker_failure(&b, 0);
    ck_assert_int_eq(breaker_retry_after_s(&b, 0), 3);
    ck_assert_int_eq(breaker_retry_after_s(&b, 2400000), 1);
    ck_assert_int_eq(breaker_retry_after_s(&b, 9000000), 1);
}
END_TEST

START_TEST(trip_opens_at_once)
{
    struct breaker b;
    breaker_init(&b, 5, 1000);
    breaker_trip(&b, 0);
    ck_assert(breaker_is_open(&b, 0));
    ck_assert_uint_eq(b.opens, 1);
    ck_assert(!breaker_allow(&b, 10));
    ck_assert(breaker_allow(&b, 1000000));
    breaker_success(&b);
    ck_assert(!breaker_is_open(&b, 1000001));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("breaker");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, opens_after_threshold);
    tcase_add_test(tc, success_resets_count);
    tcase_add_test(tc, one_probe_after_cooldown);
    tcase_add_test(tc, retry_after_rounds_up);
    tcase_add_test(tc, unreported_probe_expires);
    tcase_add_test(tc, trip_opens_at_once);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
