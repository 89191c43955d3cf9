/* Unit tests: tag generations (parsing, matching, random starts) and the
 * fail-open paths of tags and locks without a server. */
#include "pitchey-build.h"

#include <sodium.h>
#include <string.h>

#include "cache/lock.h"
#include "cache/tags.h"
#include "unit.h"

static struct cache_value val(const char *s)
{
    struct cache_value v = { (char *)s, s ? strlen(s) : 0, 0 };
    return v;
}

START_TEST(parse_generations)
{
    uint64_t g;
    struct cache_value v = val("12345");
    ck_assert(cache_tag_parse(&v, &g));
    ck_assert(g == 12345);
    v = val("18446744073709551615");
    ck_assert(cache_tag_parse(&v, &g));
    ck_assert(g == UINT64_MAX);
    v = val("18446744073709551616");
    ck_assert(!cache_tag_parse(&v, &g));
    v = val("7  ");
    ck_assert(cache_tag_parse(&v, &g));
    ck_assert(g == 7);
    v = val("x1");
    ck_assert(!cache_tag_parse(&v, &g));
    v = val("");
    ck_assert(!cache_tag_parse(&v, &g));
    v = val(NULL);
    ck_assert(!cache_tag_parse(&v, &g));
}
END_TEST

START_TEST(random_starts_differ)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint64_t a = cache_tag_random(), b = cache_tag_random();
    ck_assert(a != 0 && b != 0 && a != b);
    ck_assert(a <= INT64_MAX && b <= INT64_MAX);
}
END_TEST

START_TEST(match_is_pairwise)
{
    uint64_t s[2] = { 1, 2 }, c[2] = { 1, 2 }, d[2] = { 1, 3 };
    ck_assert(cache_tags_match(s, 2, c, 2));
    ck_assert(!cache_tags_match(s, 2, d, 2));
    ck_assert(!cache_tags_match(s, 1, c, 2));
    ck_assert(cache_tags_match(s, 0, c, 0));
}
END_TEST

START_TEST(without_server_everything_fails_open)
{
    struct cache_options o = { "", 50, 3, 1000 };
    struct cache *c = cache_new(&o);
    uint64_t g = 0;
    ck_assert_int_eq(cache_tag_create(c, "e", "t", 60, &g), CACHE_ERROR);
    ck_assert_int_eq(cache_tag_bump(c, "t", 60), CACHE_ERROR);
    ck_assert_int_eq(cache_lock_acquire(c, "e", "l", 2000), CACHE_ERROR);
    cache_lock_release(c, "e", "l");
    cache_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_tags");
    TCase *tc = tcase_create("tags");
    tcase_add_test(tc, parse_generations);
    tcase_add_test(tc, random_starts_differ);
    tcase_add_test(tc, match_is_pairwise);
    tcase_add_test(tc, without_server_everything_fails_open);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
