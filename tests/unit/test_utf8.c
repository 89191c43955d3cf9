/* Unit tests: UTF-8 validation and code point counts. */
#include "pitchey-build.h"

#include <string.h>

#include "common/utf8.h"
#include "unit.h"

#define V(s) utf8_valid(s, sizeof(s) - 1)

START_TEST(validates)
{
    ck_assert(V(""));
    ck_assert(V("plain ascii"));
    ck_assert(V("caf\xc3\xa9"));
    ck_assert(V("\xe2\x82\xac"));
    ck_assert(V("\xf0\x9f\x98\x80"));
    ck_assert(V("\xf4\x8f\xbf\xbf"));
    ck_assert(!V("\xc3"));
    ck_assert(!V("\xc0\xaf"));          /* overlong */
    ck_assert(!V("\xe0\x80\xaf"));      /* overlong */
    ck_assert(!V("\xed\xa0\x80"));      /* surrogate */
    ck_assert(!V("\xf4\x90\x80\x80"));  /* above U+10FFFF */
    ck_assert(!V("\xff"));
    ck_assert(!V("\x80"));
    ck_assert(!V("\xe2\x82"));
}
END_TEST

START_TEST(counts_code_points)
{
    ck_assert_uint_eq(utf8_count("abc", 3), 3);
    ck_assert_uint_eq(utf8_count("caf\xc3\xa9", 5), 4);
    ck_assert_uint_eq(utf8_count("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8), 2);
    ck_assert_uint_eq(utf8_prefix_bytes("caf\xc3\xa9!", 6, 4), 5);
    ck_assert_uint_eq(utf8_prefix_bytes("ab", 2, 5), 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, validates);
    tcase_add_test(tc, counts_code_points);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
