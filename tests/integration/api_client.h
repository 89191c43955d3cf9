/* api_client: helpers for tests that talk to the API as a user would. */
#ifndef PITCHEY_TESTS_API_CLIENT_H
#define PITCHEY_TESTS_API_CLIENT_H

#include <stdint.h>

#include "harness.h"

struct test_user {
    int64_t id;
    char email[128];
    char token[64];
};

/* Registers a fresh user (unique email from prefix); fails the test if the
 * API does not answer 201. */
void api_register(const char *prefix, const char *role, struct test_user *u);
/* A JSON request with an optional bearer token and extra header. */
int api_json(const char *method, const char *path, const char *token, const char *body,
             const char *extra_header, struct it_response *out);
/* Creates a pitch; returns its id (fails the test unless 201). */
int64_t api_create_pitch(const struct test_user *u, const char *title, const char *genre,
                         const char *status);
/* A JSON request that must answer `want`; returns the body parsed (NULL
 * when empty), failing the test otherwise. */
struct json_object *api_call(const char *method, const char *path, const char *token,
                             const char *body, long want);
int64_t json_int(struct json_object *o, const char *path);
const char *json_str(struct json_object *o, const char *path);

#endif
