/* Unit tests: the field rules, at their bounds, in code points. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "common/jsonutil.h"
#include "unit.h"

static struct json_object *parse(const char *s)
{
    const char *why;
    struct json_object *o = json_parse_strict(s, strlen(s), &why);
    ck_assert_ptr_nonnull(o);
    return o;
}

static char *repeat(const char *unit, int n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(s + u * (size_t)i, unit, u);
    s[u * (size_t)n] = '\0';
    return s;
}

/* Validates {"title": title, "logline": "L", "genre": "drama"}; returns the
 * fields' text or "" when valid. */
static const char *pitch_with(const char *extra_json, char *out, size_t len)
{
    char text[100000];
    snprintf(text, sizeof text, "{%s}", extra_json);
    struct json_object *o = parse(text);
    struct pitch_input in;
    struct json_object *fields = NULL;
    int rc = validate_pitch(o, &in, &fields);
    snprintf(out, len, "%s",
             rc == 0 ? "" : json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN));
    json_object_put(fields);
    pitch_input_free(&in);
    json_object_put(o);
    return out;
}

START_TEST(pitch_minimal_and_defaults)
{
    struct json_object *o = parse("{\"title\":\"  T  \",\"logline\":\"L\",\"genre\":\"sci-fi\","
                                  "\"id\":5,\"views\":9}");
    struct pitch_input in;
    struct json_object *fields;
    ck_assert_int_eq(validate_pitch(o, &in, &fields), 0);
    ck_assert_str_eq(in.title, "T");
    ck_assert_str_eq(in.synopsis, "");
    ck_assert_str_eq(in.status, "published");
    ck_assert(!in.has_budget);
    pitch_input_free(&in);
    json_object_put(o);
}
END_TEST

START_TEST(title_bounds_in_code_points)
{
    char out[4096], body[4096];
    char *t200 = repeat("\xc3\xa9", 200), *t201 = repeat("\xc3\xa9", 201);
    snprintf(body, sizeof body, "\"title\":\"%s\",\"logline\":\"L\",\"genre\":\"drama\"", t200);
    ck_assert_str_eq(pitch_with(body, out, sizeof out), "");
    snprintf(body, sizeof body, "\"title\":\"%s\",\"logline\":\"L\",\"genre\":\"drama\"", t201);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "title") != NULL);
    ck_assert(strstr(pitch_with("\"title\":\"   \",\"logline\":\"L\",\"genre\":\"drama\"", out,
                                sizeof out),
                     "must be 1-200 characters") != NULL);
    free(t200);
    free(t201);
}
END_TEST

START_TEST(logline_synopsis_bounds)
{
    char out[4096];
    char *body = malloc(100000);
    char *l500 = repeat("x", 500), *l501 = repeat("x", 501);
    char *s20000 = repeat("s", 20000), *s20001 = repeat("s", 20001);
    snprintf(body, 100000, "\"title\":\"T\",\"logline\":\"%s\",\"genre\":\"drama\",\"synopsis\":\"%s\"",
             l500, s20000);
    ck_assert_str_eq(pitch_with(body, out, sizeof out), "");
    snprintf(body, 100000, "\"title\":\"T\",\"logline\":\"%s\",\"genre\":\"drama\",\"synopsis\":\"%s\"",
             l501, s20001);
    pitch_with(body, out, sizeof out);
    ck_assert(strstr(out, "logline") && strstr(out, "synopsis"));
    ck_assert(strstr(pitch_with("\"title\":\"T\",\"logline\":\"\",\"genre\":\"drama\"", out,
                                sizeof out),
                     "logline") != NULL);
    free(l500);
    free(l501);
    free(s20000);
    free(s20001);
    free(body);
}
END_TEST

START_TEST(types_nulls_and_enums)
{
    char out[4096];
    ck_assert(strstr(pitch_with("\"title\":null,\"logline\":\"L\",\"genre\":\"drama\"", out,
                                sizeof out),
                     "\"title\":\"must be a string\"") != NULL);
    ck_assert(strstr(pitch_with("\"title\":\"T\",\"logline\":\"L\",\"genre\":\"western\"", out,
                                sizeof out),
                     "genre") != NULL);
    ck_assert(strstr(pitch_with("\"title\":\"T\",\"logline\":\"L\",\"genre\":\"drama\","
                                "\"status\":\"archived\"",
                                out, sizeof out),
                     "status") != NULL);
    ck_assert(strstr(pitch_with("\"title\":\"T\",\"logline\":\"L\",\"genre\":\"drama\","
                                "\"status\":null",
                                out, sizeof out),
                     "status") != NULL);
    ck_assert(strstr(pitch_with("\"logline\":\"L\",\"genre\":\"drama\"", out, sizeof out),
                     "\"title\":\"is required\"") != NULL);
    ck_assert_str_eq(pitch_with("\"title\":\"T\",\"logline\":\"L\",\"genre\":\"drama\","
                                "\"budget_usd\":null",
                                out, sizeof out),
                     "");
}
END_TEST

START_TEST(budget_bounds)
{
    char out[4096];
    const char *base = "\"title\":\"T\",\"logline\":\"L\",\"genre\":\"drama\",\"budget_usd\":";
    char body[256];
    snprintf(body, sizeof body, "%s0", base);
    ck_assert_str_eq(pitch_with(body, out, sizeof out), "");
    snprintf(body, sizeof body, "%s1000000000000", base);
    ck_assert_str_eq(pitch_with(body, out, sizeof out), "");
    snprintf(body, sizeof body, "%s1000000000001", base);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "budget_usd") != NULL);
    snprintf(body, sizeof body, "%s-1", base);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "budget_usd") != NULL);
    snprintf(body, sizeof body, "%s1.5", base);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "budget_usd") != NULL);
    snprintf(body, sizeof body, "%s\"100\"", base);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "budget_usd") != NULL);
    snprintf(body, sizeof body, "%s99999999999999999999999", base);
    ck_assert(strstr(pitch_with(body, out, sizeof out), "budget_usd") != NULL);
}
END_TEST

START_TEST(register_rules)
{
    struct register_input in;
    struct json_object *fields;
    struct json_object *o = parse("{\"email\":\" Ada@Example.COM \",\"password\":\"12345678\","
                                  "\"name\":\" Ada \",\"role\":\"investor\"}");
    ck_assert_int_eq(validate_register(o, &in, &fields), 0);
    ck_assert_str_eq(in.email, "ada@example.com");
    ck_assert_str_eq(in.name, "Ada");
    register_input_free(&in);
    json_object_put(o);

    o = parse("{\"email\":\"nope\",\"password\":\"1234567\",\"name\":\"\",\"role\":\"king\"}");
    ck_assert_int_eq(validate_register(o, &in, &fields), -1);
    const char *t = json_object_to_json_string(fields);
    ck_assert(strstr(t, "email") && strstr(t, "password") && strstr(t, "name") && strstr(t, "role"));
    json_object_put(fields);
    register_input_free(&in);
    json_object_put(o);

    o = parse("{\"email\":\"a@b.co\",\"password\":\"12345678\",\"name\":\"A\"}");
    ck_assert_int_eq(validate_register(o, &in, &fields), -1);
    ck_assert(strstr(json_object_to_json_string(fields), "role") != NULL);
    json_object_put(fields);
    register_input_free(&in);
    json_object_put(o);
}
END_TEST

START_TEST(emails)
{
    ck_assert(validate_email("a@b.co"));
    ck_assert(validate_email("first.last+tag@sub.example.org"));
    ck_assert(!validate_email("a@b"));
    ck_assert(!validate_email("@b.co"));
    ck_assert(!validate_email("a@@b.co"));
    ck_assert(!validate_email("a b@c.de"));
    ck_assert(!validate_email("a@.co"));
    ck_assert(!validate_email("a@b..co"));
    char long_email[300];
    memset(long_email, 'a', 250);
    strcpy(long_email + 250, "@b.co");
    ck_assert(!validate_email(long_email));
}
END_TEST

START_TEST(login_requires_both)
{
    struct login_input in;
    struct json_object *fields;
    struct json_object *o = parse("{\"email\":\"a@b.co\"}");
    ck_assert_int_eq(validate_login(o, &in, &fields), -1);
    ck_assert(strstr(json_object_to_json_string(fields), "password") != NULL);
    json_object_put(fields);
    login_input_free(&in);
    json_object_put(o);
}
END_TEST

START_TEST(login_has_the_bounds_of_register)
{
    struct login_input in;
    struct json_object *fields;
    /* A 3,000-character email: a 422 naming the field, not a database error. */
    char *body = malloc(3100);
    strcpy(body, "{\"email\":\"");
    size_t n = strlen(body);
    memset(body + n, 'a', 2990);
    strcpy(body + n + 2990, "@b.co\",\"password\":\"long enough\"}");
    struct json_object *o = parse(body);
    free(body);
    ck_assert_int_eq(validate_login(o, &in, &fields), -1);
    ck_assert_ptr_nonnull(fields);
    ck_assert(json_object_object_get_ex(fields, "email", NULL));
    ck_assert(!json_object_object_get_ex(fields, "password", NULL));
    json_object_put(fields);
    login_input_free(&in);
    json_object_put(o);

    o = parse("{\"email\":\"a@b.co\",\"password\":\"short\"}");
    ck_assert_int_eq(validate_login(o, &in, &fields), -1);
    ck_assert(json_object_object_get_ex(fields, "password", NULL));
    json_object_put(fields);
    login_input_free(&in);
    json_object_put(o);

    o = parse("{\"email\":\" A@B.co \",\"password\":\"long enough\"}");
    ck_assert_int_eq(validate_login(o, &in, &fields), 0);
    ck_assert_str_eq(in.email, "a@b.co");
    login_input_free(&in);
    json_object_put(o);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pitch_minimal_and_defaults);
    tcase_add_test(tc, title_bounds_in_code_points);
    tcase_add_test(tc, logline_synopsis_bounds);
    tcase_add_test(tc, types_nulls_and_enums);
    tcase_add_test(tc, budget_bounds);
    tcase_add_test(tc, register_rules);
    tcase_add_test(tc, emails);
    tcase_add_test(tc, login_requires_both);
    tcase_add_test(tc, login_has_the_bounds_of_register);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
