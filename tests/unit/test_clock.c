/* Unit tests: RFC 3339 formatting and Postgres timestamp parsing. */
#include "pitchey-build.h"

#include "common/clock.h"
#include "unit.h"

START_TEST(formats_with_millis)
{
    char out[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(0, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    /* 2026-11-25T00:31:12.123456Z */
    clock_format_rfc3339(1795566672123456LL, out);
    ck_assert_str_eq(out, "2026-11-25T00:31:12.123Z");
}
END_TEST

START_TEST(parses_pg_output)
{
    int64_t us;
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-11-25 00:31:12.123456+00", &us), 0);
    ck_assert_int_eq(us, 1795566672123456LL);
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-11-25 00:31:12+00", &us), 0);
    ck_assert_int_eq(us, 1795566672000000LL);
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-11-25 00:31:12.5+00", &us), 0);
    ck_assert_int_eq(us, 1795566672500000LL);
    ck_assert_int_eq(clock_parse_pg_timestamp("1970-01-01 00:00:00+00", &us), 0);
    ck_assert_int_eq(us, 0);
}
END_TEST

START_TEST(rejects_garbage)
{
    int64_t us;
    ck_assert_int_eq(clock_parse_pg_timestamp("", &us), -1);
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-13-01 00:00:00+00", &us), -1);
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-11-25 00:31:12+02", &us), -1);
    ck_assert_int_eq(clock_parse_pg_timestamp("2026-11-25x00:31:12", &us), -1);
}
END_TEST

START_TEST(round_trip)
{
    char out[CLOCK_RFC3339_LEN];
    int64_t us;
    ck_assert_int_eq(clock_parse_pg_timestamp("2000-02-29 23:59:59.999+00", &us), 0);
    clock_format_rfc3339(us, out);
    ck_assert_str_eq(out, "2000-02-29T23:59:59.999Z");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, formats_with_millis);
    tcase_add_test(tc, parses_pg_output);
    tcase_add_test(tc, rejects_garbage);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
