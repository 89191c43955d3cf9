/* Unit tests: cache keys (prefix, version, epoch, hashing of long or unsafe names). */
#include "pitchey-build.h"

#include <sodium.h>
#include <string.h>

#include "cache/key.h"
#include "unit.h"

START_TEST(plain_key)
{
    char k[CACHE_KEY_MAX + 1];
    cache_key_build(k, "pitchey", 7, CACHE_KEY_ENTRY,
                    "pitches?sort=new&genre=&owner=&q=&limit=20&cursor=");
    ck_assert_str_eq(k, "pitchey:v1:e7:r:pitches?sort=new&genre=&owner=&q=&limit=20&cursor=");
    /* Tags live outside the epoch. */
    cache_key_build(k, "pitchey", 7, CACHE_KEY_TAG, "pitch:42");
    ck_assert_str_eq(k, "pitchey:v1:t:pitch:42");
    cache_key_build(k, "pitchey", 8, CACHE_KEY_LOCK, "pitches/42");
    ck_assert_str_eq(k, "pitchey:v1:e8:l:pitches/42");
    cache_key_epoch(k, "pitchey");
    ck_assert_str_eq(k, "pitchey:v1:epoch");
}
END_TEST

START_TEST(epoch_changes_every_key)
{
    char a[CACHE_KEY_MAX + 1], b[CACHE_KEY_MAX + 1];
    cache_key_build(a, "p", 1, CACHE_KEY_ENTRY, "users/1");
    cache_key_build(b, "p", 2, CACHE_KEY_ENTRY, "users/1");
    ck_assert_str_ne(a, b);
    cache_key_build(a, "p", 1, CACHE_KEY_TAG, "users/1");
    cache_key_build(b, "p", 1, CACHE_KEY_ENTRY, "users/1");
    ck_assert_str_ne(a, b);
}
END_TEST

static void assert_valid(const char *k)
{
    ck_assert_uint_le(strlen(k), CACHE_KEY_MAX);
    ck_assert(cache_key_safe(k, strlen(k)));
}

START_TEST(unsafe_or_long_names_are_hashed)
{
    char k[CACHE_KEY_MAX + 1], k2[CACHE_KEY_MAX + 1];
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, "pitches?q=space opera");
    assert_valid(k);
    ck_assert_ptr_nonnull(strstr(k, ":r:#"));
    ck_assert_uint_eq(strlen(strstr(k, "#") + 1), 32);
    cache_key_build(k2, "pitchey", 1, CACHE_KEY_ENTRY, "pitches?q=space  opera");
    ck_assert_str_ne(k, k2);
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, "pitches?q=caf\xc3\xa9");
    assert_valid(k);
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, "a\r\nb");
    assert_valid(k);
    char longname[600];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, longname);
    assert_valid(k);
    ck_assert_ptr_nonnull(strstr(k, "#"));
    /* Exactly at the limit is kept as is, one more is hashed. */
    const char *head = "pitchey:v1:e1:r:";
    size_t room = CACHE_KEY_MAX - strlen(head);
    longname[room] = '\0';
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, longname);
    ck_assert_uint_eq(strlen(k), CACHE_KEY_MAX);
    ck_assert_ptr_null(strstr(k, "#"));
    longname[room] = 'x';
    longname[room + 1] = '\0';
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, longname);
    ck_assert_ptr_nonnull(strstr(k, "#"));
    /* A name that looks hashed cannot collide with a hash. */
    cache_key_build(k, "pitchey", 1, CACHE_KEY_ENTRY, "#0123");
    ck_assert_uint_eq(strlen(strstr(k, "#") + 1), 32);
}
END_TEST

START_TEST(long_or_unsafe_prefix_is_cut)
{
    char k[CACHE_KEY_MAX + 1];
    char prefix[300];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    cache_key_build(k, prefix, UINT64_MAX, CACHE_KEY_ENTRY, "x");
    assert_valid(k);
    cache_key_build(k, "my app", 1, CACHE_KEY_ENTRY, "x");
    ck_assert_str_eq(k, "my:v1:e1:r:x");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_key");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, plain_key);
    tcase_add_test(tc, epoch_changes_every_key);
    tcase_add_test(tc, unsafe_or_long_names_are_hashed);
    tcase_add_test(tc, long_or_unsafe_prefix_is_cut);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
