/* auth: bearer tokens to users (see auth.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "common/log.h"

DB_STMT(session_lookup,
        "SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL AND s.expires_at > now()");

DB_STMT(session_create,
        "INSERT INTO sessions (token_hash, user_id, expires_at)"
        " VALUES ($1::bytea, $2::bigint, now() + make_interval(secs => $3::int))");

static void unauthorized(struct response *res, const char *why)
{
    response_error(res, 401, "unauthorized", "%s", why);
}

enum auth_result auth_optional(struct app *app, struct request *req, struct response *res,
                               struct auth_user *user)
{
    memset(user, 0, sizeof *user);
    const char *token = request_bearer(req);
    if (token == NULL)
        return AUTH_ANONYMOUS;
    if (!token_well_formed(token)) {
        unauthorized(res, "the token is missing, unknown, expired or revoked");
        return AUTH_FAILED;
    }
    token_hash_param(app->secret, token, user->token_hash);
    const char *params[1] = { user->token_hash };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &session_lookup, 1, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        return AUTH_FAILED;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        unauthorized(res, "the token is missing, unknown, expired or revoked");
        return AUTH_FAILED;
    }
    user->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(user->name, sizeof user->name, "%s", PQgetvalue(r, 0, 1));
    snprintf(user->role, sizeof user->role, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return AUTH_OK;
}

bool auth_require(struct app *app, struct request *req, struct response *res,
                  struct auth_user *user)
{
    enum auth_result a = auth_optional(app, req, res, user);
    if (a == AUTH_OK)
        return true;
    if (a == AUTH_ANONYMOUS)
        unauthorized(res, "this route needs a bearer token");
    return false;
}

enum db_status auth_create_session(struct app *app, int64_t user_id, char token[TOKEN_LEN + 1],
                                   struct db_error *err)
{
    char hash[TOKEN_HASH_PARAM_LEN + 1], uid[24], ttl[16];
    token_generate(token);
    token_hash_param(app->secret, token, hash);
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(ttl, sizeof ttl, "%d", app->cfg.auth.token_ttl_s);
    const char *params[3] = { hash, uid, ttl };
    PGresult *r;
    enum db_status st = db_query(app->db, &session_create, 3, params, 0, &r, err);
    PQclear(r);
    return st;
}
