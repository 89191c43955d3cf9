/* Unit tests: strict JSON parsing. */
#include "pitchey-build.h"

#include <stdbool.h>
#include <string.h>

#include "common/jsonutil.h"
#include "unit.h"

static int parses(const char *text)
{
    const char *why;
    struct json_object *o = json_parse_strict(text, strlen(text), &why);
    int ok = o != NULL;
    json_object_put(o);
    return ok;
}

START_TEST(accepts_valid)
{
    ck_assert(parses("{}"));
    ck_assert(parses(" {\"a\": [1, 2.5, true, null, \"x\"]} \n"));
    ck_assert(parses("{\"e\": \"\\u00e9\\ud83d\\ude00\"}"));
    ck_assert(parses("{\"s\": \"caf\xc3\xa9\"}"));
    ck_assert(parses("[1]"));
}
END_TEST

START_TEST(rejects_invalid)
{
    ck_assert(!parses(""));
    ck_assert(!parses("{"));
    ck_assert(!parses("{\"a\":1} x"));
    ck_assert(!parses("{\"a\":1}{}"));
    ck_assert(!parses("{'a':1}"));
    ck_assert(!parses("{\"a\": NaN}"));
    ck_assert(!parses("{\"a\": 1} // c"));
    ck_assert(!parses("{\"a\": 1 /* c */}"));
    ck_assert(!parses("{\"a\":1,}"));
    ck_assert(!parses("{\"a\": \"\\u0000\"}"));
    ck_assert(!parses("{\"a\": \"\\ud83d\"}"));
    ck_assert(!parses("{\"a\": \"\\ude00\"}"));
    ck_assert(!parses("{\"a\": \"\\ud83d\\u0041\"}"));
    ck_assert(!parses("{\"a\": \"\xff\"}"));
    ck_assert(!parses("{\"a\": \"\xc0\xaf\"}"));
    ck_assert(!parses("{\"a\": \"\xed\xa0\x80\"}"));
}
END_TEST

START_TEST(rejects_embedded_nul)
{
    const char text[] = "{\"a\":1}\0";
    const char *why;
    ck_assert_ptr_null(json_parse_strict(text, sizeof text - 1, &why));
    ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(serialises_without_slash_escapes)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "p", json_object_new_string("/api/x"));
    size_t len;
    const char *t = json_text(o, &len);
    ck_assert_str_eq(t, "{\"p\":\"/api/x\"}");
    ck_assert_uint_eq(len, strlen(t));
    json_object_put(o);
}
END_TEST

START_TEST(rejects_duplicate_keys)
{
    const char *why = NULL;
    const char *dup = "{\"title\":\"a\",\"title\":\"b\"}";
    ck_assert_ptr_null(json_parse_strict(dup, strlen(dup), &why));
    ck_assert_str_eq(why, "duplicate key");
    /* The same key spelled two ways is still the same key. */
    ck_assert(!parses("{\"a\":1,\"\\u0061\":2}"));
    /* Nested, in arrays, with white space before the colon. */
    ck_assert(!parses("{\"x\":{\"k\":1, \"k\" :2}}"));
    ck_assert(!parses("[{\"k\":1},{\"a\":1,\"a\":1}]"));
    ck_assert(!parses("{\"k\":[],\"k\"\n:[]}"));
}
END_TEST

START_TEST(same_key_in_different_objects_is_fine)
{
    ck_assert(parses("{\"k\":{\"k\":{\"k\":1}}}"));
    ck_assert(parses("[{\"k\":1},{\"k\":2}]"));
    /* A string value holding ':' or '"k":' text is no key. */
    ck_assert(parses("{\"a\":\"k\",\"b\":\"\\\"k\\\":1\"}"));
    ck_assert(parses("{\"a\":[\"x\",\"x\"],\"b\":\":\"}"));
    ck_assert(parses("{}"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsonutil");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, accepts_valid);
    tcase_add_test(tc, rejects_invalid);
    tcase_add_test(tc, rejects_embedded_nul);
    tcase_add_test(tc, serialises_without_slash_escapes);
    tcase_add_test(tc, rejects_duplicate_keys);
    tcase_add_test(tc, same_key_in_different_objects_is_fine);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
