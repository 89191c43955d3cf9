/* handle_users: GET /api/users/me and GET /api/users/{id}. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>

#include "api/auth.h"
#include "api/edge.h"
#include "api/handlers.h"
#include "api/pitch_json.h"

DB_STMT(user_me, "SELECT " USER_COLUMNS " FROM users u WHERE u.id = $1::bigint");

DB_STMT(user_public,
        "SELECT " USER_COLUMNS ","
        " (SELECT count(*) FROM pitches p WHERE p.owner_id = u.id AND p.status = 'published')"
        " FROM users u WHERE u.id = $1::bigint");

void handle_users_me(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    if (!auth_require(app, req, res, &user))
        return;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)user.id);
    const char *params[1] = { id };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &user_me, 1, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        return;
    }
    if (PQntuples(r) == 1) {
        struct json_object *o = user_json_from_row(r, 0, true);
        response_json(res, 200, o);
        json_object_put(o);
    } else {
        /* The session outlived its user (deleted meanwhile). */
        response_error(res, 401, "unauthorized", "the token is missing, unknown, expired or revoked");
    }
    PQclear(r);
    edge_private(res);
}

void handle_user_get(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    enum auth_result a = auth_begin(app, req, res, &user);
    if (a == AUTH_FAILED)
        return;
    char key[64], tag[40];
    snprintf(key, sizeof key, "users/%lld", (long long)req->path_id);
    snprintf(tag, sizeof tag, "user:%lld", (long long)req->path_id);
    const char *tags[1] = { tag };
    struct edge_ctx ctx;
    if (edge_begin(app, req, &ctx, key, tags, 1, a == AUTH_ANONYMOUS ? NULL : &user, res) ==
        EDGE_SERVED)
        return;
    if (user.pending && auth_settle(app, res, &user) == AUTH_FAILED) {
        edge_private_after_begin(app, &ctx, res);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)req->path_id);
    const char *params[1] = { id };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &user_public, 1, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        edge_finish(app, req, &ctx, res); /* may answer from a stale entry */
        return;
    }
    if (PQntuples(r) == 1) {
        struct json_object *o = user_json_from_row(r, 0, false);
        json_object_object_add(o, "pitch_count",
                               json_object_new_int64(strtoll(PQgetvalue(r, 0, 6), NULL, 10)));
        response_json(res, 200, o);
        json_object_put(o);
    } else {
        response_error(res, 404, "not_found", "user %lld does not exist", (long long)req->path_id);
    }
    PQclear(r);
    edge_finish(app, req, &ctx, res);
}
