/* Unit tests: the reports the nginx fast path sends the pool. */
#include "pitchey-build.h"

#include "api/fastpath.h"
#include "unit.h"

START_TEST(reports_apply)
{
    struct views *v = views_new(256);
    struct fastpath_stats before, after;
    fastpath_get_stats(&before);
    ck_assert_int_eq(fastpath_apply_report("hits=10 not_modified=2 views=42:3,17:1000", v), 0);
    ck_assert_int_eq(fastpath_apply_report("hits=5 views=", v), 0);
    ck_assert_int_eq(fastpath_apply_report("views=9223372036854775807:2", v), 0);
    fastpath_get_stats(&after);
    ck_assert_int_eq(after.reports - before.reports, 3);
    ck_assert_int_eq(after.hits - before.hits, 15);
    ck_assert_int_eq(after.not_modified - before.not_modified, 2);
    ck_assert_int_eq(after.views - before.views, 1005);
    ck_assert_int_eq(views_pending(v), 3);
    views_free(v);
}
END_TEST

START_TEST(malformed_reports_change_nothing)
{
    const char *bad[] = { "", "hits=", "hits=x", "hits=-1", "hits=1 hits=2", "bogus=1",
                          "hits=1  views=1:1", "hits=1 ", "views=1:", "views=:1", "views=0:1",
                          "views=1:0", "views=1:2;", "views=1:2,,3:4", "views=1:2,",
                          "views=1-2", "views=1:99999999999999999999", "views=1:1,2:x",
                          "hits=99999999999999999999", "views=1:1 hits" };
    struct fastpath_stats before, after;
    fastpath_get_stats(&before);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct views *v = views_new(256);
        ck_assert_msg(fastpath_apply_report(bad[i], v) == -1, "\"%s\" accepted", bad[i]);
        ck_assert_msg(views_pending(v) == 0, "\"%s\" added views", bad[i]);
        views_free(v);
    }
    fastpath_get_stats(&after);
    ck_assert_int_eq(after.reports, before.reports);
    ck_assert_int_eq(after.hits, before.hits);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fastpath");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reports_apply);
    tcase_add_test(tc, malformed_reports_change_nothing);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
