/* Unit tests: the keyset cursor codec. */
#include "pitchey-build.h"

#include <string.h>

#include "api/cursor.h"
#include "unit.h"

static const unsigned char secret[SECRET_BYTES] = "0123456789abcdef0123456789abcdef";
static const unsigned char other[SECRET_BYTES] = "fedcba9876543210fedcba9876543210";

START_TEST(round_trip)
{
    struct cursor_query q = { CURSOR_SORT_NEW, "drama", 7, "space opera" };
    struct cursor_pos pos = { 1795566672123456LL, 42 }, back;
    char text[CURSOR_TEXT_MAX];
    cursor_encode(secret, &q, &pos, text);
    ck_assert_int_eq(cursor_decode(secret, &q, text, &back), 0);
    ck_assert_int_eq(back.key, pos.key);
    ck_assert_int_eq(back.id, pos.id);
    /* URL-safe: no characters that need escaping in a query string. */
    ck_assert_uint_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                      strlen(text));
}
END_TEST

START_TEST(bound_to_its_query)
{
    struct cursor_query q = { CURSOR_SORT_NEW, NULL, 0, NULL };
    struct cursor_pos pos = { 5, 9 }, back;
    char text[CURSOR_TEXT_MAX];
    cursor_encode(secret, &q, &pos, text);
    struct cursor_query other_sort = { CURSOR_SORT_POPULAR, NULL, 0, NULL };
    struct cursor_query other_genre = { CURSOR_SORT_NEW, "drama", 0, NULL };
    struct cursor_query other_owner = { CURSOR_SORT_NEW, NULL, 3, NULL };
    struct cursor_query other_q = { CURSOR_SORT_NEW, NULL, 0, "x" };
    ck_assert_int_eq(cursor_decode(secret, &other_sort, text, &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &other_genre, text, &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &other_owner, text, &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &other_q, text, &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &q, text, &back), 0);
}
END_TEST

START_TEST(forgery_and_garbage_rejected)
{
    struct cursor_query q = { CURSOR_SORT_POPULAR, NULL, 0, NULL };
    struct cursor_pos pos = { 100, 9 }, back;
    char text[CURSOR_TEXT_MAX];
    cursor_encode(other, &q, &pos, text);
    ck_assert_int_eq(cursor_decode(secret, &q, text, &back), -1);
    cursor_encode(secret, &q, &pos, text);
    text[5] = text[5] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(cursor_decode(secret, &q, text, &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &q, "", &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &q, "not a cursor!", &back), -1);
    ck_assert_int_eq(cursor_decode(secret, &q, "AAAA", &back), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cursor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, bound_to_its_query);
    tcase_add_test(tc, forgery_and_garbage_rejected);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
