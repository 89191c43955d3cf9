/* Unit tests: route matching, 404/405 and the Allow list. */
#include "pitchey-build.h"

#include <string.h>

#include "api/router.h"
#include "unit.h"

static int h1, h2, h3;
static const struct route table[] = {
    { "/api/pitches", METHOD_GET | METHOD_POST, &h1, 0 },
    { "/api/pitches/{id}", METHOD_GET | METHOD_PUT | METHOD_DELETE, &h2, 0 },
    { "/api/health", METHOD_GET, &h3, 0 },
};

static enum route_match match(const char *path, enum http_method m, const struct route **r,
                              char *id, unsigned *allowed)
{
    return router_match(table, 3, path, m, r, id, 32, allowed);
}

START_TEST(matches_literal_and_id)
{
    const struct route *r;
    char id[32];
    unsigned allowed;
    ck_assert_int_eq(match("/api/pitches", METHOD_GET, &r, id, &allowed), ROUTE_FOUND);
    ck_assert_ptr_eq(r->handler, &h1);
    ck_assert_int_eq(match("/api/pitches/42", METHOD_DELETE, &r, id, &allowed), ROUTE_FOUND);
    ck_assert_ptr_eq(r->handler, &h2);
    ck_assert_str_eq(id, "42");
    ck_assert_int_eq(match("/api/pitches/abc", METHOD_GET, &r, id, &allowed), ROUTE_FOUND);
    ck_assert_str_eq(id, "abc");
    ck_assert_int_eq(match("/api/health", METHOD_HEAD, &r, id, &allowed), ROUTE_FOUND);
}
END_TEST

START_TEST(not_found)
{
    const struct route *r;
    char id[32];
    unsigned allowed;
    ck_assert_int_eq(match("/api/nope", METHOD_GET, &r, id, &allowed), ROUTE_NOT_FOUND);
    ck_assert_int_eq(match("/api/pitches/", METHOD_GET, &r, id, &allowed), ROUTE_NOT_FOUND);
    ck_assert_int_eq(match("/api/pitches/1/x", METHOD_GET, &r, id, &allowed), ROUTE_NOT_FOUND);
    ck_assert_int_eq(match("/api/healthz", METHOD_GET, &r, id, &allowed), ROUTE_NOT_FOUND);
}
END_TEST

START_TEST(method_not_allowed_lists_allow)
{
    const struct route *r;
    char id[32];
    unsigned allowed;
    ck_assert_int_eq(match("/api/health", METHOD_POST, &r, id, &allowed),
                     ROUTE_METHOD_NOT_ALLOWED);
    char list[128];
    router_allow_list(allowed, list, sizeof list);
    ck_assert_str_eq(list, "GET, HEAD, OPTIONS");
    ck_assert_int_eq(match("/api/pitches/7", METHOD_POST, &r, id, &allowed),
                     ROUTE_METHOD_NOT_ALLOWED);
    router_allow_list(allowed, list, sizeof list);
    ck_assert_str_eq(list, "GET, HEAD, PUT, DELETE, OPTIONS");
    ck_assert_ptr_eq(r->handler, &h2);
    ck_assert_int_eq(match("/api/pitches", METHOD_OTHER, &r, id, &allowed),
                     ROUTE_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(long_id_stays_invalid)
{
    const struct route *r;
    char id[8];
    unsigned allowed;
    ck_assert_int_eq(router_match(table, 3, "/api/pitches/123456789012", METHOD_GET, &r, id,
                                  sizeof id, &allowed),
                     ROUTE_FOUND);
    ck_assert(id[0] == 'x');
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, matches_literal_and_id);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, method_not_allowed_lists_allow);
    tcase_add_test(tc, long_id_stays_invalid);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
