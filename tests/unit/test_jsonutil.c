/* Unit tests: strict JSON parsing. */
#include "pitchey-build.h"

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

static Suite *suite(void)
{
    Suite *s = suite_create("jsonutil");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, accepts_valid);
    tcase_add_test(tc, rejects_invalid);
    tcase_add_test(tc, rejects_embedded_nul);
    tcase_add_test(tc, serialises_without_slash_escapes);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
