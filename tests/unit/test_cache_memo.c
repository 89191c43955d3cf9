/* Unit tests: identity bodies kept by ETag (cache/memo). */
#include "pitchey-build.h"

#include <string.h>

#include "cache/memo.h"
#include "unit.h"

static bool has(struct memo *m, const char *etag, const char *want)
{
    struct buf b = BUF_INIT;
    bool found = memo_get(m, etag, &b);
    bool same = found && b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
    buf_free(&b);
    return same;
}

START_TEST(keeps_and_finds_by_etag)
{
    struct memo *m = memo_new(4, 1024);
    struct buf b = BUF_INIT;
    ck_assert(!memo_get(m, "\"a\"", &b));
    memo_put(m, "\"a\"", "alpha", 5);
    memo_put(m, "\"b\"", "beta", 4);
    ck_assert(has(m, "\"a\"", "alpha"));
    ck_assert(has(m, "\"b\"", "beta"));
    ck_assert(!memo_get(m, "\"c\"", &b));
    ck_assert(!memo_get(m, "", &b));
    ck_assert_uint_eq(memo_bytes(m), 9);
    buf_free(&b);
    memo_free(m);
}
END_TEST

START_TEST(evicts_least_recently_used_by_count)
{
    struct memo *m = memo_new(2, 1024);
    memo_put(m, "\"a\"", "1", 1);
    memo_put(m, "\"b\"", "2", 1);
    ck_assert(has(m, "\"a\"", "1")); /* a is now the most recent */
    memo_put(m, "\"c\"", "3", 1);
    ck_assert(has(m, "\"a\"", "1"));
    ck_assert(!has(m, "\"b\"", "2"));
    ck_assert(has(m, "\"c\"", "3"));
    memo_free(m);
}
END_TEST

START_TEST(stays_within_its_bytes)
{
    struct memo *m = memo_new(8, 400);
    char body[100];
    memset(body, 'x', sizeof body);
    memo_put(m, "\"a\"", body, 100);
    memo_put(m, "\"b\"", body, 100);
    memo_put(m, "\"c\"", body, 100);
    memo_put(m, "\"d\"", body, 100);
    ck_assert_uint_le(memo_bytes(m), 400);
    memo_put(m, "\"e\"", body, 100); /* a goes */
    ck_assert_uint_le(memo_bytes(m), 400);
    struct buf b = BUF_INIT;
    ck_assert(!memo_get(m, "\"a\"", &b));
    ck_assert(memo_get(m, "\"e\"", &b));
    buf_free(&b);
    /* Above a quarter of the budget: not kept at all. */
    char big[101];
    memset(big, 'y', sizeof big);
    memo_put(m, "\"big\"", big, sizeof big);
    b = (struct buf)BUF_INIT;
    ck_assert(!memo_get(m, "\"big\"", &b));
    memo_free(m);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cache_memo");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, keeps_and_finds_by_etag);
    tcase_add_test(tc, evicts_least_recently_used_by_count);
    tcase_add_test(tc, stays_within_its_bytes);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(make_suite)
