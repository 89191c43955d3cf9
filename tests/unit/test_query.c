/* Unit tests: query string parsing and the known-parameter rules. */
#include "pitchey-build.h"

#include <stdlib.h>

#include "api/query.h"
#include "unit.h"

START_TEST(finds_and_decodes)
{
    struct query q;
    query_parse(&q, "limit=20&q=space+opera%21&x");
    const char *v;
    ck_assert_int_eq(query_get(&q, "limit", &v), QUERY_FOUND);
    ck_assert_str_eq(v, "20");
    ck_assert_int_eq(query_get(&q, "q", &v), QUERY_FOUND);
    ck_assert_str_eq(v, "space opera!");
    ck_assert_int_eq(query_get(&q, "sort", &v), QUERY_ABSENT);
    query_free(&q);
}
END_TEST

START_TEST(empty_repeated_and_bad_are_invalid)
{
    struct query q;
    const char *v;
    query_parse(&q, "limit=&sort=new&sort=new&q=%zz&genre=%00&owner=%E9");
    ck_assert_int_eq(query_get(&q, "limit", &v), QUERY_INVALID);
    ck_assert_int_eq(query_get(&q, "sort", &v), QUERY_INVALID);
    ck_assert_int_eq(query_get(&q, "q", &v), QUERY_INVALID);
    ck_assert_int_eq(query_get(&q, "genre", &v), QUERY_INVALID);
    ck_assert_int_eq(query_get(&q, "owner", &v), QUERY_INVALID);
    query_free(&q);
    query_parse(&q, "limit");
    ck_assert_int_eq(query_get(&q, "limit", &v), QUERY_INVALID);
    query_free(&q);
}
END_TEST

START_TEST(no_query)
{
    struct query q;
    const char *v;
    query_parse(&q, NULL);
    ck_assert_int_eq(query_get(&q, "limit", &v), QUERY_ABSENT);
    query_free(&q);
    query_parse(&q, "&&");
    ck_assert_uint_eq(q.count, 0);
    query_free(&q);
}
END_TEST

START_TEST(decode_edges)
{
    char *s = query_decode("%41%", 4);
    ck_assert_ptr_null(s);
    s = query_decode("%4", 2);
    ck_assert_ptr_null(s);
    s = query_decode("%c3%a9", 6);
    ck_assert_str_eq(s, "\xc3\xa9");
    free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, finds_and_decodes);
    tcase_add_test(tc, empty_repeated_and_bad_are_invalid);
    tcase_add_test(tc, no_query);
    tcase_add_test(tc, decode_edges);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
