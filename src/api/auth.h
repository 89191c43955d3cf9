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
    bool pending;     /* token well formed, not looked up yet */
    int64_t id;
    char name[401];   /* 100 code points, up to 4 bytes each */
    char role[16];
    char token_hash[TOKEN_HASH_PARAM_LEN + 1];
};

enum auth_result {
    AUTH_ANONYMOUS, /* no Authorization header */
    AUTH_OK,
    AUTH_FAILED,    /* res holds the answer (401, or 503) */
    AUTH_PENDING,   /* from auth_begin(): call auth_settle() before use */
};

/* Checks only the token's form (401 when malformed) and hashes it; the
 * lookup is left to auth_settle(), so a cached route can fetch the session
 * in the same memcached round trip as its entry (see edge_begin()). */
enum auth_result auth_begin(struct app *app, struct request *req, struct response *res,
                            struct auth_user *user);
/* Looks a pending token up: the cached session, else Postgres (and caches
 * it).  Returns AUTH_OK, or AUTH_FAILED with res holding the answer. */
enum auth_result auth_settle(struct app *app, struct response *res, struct auth_user *user);
/* auth_begin() and auth_settle() together. */
enum auth_result auth_optional(struct app *app, struct request *req, struct response *res,
                               struct auth_user *user);
/* Like auth_optional, but anonymous is 401 too. */
bool auth_require(struct app *app, struct request *req, struct response *res,
                  struct auth_user *user);
/* A new bearer token with the parameters a session row needs: the keyed
 * hash (bytea text) and the lifetime in seconds (text). */
struct auth_new_token {
    char token[TOKEN_LEN + 1];
    char hash[TOKEN_HASH_PARAM_LEN + 1];
    char ttl[16];
};
void auth_new_token(const struct app *app, struct auth_new_token *t);

#endif
