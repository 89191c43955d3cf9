/* Unit tests: cached sessions (value format, fail-open without a server). */
#include "pitchey-build.h"

#include <string.h>

#include "cache/session.h"
#include "unit.h"

START_TEST(parse_values)
{
    struct cache_session s;
    const char *v = "42\ncreator\nAda\nLovelace";
    ck_assert_int_eq(cache_session_parse(v, strlen(v), &s), 0);
    ck_assert(s.user_id == 42);
    ck_assert_str_eq(s.role, "creator");
    ck_assert_str_eq(s.name, "Ada\nLovelace"); /* the name is the rest */
    const char *bad[] = { "", "42", "42\ncreator", "x\ncreator\nA", "0\ncreator\nA",
                          "42\n\nA", "42\ncreator\n", "42\nwaytoolongrolename\nA" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(cache_session_parse(bad[i], strlen(bad[i]), &s) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(without_server_fails_open)
{
    struct cache_options o = { "", 50, 3, 1000 };
    struct cache *c = cache_new(&o);
    struct cache_session s = { .user_id = 1, .role = "creator", .name = "A" };
    const char *h = "\\x00ff";
    cache_session_put(c, "p", h, &s, 60);
    ck_assert_int_eq(cache_session_get(c, "p", h, &s), CACHE_ERROR);
    ck_assert_int_eq(cache_session_forget(c, "p", h), CACHE_ERROR);
    cache_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_session");
    TCase *tc = tcase_create("session");
    tcase_add_test(tc, parse_values);
    tcase_add_test(tc, without_server_fails_open);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
