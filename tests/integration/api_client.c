/* api_client: register, log in and post through the real API. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"

int api_json(const char *method, const char *path, const char *token, const char *body,
             const char *extra_header, struct it_response *out)
{
    char auth[128];
    const char *headers[4];
    int n = 0;
    if (body)
        headers[n++] = "Content-Type: application/json";
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (extra_header)
        headers[n++] = extra_header;
    headers[n] = NULL;
    return it_request(NULL, method, path, body, headers, out);
}

struct json_object *api_call(const char *method, const char *path, const char *token,
                             const char *body, long want)
{
    struct it_response r;
    ck_assert_int_eq(api_json(method, path, token, body, NULL, &r), 0);
    ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body);
    struct json_object *o = r.body && r.body_len ? it_json(&r) : NULL;
    it_response_free(&r);
    return o;
}

int64_t json_int(struct json_object *o, const char *path)
{
    struct json_object *v = it_path(o, path);
    ck_assert_msg(v != NULL, "no %s", path);
    return json_object_get_int64(v);
}

const char *json_str(struct json_object *o, const char *path)
{
    struct json_object *v = it_path(o, path);
    ck_assert_msg(v != NULL && json_object_is_type(v, json_type_string), "no string %s", path);
    return json_object_get_string(v);
}

void api_register(const char *prefix, const char *role, struct test_user *u)
{
    static int counter;
    snprintf(u->email, sizeof u->email, "%s-%d-%d@example.com", prefix, (int)getpid(), ++counter);
    char body[512];
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"password\":\"correct horse\",\"name\":\"%s %d\",\"role\":\"%s\"}",
             u->email, prefix, counter, role ? role : "creator");
    struct it_response r;
    /* Registration may meet a busy hashing slot (503): retry briefly. */
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(api_json("POST", "/api/auth/register", NULL, body, NULL, &r), 0);
        if (r.status != 503)
            break;
        it_response_free(&r);
        it_sleep_ms(100);
    }
    ck_assert_msg(r.status == 201, "register: %ld %s", r.status, r.body);
    struct json_object *o = it_json(&r);
    u->id = json_int(o, "user.id");
    snprintf(u->token, sizeof u->token, "%s", json_str(o, "token"));
    json_object_put(o);
    it_response_free(&r);
}

int64_t api_create_pitch(const struct test_user *u, const char *title, const char *genre,
                         const char *status)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"title\":\"%s\",\"logline\":\"A logline for %s\",\"genre\":\"%s\","
             "\"status\":\"%s\",\"synopsis\":\"Synopsis of %s.\"}",
             title, title, genre ? genre : "drama", status ? status : "published", title);
    struct it_response r;
    ck_assert_int_eq(api_json("POST", "/api/pitches", u->token, body, NULL, &r), 0);
    ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
    struct json_object *o = it_json(&r);
    int64_t id = json_int(o, "id");
    json_object_put(o);
    it_response_free(&r);
    return id;
}
