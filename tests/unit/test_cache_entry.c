/* Unit tests: cache entries (encoding, gzip, ETags, If-None-Match). */
#include "pitchey-build.h"

#include <string.h>

#include "cache/entry.h"
#include "cache/gzip.h"
#include "unit.h"

static void make_body(struct buf *b, size_t n)
{
    buf_append_str(b, "{\"items\":[");
    while (b->len < n)
        buf_printf(b, "{\"id\":%zu,\"title\":\"A pitch\"},", b->len);
    buf_append_str(b, "{}]}");
}

START_TEST(small_body_round_trip)
{
    const char *body = "{\"id\":1}";
    struct cache_entry e, d;
    struct buf gz = BUF_INIT, wire = BUF_INIT, id = BUF_INIT;
    memset(&e, 0, sizeof e);
    e.status = 200;
    e.created_ms = 1700000000123;
    e.soft_expiry_ms = e.created_ms + 300000;
    e.ntags = 2;
    e.gens[0] = 42;
    e.gens[1] = UINT64_MAX;
    cache_entry_prepare(&e, body, strlen(body), &gz);
    ck_assert(!e.gzip);
    ck_assert_str_eq(e.etag_gzip, "");
    ck_assert_uint_eq(strlen(e.etag), 34);
    ck_assert_int_eq(e.etag[0], '"');
    cache_entry_encode(&e, &wire);
    ck_assert_int_eq(cache_entry_decode(wire.data, wire.len, &d), 0);
    ck_assert_int_eq(d.status, 200);
    ck_assert(!d.gzip);
    ck_assert_int_eq(d.created_ms, e.created_ms);
    ck_assert_int_eq(d.soft_expiry_ms, e.soft_expiry_ms);
    ck_assert_uint_eq(d.ntags, 2);
    ck_assert(d.gens[0] == 42 && d.gens[1] == UINT64_MAX);
    ck_assert_str_eq(d.etag, e.etag);
    ck_assert_int_eq(cache_entry_identity(&d, &id), 0);
    ck_assert_str_eq(id.data, body);
    buf_free(&gz);
    buf_free(&wire);
    buf_free(&id);
}
END_TEST

START_TEST(large_body_is_gzipped_once)
{
    struct buf body = BUF_INIT, gz = BUF_INIT, wire = BUF_INIT, id = BUF_INIT, gz2 = BUF_INIT;
    make_body(&body, 8000);
    struct cache_entry e, d;
    memset(&e, 0, sizeof e);
    e.status = 200;
    cache_entry_prepare(&e, body.data, body.len, &gz);
    ck_assert(e.gzip);
    ck_assert_uint_lt(e.body_len, body.len / 2);
    ck_assert_str_ne(e.etag, e.etag_gzip);
    ck_assert_ptr_nonnull(strstr(e.etag_gzip, "-gz\""));
    ck_assert_uint_eq((unsigned char)e.body[0], 0x1f);
    ck_assert_uint_eq((unsigned char)e.body[1], 0x8b);
    cache_entry_encode(&e, &wire);
    ck_assert_int_eq(cache_entry_decode(wire.data, wire.len, &d), 0);
    ck_assert(d.gzip);
    ck_assert_str_eq(d.etag_gzip, e.etag_gzip);
    ck_assert_int_eq(cache_entry_identity(&d, &id), 0);
    ck_assert_uint_eq(id.len, body.len);
    ck_assert_mem_eq(id.data, body.data, body.len);
    /* Deterministic: same body, same bytes, same ETags. */
    struct cache_entry e2;
    memset(&e2, 0, sizeof e2);
    cache_entry_prepare(&e2, body.data, body.len, &gz2);
    ck_assert_uint_eq(e2.body_len, e.body_len);
    ck_assert_mem_eq(e2.body, e.body, e.body_len);
    ck_assert_str_eq(e2.etag, e.etag);
    buf_free(&body);
    buf_free(&gz);
    buf_free(&gz2);
    buf_free(&wire);
    buf_free(&id);
}
END_TEST

START_TEST(threshold_is_one_kib)
{
    struct buf body = BUF_INIT, gz = BUF_INIT;
    struct cache_entry e;
    memset(&e, 0, sizeof e);
    for (int i = 0; i < CACHE_GZIP_MIN; i++)
        buf_append_char(&body, 'a');
    cache_entry_prepare(&e, body.data, body.len, &gz);
    ck_assert(!e.gzip);
    buf_append_char(&body, 'a');
    cache_entry_prepare(&e, body.data, body.len, &gz);
    ck_assert(e.gzip);
    buf_free(&body);
    buf_free(&gz);
}
END_TEST

START_TEST(garbage_is_not_an_entry)
{
    struct cache_entry e, d;
    struct buf gz = BUF_INIT, wire = BUF_INIT;
    memset(&e, 0, sizeof e);
    e.status = 404;
    e.ntags = 1;
    cache_entry_prepare(&e, "{}", 2, &gz);
    cache_entry_encode(&e, &wire);
    ck_assert_int_eq(cache_entry_decode(wire.data, wire.len, &d), 0);
    ck_assert_int_eq(d.status, 404);
    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < wire.len; n++)
        ck_assert_int_eq(cache_entry_decode(wire.data, n, &d), -1);
    /* Trailing bytes too. */
    buf_append_char(&wire, 'x');
    ck_assert_int_eq(cache_entry_decode(wire.data, wire.len, &d), -1);
    wire.len--;
    /* Another format version. */
    wire.data[2] = 99;
    ck_assert_int_eq(cache_entry_decode(wire.data, wire.len, &d), -1);
    ck_assert_int_eq(cache_entry_decode("12345", 5, &d), -1);
    /* A corrupt gzip body is refused when inflated. */
    struct buf out = BUF_INIT;
    ck_assert_int_eq(cache_gunzip("\x1f\x8b\x08\x00garbage", 11, 1 << 20, &out), -1);
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
    buf_free(&gz);
    buf_free(&wire);
}
END_TEST

START_TEST(if_none_match_forms)
{
    const char *etag = "\"abc\"";
    ck_assert(cache_etag_matches("\"abc\"", etag));
    ck_assert(cache_etag_matches("W/\"abc\"", etag));
    ck_assert(cache_etag_matches("\"x\", \"abc\"", etag));
    ck_assert(cache_etag_matches("\"x\",W/\"abc\"", etag));
    ck_assert(cache_etag_matches("*", etag));
    ck_assert(!cache_etag_matches("\"abcd\"", etag));
    ck_assert(!cache_etag_matches("\"ab\"", etag));
    ck_assert(!cache_etag_matches("abc", etag));
    ck_assert(!cache_etag_matches("", etag));
    ck_assert(!cache_etag_matches(NULL, etag));
    ck_assert(!cache_etag_matches("\"abc", etag));
    ck_assert(!cache_etag_matches("\"abc\"", ""));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_entry");
    TCase *tc = tcase_create("entry");
    tcase_add_test(tc, small_body_round_trip);
    tcase_add_test(tc, large_body_is_gzipped_once);
    tcase_add_test(tc, threshold_is_one_kib);
    tcase_add_test(tc, garbage_is_not_an_entry);
    tcase_add_test(tc, if_none_match_forms);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
