/* Integration: every route, status and error of API.md (caching, metrics
 * and rooms aside) through nginx against the real pool; pagination in both
 * sort orders; users cannot touch each other's pitches. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_client.h"

#define JSON_CT "Content-Type: application/json"

static void expect_error(const char *method, const char *path, const char *token,
                         const char *body, const char *extra, long status, const char *code)
{
    struct it_response r;
    ck_assert_int_eq(api_json(method, path, token, body, extra, &r), 0);
    it_assert_error(&r, status, code);
    it_response_free(&r);
}

/* ------------------------------------------------------------- accounts */

START_TEST(register_login_me_logout)
{
    struct test_user u;
    api_register("ada", "creator", &u);
    ck_assert_uint_eq(strlen(u.token), 43);

    struct it_response r;
    ck_assert_int_eq(api_json("GET", "/api/users/me", u.token, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    struct json_object *o = it_json(&r);
    ck_assert_int_eq(json_int(o, "id"), u.id);
    ck_assert_str_eq(json_str(o, "email"), u.email);
    ck_assert_str_eq(json_str(o, "role"), "creator");
    ck_assert_str_eq(json_str(o, "bio"), "");
    ck_assert_uint_eq(strlen(json_str(o, "created_at")), 24);
    json_object_put(o);
    char *h = it_header(&r, "X-Cache-Status");
    ck_assert_str_eq(h, "BYPASS");
    free(h);
    h = it_header(&r, "Cache-Control");
    ck_assert_str_eq(h, "private, no-store");
    free(h);
    it_response_free(&r);

    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"correct horse\"}", u.email);
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, body, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    o = it_json(&r);
    char token2[64];
    snprintf(token2, sizeof token2, "%s", json_str(o, "token"));
    ck_assert_str_eq(json_str(o, "user.email"), u.email);
    json_object_put(o);
    it_response_free(&r);
    ck_assert_str_ne(token2, u.token);

    ck_assert_int_eq(api_json("POST", "/api/auth/logout", u.token, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_uint_eq(r.body_len, 0);
    it_response_free(&r);
    /* Revoked at once: 401 everywhere, public routes included. */
    expect_error("GET", "/api/users/me", u.token, NULL, NULL, 401, "unauthorized");
    expect_error("GET", "/api/pitches", u.token, NULL, NULL, 401, "unauthorized");
    expect_error("POST", "/api/auth/logout", u.token, NULL, NULL, 401, "unauthorized");
    /* The other session lives on. */
    ck_assert_int_eq(api_json("GET", "/api/users/me", token2, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(register_errors)
{
    struct test_user u;
    api_register("dup", "investor", &u);
    char body[256];
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"password\":\"12345678\",\"name\":\"X\",\"role\":\"producer\"}",
             u.email);
    expect_error("POST", "/api/auth/register", NULL, body, NULL, 409, "email_taken");
    /* Stored lowercased: the same address in capitals is taken too. */
    for (char *p = body; *p; p++)
        if (*p >= 'a' && *p <= 'z' && p > body + 10 && p < body + 10 + strlen(u.email))
            *p = (char)(*p - 32);
    expect_error("POST", "/api/auth/register", NULL, body, NULL, 409, "email_taken");

    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/auth/register", NULL,
                              "{\"email\":\"bad\",\"password\":\"short\",\"name\":\"\"}", NULL,
                              &r),
                     0);
    it_assert_error(&r, 422, "validation_failed");
    struct json_object *o = it_json(&r);
    ck_assert_ptr_nonnull(it_path(o, "error.fields.email"));
    ck_assert_ptr_nonnull(it_path(o, "error.fields.password"));
    ck_assert_ptr_nonnull(it_path(o, "error.fields.name"));
    ck_assert_ptr_nonnull(it_path(o, "error.fields.role"));
    json_object_put(o);
    it_response_free(&r);

    /* A token sent with register is ignored, even a bad one. */
    ck_assert_int_eq(api_json("POST", "/api/auth/register", "not-a-real-token",
                              "{\"email\":\"x\"}", NULL, &r),
                     0);
    it_assert_error(&r, 422, "validation_failed");
    it_response_free(&r);
}
END_TEST

START_TEST(body_errors_in_order)
{
    /* 415 without a JSON content type. */
    struct it_response r;
    const char *plain[] = { "Content-Type: text/plain", NULL };
    ck_assert_int_eq(it_request(NULL, "POST", "/api/auth/login", "{}", plain, &r), 0);
    it_assert_error(&r, 415, "unsupported_media_type");
    it_response_free(&r);
    const char *none[] = { NULL };
    ck_assert_int_eq(it_request(NULL, "POST", "/api/auth/login", "", none, &r), 0);
    it_assert_error(&r, 415, "unsupported_media_type");
    it_response_free(&r);
    /* charset parameter allowed */
    const char *cs[] = { "Content-Type: application/json; charset=utf-8", NULL };
    ck_assert_int_eq(it_request(NULL, "POST", "/api/auth/login", "{}", cs, &r), 0);
    it_assert_error(&r, 422, "validation_failed");
    it_response_free(&r);

    /* 400 invalid_json: syntax, trailing data, non-object, bad UTF-8, \u0000,
     * unpaired surrogates. */
    const char *bad[] = {
        "{", "{\"email\":1} x", "[1,2]", "\"str\"", "{\"a\":\"\xff\"}", "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}", "{'a':1}", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error("POST", "/api/auth/login", NULL, bad[i], NULL, 400, "invalid_json");

    /* 413 above max_body (1 MiB), and nothing lost: the service answers
     * normally right after. */
    size_t big = 1048576 + 100;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    expect_error("POST", "/api/auth/login", NULL, huge, NULL, 413, "payload_too_large");
    free(huge);
    expect_error("POST", "/api/auth/login", NULL, "{}", NULL, 422, "validation_failed");
}
END_TEST

START_TEST(login_errors_and_limit)
{
    struct test_user u;
    api_register("limit", "creator", &u);
    char wrong[256], unknown[256], right[256];
    snprintf(wrong, sizeof wrong, "{\"email\":\"%s\",\"password\":\"wrong password\"}", u.email);
    snprintf(unknown, sizeof unknown,
             "{\"email\":\"nobody-%s\",\"password\":\"wrong password\"}", u.email);
    snprintf(right, sizeof right, "{\"email\":\"%s\",\"password\":\"correct horse\"}", u.email);

    struct it_response a, b;
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, wrong, NULL, &a), 0);
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, unknown, NULL, &b), 0);
    it_assert_error(&a, 401, "invalid_credentials");
    it_assert_error(&b, 401, "invalid_credentials");
    ck_assert_str_eq(a.body, b.body); /* same answer for both */
    it_response_free(&a);
    it_response_free(&b);
    expect_error("POST", "/api/auth/login", NULL, "{\"email\":\"a@b.co\"}", NULL, 422,
                 "validation_failed");

    /* A success clears the count... */
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, right, NULL, &a), 0);
    ck_assert_int_eq(a.status, 200);
    it_response_free(&a);
    /* ...then attempts 1-10 may fail with 401, the 11th is 429. */
    for (int i = 1; i <= 10; i++)
        expect_error("POST", "/api/auth/login", NULL, wrong, NULL, 401, "invalid_credentials");
    ck_assert_int_eq(api_json("POST", "/api/auth/login", NULL, right, NULL, &a), 0);
    it_assert_error(&a, 429, "rate_limited");
    char *ra = it_header(&a, "Retry-After");
    ck_assert_ptr_nonnull(ra);
    ck_assert_int_ge(atoi(ra), 800); /* about 15 minutes left */
    ck_assert_int_le(atoi(ra), 900);
    free(ra);
    it_response_free(&a);
}
END_TEST

START_TEST(users_public_view)
{
    struct test_user u;
    api_register("pub", "producer", &u);
    api_create_pitch(&u, "Public One", "comedy", "published");
    api_create_pitch(&u, "Secret Draft", "comedy", "draft");
    char path[64];
    snprintf(path, sizeof path, "/api/users/%lld", (long long)u.id);
    struct it_response r;
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    struct json_object *o = it_json(&r);
    ck_assert_int_eq(json_int(o, "pitch_count"), 1);
    ck_assert_ptr_null(it_path(o, "email"));
    ck_assert_str_eq(json_str(o, "role"), "producer");
    json_object_put(o);
    char *h = it_header(&r, "X-Cache-Status");
    ck_assert_ptr_nonnull(h);
    free(h);
    it_response_free(&r);

    expect_error("GET", "/api/users/999999999", NULL, NULL, NULL, 404, "not_found");
    const char *bad_ids[] = { "0", "-1", "1.5", "abc", "9223372036854775808", "1e3" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        snprintf(path, sizeof path, "/api/users/%s", bad_ids[i]);
        expect_error("GET", path, NULL, NULL, NULL, 400, "invalid_parameter");
    }
    expect_error("GET", "/api/users/me", NULL, NULL, NULL, 401, "unauthorized");
    ck_assert_int_eq(it_get("/api/users/me", &r), 0);
    h = it_header(&r, "WWW-Authenticate");
    ck_assert_str_eq(h, "Bearer");
    free(h);
    it_response_free(&r);
}
END_TEST

/* --------------------------------------------------------------- pitches */

START_TEST(pitch_lifecycle_and_ownership)
{
    struct test_user owner, other;
    api_register("owner", "creator", &owner);
    api_register("other", "investor", &other);
    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/pitches", owner.token,
                              "{\"title\":\"  The Last Compiler \",\"logline\":\"A retired "
                              "engineer must...\",\"genre\":\"sci-fi\",\"budget_usd\":2500000,"
                              "\"id\":99,\"views\":5}",
                              NULL, &r),
                     0);
    ck_assert_int_eq(r.status, 201);
    struct json_object *o = it_json(&r);
    int64_t id = json_int(o, "id");
    ck_assert_int_ne(id, 99);
    ck_assert_str_eq(json_str(o, "title"), "The Last Compiler");
    ck_assert_int_eq(json_int(o, "budget_usd"), 2500000);
    ck_assert_int_eq(json_int(o, "views"), 0);
    ck_assert_str_eq(json_str(o, "status"), "published");
    ck_assert_str_eq(json_str(o, "synopsis"), "");
    ck_assert_int_eq(json_int(o, "owner.id"), owner.id);
    json_object_put(o);
    char *loc = it_header(&r, "Location");
    char want[64];
    snprintf(want, sizeof want, "/api/pitches/%lld", (long long)id);
    ck_assert_str_eq(loc, want);
    free(loc);
    it_response_free(&r);

    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)id);
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
    ck_assert_int_eq(it_request(NULL, "HEAD", path, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    it_response_free(&r);

    const char *upd = "{\"title\":\"Renamed\",\"logline\":\"New\",\"genre\":\"drama\"}";
    expect_error("PUT", path, other.token, upd, NULL, 403, "forbidden");
    expect_error("DELETE", path, other.token, NULL, NULL, 403, "forbidden");
    expect_error("PUT", path, NULL, upd, NULL, 401, "unauthorized");
    /* PUT replaces: budget_usd left out returns to its default (null). */
    ck_assert_int_eq(api_json("PUT", path, owner.token, upd, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    o = it_json(&r);
    ck_assert_str_eq(json_str(o, "title"), "Renamed");
    ck_assert_ptr_null(it_path(o, "budget_usd"));
    ck_assert(json_object_object_get_ex(o, "budget_usd", NULL));
    json_object_put(o);
    it_response_free(&r);

    ck_assert_int_eq(api_json("DELETE", path, owner.token, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 204);
    it_response_free(&r);
    expect_error("GET", path, NULL, NULL, NULL, 404, "not_found");
    expect_error("DELETE", path, owner.token, NULL, NULL, 404, "not_found");
    expect_error("PUT", path, owner.token, upd, NULL, 404, "not_found");
}
END_TEST

START_TEST(drafts_are_the_owners)
{
    struct test_user owner, other;
    api_register("drafter", "creator", &owner);
    api_register("snoop", "investor", &other);
    int64_t id = api_create_pitch(&owner, "Hidden Draft", "horror", "draft");
    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)id);
    expect_error("GET", path, NULL, NULL, NULL, 404, "not_found");
    expect_error("GET", path, other.token, NULL, NULL, 404, "not_found");
    const char *upd = "{\"title\":\"X\",\"logline\":\"Y\",\"genre\":\"drama\"}";
    expect_error("PUT", path, other.token, upd, NULL, 404, "not_found");
    expect_error("DELETE", path, other.token, NULL, NULL, 404, "not_found");
    struct it_response r;
    ck_assert_int_eq(api_json("GET", path, owner.token, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    char *h = it_header(&r, "Cache-Control");
    ck_assert_str_eq(h, "private, no-store");
    free(h);
    h = it_header(&r, "X-Cache-Status");
    ck_assert_str_eq(h, "BYPASS");
    free(h);
    it_response_free(&r);
    /* The owner's private answer released the refresh lock it took: the
     * next reader does not wait out lock_wait_ms (5 s in this suite). */
    ck_assert_int_eq(api_json("GET", path, other.token, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(r.seconds < 2.5, "waited %.2fs for a lock nobody refreshes", r.seconds);
    it_response_free(&r);
    /* Not in any list. */
    char list[96];
    snprintf(list, sizeof list, "/api/pitches?owner=%lld", (long long)owner.id);
    ck_assert_int_eq(it_get(list, &r), 0);
    struct json_object *o = it_json(&r);
    ck_assert_int_eq(json_object_array_length(it_path(o, "items")), 0);
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

START_TEST(order_of_checks)
{
    struct test_user u;
    api_register("order", "creator", &u);
    int64_t id = api_create_pitch(&u, "Ordered", "drama", "published");
    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)id);
    /* 404 before 405 before 400 (bad id) before 401 before 415 ... */
    expect_error("PATCH", "/api/nothing/1", NULL, NULL, NULL, 404, "not_found");
    expect_error("PATCH", "/api/pitches/abc", NULL, NULL, NULL, 405, "method_not_allowed");
    expect_error("PUT", "/api/pitches/abc", NULL, "{", NULL, 400, "invalid_parameter");
    expect_error("PUT", path, NULL, "{", NULL, 401, "unauthorized");
    expect_error("PUT", path, "garbage-token", "{", NULL, 401, "unauthorized");
    struct it_response r;
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", u.token);
    const char *h415[] = { auth, "Content-Type: text/plain", NULL };
    ck_assert_int_eq(it_request(NULL, "PUT", path, "{", h415, &r), 0);
    it_assert_error(&r, 415, "unsupported_media_type");
    it_response_free(&r);
    expect_error("PUT", path, u.token, "{", NULL, 400, "invalid_json");
    expect_error("PUT", "/api/pitches/999999999", u.token, "{\"title\":\"\"}", NULL, 404,
                 "not_found");
    expect_error("PUT", path, u.token, "{\"title\":\"\"}", NULL, 422, "validation_failed");

    ck_assert_int_eq(api_json("PUT", "/api/pitches", NULL, NULL, NULL, &r), 0);
    it_assert_error(&r, 405, "method_not_allowed");
    char *allow = it_header(&r, "Allow");
    ck_assert_str_eq(allow, "GET, HEAD, POST, OPTIONS");
    free(allow);
    char *cs = it_header(&r, "X-Cache-Status");
    ck_assert_str_eq(cs, "BYPASS");
    free(cs);
    it_response_free(&r);
}
END_TEST

START_TEST(validation_fields)
{
    struct test_user u;
    api_register("valid", "creator", &u);
    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/pitches", u.token,
                              "{\"title\":null,\"logline\":\"\",\"genre\":\"western\","
                              "\"budget_usd\":-5,\"status\":\"gone\",\"synopsis\":7}",
                              NULL, &r),
                     0);
    it_assert_error(&r, 422, "validation_failed");
    struct json_object *o = it_json(&r);
    const char *fields[] = { "title", "logline", "genre", "budget_usd", "status", "synopsis" };
    for (size_t i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof p, "error.fields.%s", fields[i]);
        ck_assert_msg(it_path(o, p) != NULL, "no %s in %s", p, r.body);
    }
    json_object_put(o);
    it_response_free(&r);
}
END_TEST

START_TEST(idempotent_create)
{
    struct test_user u;
    api_register("idem", "creator", &u);
    const char *body = "{\"title\":\"Once\",\"logline\":\"Only once\",\"genre\":\"other\"}";
    struct it_response a, b;
    ck_assert_int_eq(api_json("POST", "/api/pitches", u.token, body, "Idempotency-Key: k-1.A_b",
                              &a),
                     0);
    ck_assert_int_eq(a.status, 201);
    ck_assert_int_eq(api_json("POST", "/api/pitches", u.token,
                              "{ \"genre\":\"other\", \"title\":\"Once\",\"logline\":\"Only once\"}",
                              "Idempotency-Key: k-1.A_b", &b),
                     0);
    ck_assert_int_eq(b.status, 201);
    ck_assert_str_eq(a.body, b.body);
    char *la = it_header(&a, "Location"), *lb = it_header(&b, "Location");
    ck_assert_str_eq(la, lb);
    free(la);
    free(lb);
    it_response_free(&a);
    it_response_free(&b);
    expect_error("POST", "/api/pitches", u.token,
                 "{\"title\":\"Twice\",\"logline\":\"Other body\",\"genre\":\"other\"}",
                 "Idempotency-Key: k-1.A_b", 422, "validation_failed");
    expect_error("POST", "/api/pitches", u.token, body, "Idempotency-Key: bad key!", 400,
                 "invalid_parameter");
    /* One pitch, not two. */
    char path[96];
    snprintf(path, sizeof path, "/api/users/%lld", (long long)u.id);
    ck_assert_int_eq(it_get(path, &a), 0);
    struct json_object *o = it_json(&a);
    ck_assert_int_eq(json_int(o, "pitch_count"), 1);
    json_object_put(o);
    it_response_free(&a);
    /* Another user may use the same key. */
    struct test_user v;
    api_register("idem2", "creator", &v);
    ck_assert_int_eq(api_json("POST", "/api/pitches", v.token, body, "Idempotency-Key: k-1.A_b",
                              &a),
                     0);
    ck_assert_int_eq(a.status, 201);
    it_response_free(&a);
}
END_TEST

/* Follows next_cursor to the end; checks each id once, in order. */
static void walk_all(const char *query, int64_t *ids, int expect, const char *order_field)
{
    char path[1024];
    char cursor[256] = "";
    int seen = 0;
    int64_t last_key = INT64_MAX, last_id = INT64_MAX;
    for (int page = 0; page < 100; page++) {
        snprintf(path, sizeof path, "/api/pitches?%s%s%s", query, cursor[0] ? "&cursor=" : "",
                 cursor);
        struct it_response r;
        ck_assert_int_eq(it_get(path, &r), 0);
        ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
        struct json_object *o = it_json(&r);
        struct json_object *items = it_path(o, "items");
        size_t n = json_object_array_length(items);
        for (size_t i = 0; i < n; i++) {
            struct json_object *it = json_object_array_get_idx(items, i);
            int64_t id = json_int(it, "id");
            ck_assert_ptr_null(it_path(it, "synopsis"));
            for (int k = 0; k < seen; k++)
                ck_assert_msg(ids[k] != id, "id %lld twice", (long long)id);
            ck_assert_int_lt(seen, expect + 1);
            ids[seen++] = id;
            if (order_field) {
                int64_t key = json_int(it, order_field);
                ck_assert(key < last_key || (key == last_key && id < last_id));
                last_key = key;
                last_id = id;
            }
        }
        struct json_object *next = it_path(o, "next_cursor");
        if (next == NULL || json_object_is_type(next, json_type_null)) {
            json_object_put(o);
            it_response_free(&r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", json_object_get_string(next));
        json_object_put(o);
        it_response_free(&r);
    }
    ck_assert_int_eq(seen, expect);
}

START_TEST(pagination_visits_every_row_once)
{
    struct test_user u;
    api_register("pager", "creator", &u);
    int64_t created[23];
    for (int i = 0; i < 23; i++) {
        char title[32];
        snprintf(title, sizeof title, "Paged %d", i);
        created[i] = api_create_pitch(&u, title, i % 2 ? "thriller" : "romance", "published");
    }
    /* Views differ for some, tie for others: popular pages through ties. */
    for (int i = 0; i < 6; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/pitches/%lld", (long long)created[i % 3]);
        struct it_response r;
        it_get(path, &r);
        it_response_free(&r);
    }
    it_sleep_ms(1500); /* one view flush */
    int64_t ids[64];
    char q[128];
    snprintf(q, sizeof q, "owner=%lld&limit=4", (long long)u.id);
    walk_all(q, ids, 23, NULL);
    /* sort=new: newest first, so the reverse of creation. */
    for (int i = 0; i < 23; i++)
        ck_assert_int_eq(ids[i], created[22 - i]);
    snprintf(q, sizeof q, "owner=%lld&limit=5&sort=popular", (long long)u.id);
    walk_all(q, ids, 23, "views");
    snprintf(q, sizeof q, "owner=%lld&limit=3&genre=thriller", (long long)u.id);
    walk_all(q, ids, 11, NULL);
    snprintf(q, sizeof q, "owner=%lld&sort=popular&limit=100", (long long)u.id);
    walk_all(q, ids, 23, "views");
}
END_TEST

START_TEST(list_parameters)
{
    struct test_user u;
    api_register("params", "creator", &u);
    api_create_pitch(&u, "Zebra Submarine Heist", "action", "published");
    api_create_pitch(&u, "Quiet Garden", "drama", "published");
    struct it_response r;
    char path[1024];
    snprintf(path, sizeof path, "/api/pitches?q=submarine&owner=%lld", (long long)u.id);
    ck_assert_int_eq(it_get(path, &r), 0);
    struct json_object *o = it_json(&r);
    ck_assert_int_eq(json_object_array_length(it_path(o, "items")), 1);
    ck_assert_str_eq(json_str(json_object_array_get_idx(it_path(o, "items"), 0), "title"),
                     "Zebra Submarine Heist");
    json_object_put(o);
    it_response_free(&r);
    /* Unknown parameters are ignored. */
    snprintf(path, sizeof path, "/api/pitches?owner=%lld&utm_source=x&foo", (long long)u.id);
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
    const char *bad[] = {
        "limit=0", "limit=101", "limit=abc", "limit=", "limit=5&limit=5", "sort=old",
        "genre=western", "owner=0", "owner=x", "q=", "cursor=zzz", "sort=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/api/pitches?%s", bad[i]);
        expect_error("GET", path, NULL, NULL, NULL, 400, "invalid_parameter");
    }
    char longq[300];
    memset(longq, 'a', 201);
    longq[201] = '\0';
    snprintf(path, sizeof path, "/api/pitches?q=%s", longq);
    expect_error("GET", path, NULL, NULL, NULL, 400, "invalid_parameter");
    /* A cursor from another query is refused. */
    api_create_pitch(&u, "Third", "drama", "published");
    snprintf(path, sizeof path, "/api/pitches?owner=%lld&limit=1", (long long)u.id);
    ck_assert_int_eq(it_get(path, &r), 0);
    o = it_json(&r);
    char cursor[128];
    snprintf(cursor, sizeof cursor, "%s", json_str(o, "next_cursor"));
    json_object_put(o);
    it_response_free(&r);
    snprintf(path, sizeof path, "/api/pitches?owner=%lld&limit=1&sort=popular&cursor=%s",
             (long long)u.id, cursor);
    expect_error("GET", path, NULL, NULL, NULL, 400, "invalid_parameter");
    snprintf(path, sizeof path, "/api/pitches?owner=%lld&genre=drama&cursor=%s", (long long)u.id,
             cursor);
    expect_error("GET", path, NULL, NULL, NULL, 400, "invalid_parameter");
    /* ... but limit is not bound. */
    snprintf(path, sizeof path, "/api/pitches?owner=%lld&limit=7&cursor=%s", (long long)u.id,
             cursor);
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(views_are_counted)
{
    struct test_user u;
    api_register("viewed", "creator", &u);
    int64_t id = api_create_pitch(&u, "Watched", "documentary", "published");
    char path[64];
    snprintf(path, sizeof path, "/api/pitches/%lld", (long long)id);
    struct it_response r;
    for (int i = 0; i < 5; i++) {
        it_get(path, &r);
        it_response_free(&r);
    }
    it_request(NULL, "HEAD", path, NULL, NULL, &r); /* HEAD does not count */
    it_response_free(&r);
    /* Flushed within view_flush_ms; the list is not cached in this suite's
     * answer path, so poll the owner's list (sort=popular). */
    char list[128];
    snprintf(list, sizeof list, "/api/pitches?owner=%lld&sort=popular", (long long)u.id);
    int64_t views = 0;
    for (int i = 0; i < 100 && views < 5; i++) {
        it_sleep_ms(100);
        ck_assert_int_eq(api_json("GET", list, u.token, NULL, "Cache-Control: no-cache", &r), 0);
        struct json_object *o = it_json(&r);
        views = json_int(json_object_array_get_idx(it_path(o, "items"), 0), "views");
        json_object_put(o);
        it_response_free(&r);
    }
    ck_assert_int_eq(views, 5);
}
END_TEST

START_TEST(options_and_apache)
{
    struct it_response r;
    ck_assert_int_eq(it_request(NULL, "OPTIONS", "/api/pitches", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 204);
    char *allow = it_header(&r, "Allow");
    ck_assert_str_eq(allow, "GET, HEAD, POST, OPTIONS");
    free(allow);
    it_response_free(&r);
    const char *apache = getenv("PITCHEY_TEST_APACHE_URL");
    if (apache == NULL || *apache == '\0')
        return;
    /* Apache passes Authorization to FastCGI (CGIPassAuth). */
    struct test_user u;
    api_register("apache", "creator", &u);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", u.token);
    const char *h[] = { auth, NULL };
    ck_assert_int_eq(it_request(apache, "GET", "/api/users/me", NULL, h, &r), 0);
    ck_assert_int_eq(r.status, 200);
    it_response_free(&r);
}
END_TEST

START_TEST(cors_for_configured_origins)
{
    struct it_response r;
    const char *pre[] = { "Origin: https://app.example", "Access-Control-Request-Method: POST",
                          "Access-Control-Request-Headers: authorization, content-type", NULL };
    ck_assert_int_eq(it_request(NULL, "OPTIONS", "/api/pitches", NULL, pre, &r), 0);
    ck_assert_int_eq(r.status, 204);
    char *h = it_header(&r, "Access-Control-Allow-Origin");
    ck_assert_str_eq(h, "https://app.example");
    free(h);
    h = it_header(&r, "Access-Control-Allow-Methods");
    ck_assert_str_eq(h, "GET, HEAD, POST, OPTIONS");
    free(h);
    h = it_header(&r, "Access-Control-Allow-Headers");
    ck_assert(h && strstr(h, "Authorization") && strstr(h, "Content-Type"));
    free(h);
    it_response_free(&r);
    const char *get[] = { "Origin: https://app.example", NULL };
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, get, &r), 0);
    h = it_header(&r, "Access-Control-Allow-Origin");
    ck_assert_str_eq(h, "https://app.example");
    free(h);
    h = it_header(&r, "Access-Control-Expose-Headers");
    ck_assert(h && strstr(h, "X-Request-Id"));
    free(h);
    it_response_free(&r);
    /* Other origins get no CORS headers at all. */
    const char *evil[] = { "Origin: https://evil.example", "Access-Control-Request-Method: POST",
                           NULL };
    ck_assert_int_eq(it_request(NULL, "OPTIONS", "/api/pitches", NULL, evil, &r), 0);
    ck_assert_int_eq(r.status, 204);
    ck_assert_ptr_null(it_header(&r, "Access-Control-Allow-Origin"));
    it_response_free(&r);
    ck_assert_int_eq(it_request(NULL, "GET", "/api/health", NULL, evil, &r), 0);
    ck_assert_ptr_null(it_header(&r, "Access-Control-Allow-Origin"));
    it_response_free(&r);
    /* Preflight of an unknown route is still 404. */
    ck_assert_int_eq(it_request(NULL, "OPTIONS", "/api/nothing", NULL, pre, &r), 0);
    it_assert_error(&r, 404, "not_found");
    it_response_free(&r);
}
END_TEST

START_TEST(migrate_twice_changes_nothing)
{
    if (!it_stack_is_private())
        return;
    long long before = it_sql_int("SELECT count(*) FROM schema_migrations");
    ck_assert_int_ge(before, 1);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' migrate 2>&1", it_env("PITCHEYCTL"),
             it_env("PITCHEY_CONFIG"));
    int rc;
    char *out = it_run(cmd, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "migrations: 0 applied") != NULL, "got %s", out);
    free(out);
    ck_assert_int_eq(it_sql_int("SELECT count(*) FROM schema_migrations"), before);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("it_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, register_login_me_logout);
    tcase_add_test(tc, register_errors);
    tcase_add_test(tc, body_errors_in_order);
    tcase_add_test(tc, login_errors_and_limit);
    tcase_add_test(tc, users_public_view);
    tcase_add_test(tc, pitch_lifecycle_and_ownership);
    tcase_add_test(tc, drafts_are_the_owners);
    tcase_add_test(tc, order_of_checks);
    tcase_add_test(tc, validation_fields);
    tcase_add_test(tc, idempotent_create);
    tcase_add_test(tc, pagination_visits_every_row_once);
    tcase_add_test(tc, list_parameters);
    tcase_add_test(tc, views_are_counted);
    tcase_add_test(tc, options_and_apache);
    tcase_add_test(tc, migrate_twice_changes_nothing);
    tcase_add_test(tc, cors_for_configured_origins);
    suite_add_tcase(s, tc);
    return s;
}

/* Cheap hashing keeps a suite of many registrations quick; the cost of the
 * real parameters is measured in bench/. */
IT_MAIN(suite,
        "[auth]\nhash_opslimit = 1\nhash_memlimit = 8192\n[api]\nview_flush_ms = 200\n"
        "[cache]\nttl = 1\nlock_wait_ms = 5000\nlock_ms = 10000\n"
        "[http]\ncors_origins = https://app.example, https://admin.example\n",
        "--workers 4")
