/* handle_auth: POST /api/auth/register, /login and /logout.
 *
 * Register and login ignore any token sent with them.  Password hashing
 * takes a pool-wide slot first (see password.h); without one the answer is
 * 503 with Retry-After, never a queue. */
#include "pitchey-build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/handlers.h"
#include "api/password.h"
#include "api/pitch_json.h"
#include "api/validate.h"
#include "cache/session.h"
#include "common/log.h"

DB_STMT(email_exists, "SELECT 1 FROM users WHERE email = $1");

DB_STMT(user_register,
        "WITH u AS (INSERT INTO users (email, password_hash, name, role)"
        "           VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING *),"
        " s AS (INSERT INTO sessions (token_hash, user_id, expires_at)"
        "       SELECT $5::bytea, id, now() + make_interval(secs => $6::int) FROM u)"
        " SELECT " USER_COLUMNS " FROM u");

DB_STMT(login_failures_recent,
        "SELECT count(*), COALESCE(ceil(extract(epoch FROM"
        "        min(at) + make_interval(secs => $3::int) - clock_timestamp())), 0)"
        " FROM login_failures"
        " WHERE email = $1 AND addr = $2 AND at > clock_timestamp() - make_interval(secs => $3::int)");

DB_STMT(login_user, "SELECT " USER_COLUMNS ", u.password_hash FROM users u WHERE u.email = $1");

/* Each recorded failure also removes up to 100 rows that left the window,
 * anyone's (index login_failures_at_idx), so expired rows never pile up:
 * the table holds at most the failures of one window. */
DB_STMT(login_failure_record,
        "WITH old AS (DELETE FROM login_failures WHERE ctid = ANY (ARRAY("
        "               SELECT ctid FROM login_failures"
        "               WHERE at < clock_timestamp() - make_interval(secs => $3::int)"
        "               ORDER BY at LIMIT 100)))"
        " INSERT INTO login_failures (email, addr) VALUES ($1, $2)");

DB_STMT(login_success,
        "WITH f AS (DELETE FROM login_failures WHERE email = $1 AND addr = $2)"
        " INSERT INTO sessions (token_hash, user_id, expires_at)"
        " VALUES ($3::bytea, $4::bigint, now() + make_interval(secs => $5::int))");

DB_STMT(session_revoke,
        "WITH r AS (UPDATE sessions SET revoked_at = now()"
        "           WHERE token_hash = $1::bytea AND revoked_at IS NULL RETURNING token_hash)"
        " SELECT pg_notify('pitchey_revoke', encode(token_hash, 'hex')) FROM r");

static void answer_user_token(struct response *res, int status, const PGresult *r,
                              const char *token)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "user", user_json_from_row(r, 0, true));
    json_object_object_add(o, "token", json_object_new_string(token));
    response_json(res, status, o);
    json_object_put(o);
    response_header(res, "Cache-Control", "no-store");
}

static void hashing_busy(struct response *res)
{
    log_info("event=hash_slots_busy");
    response_unavailable(res, 1);
}

void handle_register(struct app *app, struct request *req, struct response *res)
{
    struct json_object *body = body_json_object(app, req, res);
    if (body == NULL)
        return;
    struct register_input in;
    struct json_object *fields;
    if (validate_register(body, &in, &fields) != 0) {
        response_validation(res, fields);
        goto out;
    }
    PGresult *r = NULL;
    struct db_error err;
    const char *p1[1] = { in.email };
    enum db_status st = db_query(app->db, &email_exists, 1, p1, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    bool taken = PQntuples(r) > 0;
    PQclear(r);
    if (taken) {
        response_error(res, 409, "email_taken", "this email is already registered");
        goto out;
    }
    struct password_slot slot;
    if (!password_slot_acquire(&app->cfg, &slot)) {
        hashing_busy(res);
        goto out;
    }
    char hash[PASSWORD_HASH_MAX];
    int hrc = password_hash(&app->cfg, in.password, hash);
    password_slot_release(&slot);
    if (hrc != 0) {
        log_error("event=password_hash_failed");
        response_error(res, 500, "internal", "internal error");
        goto out;
    }
    struct auth_new_token nt;
    auth_new_token(app, &nt);
    const char *params[6] = { in.email, hash, in.name, in.role, nt.hash, nt.ttl };
    st = db_query(app->db, &user_register, 6, params, 0, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    if (PQntuples(r) == 0) /* lost a race for the same email */
        response_error(res, 409, "email_taken", "this email is already registered");
    else
        answer_user_token(res, 201, r, nt.token);
    PQclear(r);
out:
    register_input_free(&in);
    json_object_put(body);
}

void handle_login(struct app *app, struct request *req, struct response *res)
{
    struct json_object *body = body_json_object(app, req, res);
    if (body == NULL)
        return;
    struct login_input in;
    struct json_object *fields;
    PGresult *r = NULL;
    struct db_error err;
    char window[16];
    snprintf(window, sizeof window, "%d", app->cfg.auth.login_window_s);
    if (validate_login(body, &in, &fields) != 0) {
        response_validation(res, fields);
        goto out;
    }
    const char *lim[3] = { in.email, req->remote_addr, window };
    enum db_status st = db_query(app->db, &login_failures_recent, 3, lim, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    long failures = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    long wait_s = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if (failures >= app->cfg.auth.login_max_failures) {
        response_error(res, 429, "rate_limited", "too many failed logins; try again later");
        response_header(res, "Retry-After", "%ld", wait_s < 1 ? 1 : wait_s);
        goto out;
    }
    const char *p1[1] = { in.email };
    st = db_query(app->db, &login_user, 1, p1, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    struct password_slot slot;
    if (!password_slot_acquire(&app->cfg, &slot)) {
        PQclear(r);
        hashing_busy(res);
        goto out;
    }
    /* An unknown email is verified against a dummy hash: same answer, about
     * the same time. */
    bool found = PQntuples(r) == 1;
    bool ok = password_verify(&app->cfg, found ? PQgetvalue(r, 0, 6) : NULL, in.password);
    password_slot_release(&slot);
    if (!ok) {
        PQclear(r);
        PGresult *w;
        st = db_query(app->db, &login_failure_record, 3, lim, 0, &w, &err);
        PQclear(w);
        if (st != DB_OK) {
            app_db_error(app, res, st, &err);
            goto out;
        }
        response_error(res, 401, "invalid_credentials", "wrong email or password");
        goto out;
    }
    struct auth_new_token nt;
    auth_new_token(app, &nt);
    const char *sp[5] = { in.email, req->remote_addr, nt.hash, PQgetvalue(r, 0, 0), nt.ttl };
    PGresult *w;
    st = db_query(app->db, &login_success, 5, sp, 0, &w, &err);
    PQclear(w);
    if (st != DB_OK) {
        PQclear(r);
        app_db_error(app, res, st, &err);
        goto out;
    }
    answer_user_token(res, 200, r, nt.token);
    PQclear(r);
out:
    login_input_free(&in);
    json_object_put(body);
}

void handle_logout(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    if (!auth_require(app, req, res, &user))
        return;
    const char *params[1] = { user.token_hash };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &session_revoke, 1, params, 0, &r, &err);
    PQclear(r);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        return;
    }
    /* Edge cache (issue 4): forget the cached session at once; if memcached
     * cannot be reached it ends with its TTL ([cache] session_ttl). */
    (void)cache_session_forget(app->cache, app->cfg.cache.prefix, user.token_hash);
    response_empty(res, 204);
}
