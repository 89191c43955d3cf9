/* Unit tests: answers in the CGI wire form, errors in the contract's shape. */
#include "pitchey-build.h"

#include <string.h>

#include "api/response.h"
#include "unit.h"

static char *wire(const struct response *res, bool head)
{
    struct buf b = BUF_INIT;
    response_serialize(res, head, &b);
    return buf_steal(&b, NULL);
}

START_TEST(json_answer)
{
    struct response res;
    response_init(&res);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "a", json_object_new_int(1));
    response_json(&res, 200, o);
    json_object_put(o);
    response_header(&res, "X-Test", "%d", 7);
    char *w = wire(&res, false);
    ck_assert_str_eq(w, "Status: 200 OK\r\n"
                        "Content-Type: application/json; charset=utf-8\r\n"
                        "X-Test: 7\r\n"
                        "Content-Length: 7\r\n\r\n"
                        "{\"a\":1}");
    free(w);
    w = wire(&res, true);
    ck_assert(strstr(w, "Content-Length: 7\r\n\r\n") != NULL);
    ck_assert(strstr(w, "{\"a\":1}") == NULL);
    free(w);
    response_free(&res);
}
END_TEST

START_TEST(error_shape)
{
    struct response res;
    response_init(&res);
    response_error(&res, 404, "not_found", "pitch %d does not exist", 42);
    ck_assert_str_eq(res.body.data,
                     "{\"error\":{\"code\":\"not_found\",\"message\":\"pitch 42 does not exist\"}}");
    ck_assert_int_eq(res.status, 404);
    response_free(&res);

    response_init(&res);
    response_error(&res, 401, "unauthorized", "token required");
    char *w = wire(&res, false);
    ck_assert(strstr(w, "Status: 401 Unauthorized\r\n") != NULL);
    ck_assert(strstr(w, "WWW-Authenticate: Bearer\r\n") != NULL);
    free(w);
    response_free(&res);
}
END_TEST

START_TEST(validation_and_unavailable)
{
    struct response res;
    response_init(&res);
    struct json_object *f = json_object_new_object();
    json_object_object_add(f, "title", json_object_new_string("must be 1-200 characters"));
    response_validation(&res, f);
    ck_assert_int_eq(res.status, 422);
    ck_assert(strstr(res.body.data, "\"fields\":{\"title\":\"must be 1-200 characters\"}") != NULL);
    ck_assert(strstr(res.body.data, "\"code\":\"validation_failed\"") != NULL);
    response_free(&res);

    response_init(&res);
    response_unavailable(&res, 3);
    char *w = wire(&res, false);
    ck_assert(strstr(w, "Status: 503 Service Unavailable\r\n") != NULL);
    ck_assert(strstr(w, "Retry-After: 3\r\n") != NULL);
    free(w);
    response_free(&res);
}
END_TEST

START_TEST(bodyless_statuses)
{
    struct response res;
    response_init(&res);
    response_empty(&res, 204);
    char *w = wire(&res, false);
    ck_assert_str_eq(w, "Status: 204 No Content\r\n\r\n");
    free(w);
    response_free(&res);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("response");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, json_answer);
    tcase_add_test(tc, error_shape);
    tcase_add_test(tc, validation_and_unavailable);
    tcase_add_test(tc, bodyless_statuses);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
