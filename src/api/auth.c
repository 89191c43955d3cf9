/* auth: bearer tokens to users (see auth.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "cache/session.h"
#include "common/clock.h"
#include "common/log.h"

DB_STMT(session_lookup,
        "SELECT u.id, u.name, u.role, extract(epoch FROM s.expires_at)::bigint"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL AND s.expires_at > now()");

static void unauthorized(struct response *res, const char *why)
{
    response_error(res, 401, "unauthorized", "%s", why);
}

enum auth_result auth_optional(struct app *app, struct request *req, struct response *res,
                               struct auth_user *user)
{
    enum auth_result a = auth_begin(app, req, res, user);
    return a == AUTH_PENDING ? auth_settle(app, res, user) : a;
}

enum auth_result auth_begin(struct app *app, struct request *req, struct response *res,
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
    user->pending = true;
    return AUTH_PENDING;
}

enum auth_result auth_settle(struct app *app, struct response *res, struct auth_user *user)
{
    if (!user->pending)
        return user->id ? AUTH_OK : AUTH_ANONYMOUS;
    user->pending = false;
    /* Edge cache (issue 4): a session seen valid within [cache] session_ttl
     * is answered from memcached, without Postgres (logout deletes it). */
    struct cache_session cached;
    if (cache_session_get(app->cache, app->cfg.cache.prefix, user->token_hash, &cached) ==
        CACHE_OK) {
        user->id = cached.user_id;
        snprintf(user->name, sizeof user->name, "%s", cached.name);
        snprintf(user->role, sizeof user->role, "%s", cached.role);
        return AUTH_OK;
    }
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
    /* Edge cache (issue 4): remember it, never past the token's expiry. */
    int64_t left = strtoll(PQgetvalue(r, 0, 3), NULL, 10) - clock_wall_us() / 1000000;
    struct cache_session put = { .user_id = user->id };
    snprintf(put.name, sizeof put.name, "%s", user->name);
    snprintf(put.role, sizeof put.role, "%s", user->role);
    cache_session_put(app->cache, app->cfg.cache.prefix, user->token_hash, &put,
                      left < app->cfg.cache.session_ttl_s ? (int)left
                                                          : app->cfg.cache.session_ttl_s);
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

void auth_new_token(const struct app *app, struct auth_new_token *t)
{
    token_generate(t->token);
    token_hash_param(app->secret, t->token, t->hash);
    snprintf(t->ttl, sizeof t->ttl, "%d", app->cfg.auth.token_ttl_s);
}
