/* Unit tests: view counts, and the lists the nginx fast path sends. */
#include "pitchey-build.h"

#include "api/views.h"
#include "unit.h"

START_TEST(counts_sum_per_pitch)
{
    struct views *v = views_new(4);
    views_count(v, 7);
    views_count(v, 7);
    views_add(v, 9, 5);
    ck_assert_int_eq(views_pending(v), 2);
    ck_assert(!views_batch_full(v));
    views_add(v, 10, 1);
    views_add(v, 11, 1);
    ck_assert(views_batch_full(v));
    views_free(v);
}
END_TEST

START_TEST(fastpath_lists)
{
    struct views *v = views_new(256);
    ck_assert_int_eq(views_add_list(v, ""), 0);
    ck_assert_int_eq(views_add_list(v, "42:3"), 1);
    ck_assert_int_eq(views_add_list(v, "42:1,17:1000,9223372036854775807:2"), 3);
    ck_assert_int_eq(views_pending(v), 3);
    views_free(v);
}
END_TEST

START_TEST(malformed_lists_stop)
{
    const char *bad[] = { "1:", ":1", "x:1", "1:x", "0:1", "1:0", "1:2;", "1:2,,3:4", "1:2,",
                          "1-2", "1:99999999999999999999", "-1:2", "1 :2" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct views *v = views_new(256);
        ck_assert_msg(views_add_list(v, bad[i]) == -1, "%s accepted", bad[i]);
        views_free(v);
    }
    /* What came before the bad pair is kept. */
    struct views *v = views_new(256);
    ck_assert_int_eq(views_add_list(v, "5:1,6:x"), -1);
    ck_assert_int_eq(views_pending(v), 1);
    views_free(v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counts_sum_per_pitch);
    tcase_add_test(tc, fastpath_lists);
    tcase_add_test(tc, malformed_lists_stop);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
