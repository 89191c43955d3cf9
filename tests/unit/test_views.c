/* Unit tests: view counts. */
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

static Suite *suite(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counts_sum_per_pitch);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
