/* Unit tests: the retry backoff schedule. */
#include "pitchey-build.h"

#include "common/backoff.h"
#include "unit.h"

START_TEST(doubles_each_attempt)
{
    ck_assert_int_eq(backoff_delay_ms(100, 0, 1.0), 100);
    ck_assert_int_eq(backoff_delay_ms(100, 1, 1.0), 200);
    ck_assert_int_eq(backoff_delay_ms(100, 2, 1.0), 400);
    ck_assert_int_eq(backoff_delay_ms(100, 3, 1.0), 800);
}
END_TEST

START_TEST(jitter_stays_in_upper_half)
{
    for (int a = 0; a < 6; a++) {
        int full = backoff_delay_ms(100, a, 1.0);
        int low = backoff_delay_ms(100, a, 0.0);
        int mid = backoff_delay_ms(100, a, 0.5);
        ck_assert_int_eq(low, full / 2);
        ck_assert_int_ge(mid, low);
        ck_assert_int_le(mid, full);
    }
}
END_TEST

START_TEST(capped_and_sane_inputs)
{
    ck_assert_int_eq(backoff_delay_ms(100, 40, 1.0), BACKOFF_MAX_MS);
    ck_assert_int_eq(backoff_delay_ms(100, -3, 1.0), 100);
    ck_assert_int_eq(backoff_delay_ms(100, 0, 7.0), 100);
    ck_assert_int_ge(backoff_delay_ms(1, 0, 0.0), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("backoff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, doubles_each_attempt);
    tcase_add_test(tc, jitter_stays_in_upper_half);
    tcase_add_test(tc, capped_and_sane_inputs);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
