/* auth: who is asking.  Tokens to users through the sessions table.
 *
 * API.md: no token is anonymous; a token that is present but unknown,
 * expired or revoked is 401 on every route, public ones included. */
#ifndef PITCHEY_API_AUTH_H
#define PITCHEY_API_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "api/app.h"
#include "common/token.h"

struct auth_user {
    int64_t id;
    char name[401];   /* 100 code points, up to 4 bytes each */
    char role[16];
    char token_hash[TOKEN_HASH_PARAM_LEN + 1];
};

enum auth_result {
    AUTH_ANONYMOUS, /* no Authorization header */
    AUTH_OK,
    AUTH_FAILED,    /* res holds the answer (401, or 503) */
};

/* Resolves the bearer token if there is one. */
enum auth_result auth_optional(struct app *app, struct request *req, struct response *res,
                               struct auth_user *user);
/* Like auth_optional, but anonymous is 401 too. */
bool auth_require(struct app *app, struct request *req, struct response *res,
                  struct auth_user *user);
/* Creates a session for user_id; token receives the new bearer token. */
enum db_status auth_create_session(struct app *app, int64_t user_id, char token[TOKEN_LEN + 1],
                                   struct db_error *err);

#endif
