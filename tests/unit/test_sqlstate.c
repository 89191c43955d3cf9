/* Unit tests: which Postgres failures may be retried. */
#include "pitchey-build.h"

#include "db/sqlstate.h"
#include "unit.h"

START_TEST(classifies)
{
    ck_assert_int_eq(sqlstate_classify("40001"), SQLSTATE_ROLLED_BACK);
    ck_assert_int_eq(sqlstate_classify("40P01"), SQLSTATE_ROLLED_BACK);
    ck_assert_int_eq(sqlstate_classify("57P01"), SQLSTATE_SERVER_GONE);
    ck_assert_int_eq(sqlstate_classify("57P02"), SQLSTATE_SERVER_GONE);
    ck_assert_int_eq(sqlstate_classify("57P03"), SQLSTATE_SERVER_GONE);
    ck_assert_int_eq(sqlstate_classify("08006"), SQLSTATE_CONNECTION);
    ck_assert_int_eq(sqlstate_classify("08001"), SQLSTATE_CONNECTION);
    ck_assert_int_eq(sqlstate_classify("57014"), SQLSTATE_CANCELED);
    ck_assert_int_eq(sqlstate_classify("23505"), SQLSTATE_UNIQUE);
    ck_assert_int_eq(sqlstate_classify("23503"), SQLSTATE_FOREIGN_KEY);
    ck_assert_int_eq(sqlstate_classify("22P02"), SQLSTATE_BAD_INPUT);
    ck_assert_int_eq(sqlstate_classify("42601"), SQLSTATE_OTHER);
    ck_assert_int_eq(sqlstate_classify(""), SQLSTATE_OTHER);
    ck_assert_int_eq(sqlstate_classify(NULL), SQLSTATE_OTHER);
    ck_assert_int_eq(sqlstate_classify("4000"), SQLSTATE_OTHER);
}
END_TEST

START_TEST(retry_rules)
{
    ck_assert(sqlstate_retryable(SQLSTATE_ROLLED_BACK, true));
    ck_assert(sqlstate_retryable(SQLSTATE_SERVER_GONE, true));
    ck_assert(sqlstate_retryable(SQLSTATE_CONNECTION, false));
    /* A connection lost after sending: the outcome is unknown. */
    ck_assert(!sqlstate_retryable(SQLSTATE_CONNECTION, true));
    ck_assert(!sqlstate_retryable(SQLSTATE_UNIQUE, false));
    ck_assert(!sqlstate_retryable(SQLSTATE_CANCELED, true));
    ck_assert(!sqlstate_retryable(SQLSTATE_OTHER, false));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sqlstate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classifies);
    tcase_add_test(tc, retry_rules);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
