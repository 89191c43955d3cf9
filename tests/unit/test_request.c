/* Unit tests: CGI parameters into struct request. */
#include "pitchey-build.h"

#include <string.h>

#include "api/request.h"
#include "unit.h"

/* CGI params arrive as mutable strings; literals are const here. */
#define E(s) ((char *)(s))

START_TEST(parses_cgi_params)
{
    char *env[] = {
        E("REQUEST_METHOD=POST"), E("REQUEST_URI=/api/pitches?limit=5"),
        E("CONTENT_TYPE=application/json; charset=utf-8"), E("CONTENT_LENGTH=12"),
        E("HTTP_AUTHORIZATION=Bearer abc"), E("REMOTE_ADDR=127.0.0.9"),
        E("HTTP_X_REQUEST_ID=req-1.A_b"), NULL,
    };
    struct request r;
    request_init(&r, env);
    ck_assert_int_eq(r.method, METHOD_POST);
    ck_assert_str_eq(r.path, "/api/pitches");
    const char *v;
    ck_assert_int_eq(query_get(&r.query, "limit", &v), QUERY_FOUND);
    ck_assert_int_eq(r.content_length, 12);
    ck_assert(request_content_type_json(r.content_type));
    ck_assert_str_eq(request_bearer(&r), "abc");
    ck_assert_str_eq(r.remote_addr, "127.0.0.9");
    ck_assert_str_eq(r.request_id, "req-1.A_b");
    request_free(&r);
}
END_TEST

START_TEST(bad_request_id_is_replaced)
{
    char *env[] = { E("REQUEST_METHOD=GET"), E("REQUEST_URI=/api/health"),
                    E("HTTP_X_REQUEST_ID=bad id!"), NULL };
    struct request r;
    request_init(&r, env);
    ck_assert_str_ne(r.request_id, "bad id!");
    ck_assert(request_token_ok(r.request_id));
    request_free(&r);
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    ck_assert(!request_token_ok(long_id));
    long_id[64] = '\0';
    ck_assert(request_token_ok(long_id));
    ck_assert(!request_token_ok(""));
}
END_TEST

START_TEST(content_types)
{
    ck_assert(request_content_type_json("application/json"));
    ck_assert(request_content_type_json("Application/JSON;charset=utf-8"));
    ck_assert(!request_content_type_json("application/jsonx"));
    ck_assert(!request_content_type_json("text/plain"));
    ck_assert(!request_content_type_json(NULL));
}
END_TEST

START_TEST(path_ids)
{
    int64_t id;
    ck_assert_int_eq(request_parse_id("42", &id), 0);
    ck_assert_int_eq(id, 42);
    ck_assert_int_eq(request_parse_id("9223372036854775807", &id), 0);
    ck_assert_int_eq(id, INT64_MAX);
    ck_assert_int_eq(request_parse_id("9223372036854775808", &id), -1);
    ck_assert_int_eq(request_parse_id("99999999999999999999999", &id), -1);
    ck_assert_int_eq(request_parse_id("0", &id), -1);
    ck_assert_int_eq(request_parse_id("-1", &id), -1);
    ck_assert_int_eq(request_parse_id("1.5", &id), -1);
    ck_assert_int_eq(request_parse_id("abc", &id), -1);
    ck_assert_int_eq(request_parse_id("", &id), -1);
    ck_assert_int_eq(request_parse_id("+1", &id), -1);
}
END_TEST

START_TEST(gzip_negotiation)
{
    struct request r;
    memset(&r, 0, sizeof r);
    r.accept_encoding = "gzip, deflate, br";
    ck_assert(request_accepts_gzip(&r));
    r.accept_encoding = "deflate;q=1, gzip;q=0.5";
    ck_assert(request_accepts_gzip(&r));
    r.accept_encoding = "gzip;q=0";
    ck_assert(!request_accepts_gzip(&r));
    r.accept_encoding = "identity";
    ck_assert(!request_accepts_gzip(&r));
    r.accept_encoding = NULL;
    ck_assert(!request_accepts_gzip(&r));
}
END_TEST

START_TEST(bearer_forms)
{
    struct request r;
    memset(&r, 0, sizeof r);
    ck_assert_ptr_null(request_bearer(&r));
    r.authorization = "Basic xyz";
    ck_assert_str_eq(request_bearer(&r), "");
    r.authorization = "bearer  tok";
    ck_assert_str_eq(request_bearer(&r), "tok");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parses_cgi_params);
    tcase_add_test(tc, bad_request_id_is_replaced);
    tcase_add_test(tc, content_types);
    tcase_add_test(tc, path_ids);
    tcase_add_test(tc, gzip_negotiation);
    tcase_add_test(tc, bearer_forms);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
