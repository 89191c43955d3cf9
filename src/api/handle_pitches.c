/* handle_pitches: the /api/pitches routes.
 *
 * Every write is one statement (data-modifying CTEs): the change, its
 * outbox event (seq from the counters row, so seq follows commit order)
 * and, for POST, the Idempotency-Key row commit together.  After COMMIT the
 * cache tags are bumped, then the rooms daemons are woken with NOTIFY, so
 * an event never arrives before the cache has forgotten the old data. */
#include "pitchey-build.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/cursor.h"
#include "api/edge.h"
#include "api/handlers.h"
#include "api/pitch_json.h"
#include "api/validate.h"
#include "api/views.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/* The list statements: one per sort and per set of filters present, so
 * each has a plan of its own that Postgres can keep (a generic plan).  One
 * statement with "($1 IS NULL OR p.genre = $1)" for every filter needed a
 * fresh plan at every call (planning cost three times the execution of a
 * first page, measured with EXPLAIN ANALYZE).  A filter that is absent still
 * names its parameter, as a test of the parameter alone (a one-time filter,
 * which costs nothing and keeps the parameter list the same for all).
 * Parameters: $1 genre, $2 owner, $3 q, $4 $5 cursor key and id, $6 limit. */
#define LIST_GENRE_ON " AND p.genre = $1::text"
#define LIST_GENRE_OFF " AND $1::text IS NULL"
#define LIST_OWNER_ON " AND p.owner_id = $2::bigint"
#define LIST_OWNER_OFF " AND $2::bigint IS NULL"
#define LIST_Q_ON " AND p.search @@ websearch_to_tsquery('english', $3::text)"
#define LIST_Q_OFF " AND $3::text IS NULL"
#define LIST_AFTER_NEW_ON                                                                    \
    " AND (p.created_at, p.id) <"                                                            \
    " ('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5::bigint)"
#define LIST_AFTER_POPULAR_ON " AND (v.views, v.pitch_id) < ($4::bigint, $5::bigint)"
#define LIST_AFTER_NEW_OFF " AND $4::bigint IS NULL AND $5::bigint IS NULL"
#define LIST_AFTER_POPULAR_OFF LIST_AFTER_NEW_OFF
#define LIST_FROM_NEW                                                                        \
    " FROM pitches p JOIN users u ON u.id = p.owner_id"                                      \
    " LEFT JOIN pitch_views v ON v.pitch_id = p.id WHERE p.status = 'published'"
#define LIST_FROM_POPULAR                                                                    \
    " FROM pitch_views v JOIN pitches p ON p.id = v.pitch_id"                                \
    " JOIN users u ON u.id = p.owner_id WHERE p.status = 'published'"
#define LIST_ORDER_NEW " ORDER BY p.created_at DESC, p.id DESC LIMIT $6::int"
#define LIST_ORDER_POPULAR " ORDER BY v.views DESC, v.pitch_id DESC LIMIT $6::int"
#define LIST_STMT(var, sort, g, o, q, c)                                                     \
    DB_STMT(var, "SELECT " PITCH_COLUMNS LIST_FROM_##sort LIST_GENRE_##g LIST_OWNER_##o       \
                     LIST_Q_##q LIST_AFTER_##sort##_##c LIST_ORDER_##sort)

LIST_STMT(list_new_0, NEW, OFF, OFF, OFF, OFF);
LIST_STMT(list_new_1, NEW, ON, OFF, OFF, OFF);
LIST_STMT(list_new_2, NEW, OFF, ON, OFF, OFF);
LIST_STMT(list_new_3, NEW, ON, ON, OFF, OFF);
LIST_STMT(list_new_4, NEW, OFF, OFF, ON, OFF);
LIST_STMT(list_new_5, NEW, ON, OFF, ON, OFF);
LIST_STMT(list_new_6, NEW, OFF, ON, ON, OFF);
LIST_STMT(list_new_7, NEW, ON, ON, ON, OFF);
LIST_STMT(list_new_8, NEW, OFF, OFF, OFF, ON);
LIST_STMT(list_new_9, NEW, ON, OFF, OFF, ON);
LIST_STMT(list_new_10, NEW, OFF, ON, OFF, ON);
LIST_STMT(list_new_11, NEW, ON, ON, OFF, ON);
LIST_STMT(list_new_12, NEW, OFF, OFF, ON, ON);
LIST_STMT(list_new_13, NEW, ON, OFF, ON, ON);
LIST_STMT(list_new_14, NEW, OFF, ON, ON, ON);
LIST_STMT(list_new_15, NEW, ON, ON, ON, ON);
LIST_STMT(list_popular_0, POPULAR, OFF, OFF, OFF, OFF);
LIST_STMT(list_popular_1, POPULAR, ON, OFF, OFF, OFF);
LIST_STMT(list_popular_2, POPULAR, OFF, ON, OFF, OFF);
LIST_STMT(list_popular_3, POPULAR, ON, ON, OFF, OFF);
LIST_STMT(list_popular_4, POPULAR, OFF, OFF, ON, OFF);
LIST_STMT(list_popular_5, POPULAR, ON, OFF, ON, OFF);
LIST_STMT(list_popular_6, POPULAR, OFF, ON, ON, OFF);
LIST_STMT(list_popular_7, POPULAR, ON, ON, ON, OFF);
LIST_STMT(list_popular_8, POPULAR, OFF, OFF, OFF, ON);
LIST_STMT(list_popular_9, POPULAR, ON, OFF, OFF, ON);
LIST_STMT(list_popular_10, POPULAR, OFF, ON, OFF, ON);
LIST_STMT(list_popular_11, POPULAR, ON, ON, OFF, ON);
LIST_STMT(list_popular_12, POPULAR, OFF, OFF, ON, ON);
LIST_STMT(list_popular_13, POPULAR, ON, OFF, ON, ON);
LIST_STMT(list_popular_14, POPULAR, OFF, ON, ON, ON);
LIST_STMT(list_popular_15, POPULAR, ON, ON, ON, ON);

/* Indexed by sort (0 new, 1 popular), then genre | owner << 1 | q << 2 | cursor << 3. */
static const struct db_stmt *const list_stmts[2][16] = {
    {
        &list_new_0, &list_new_1, &list_new_2, &list_new_3,
        &list_new_4, &list_new_5, &list_new_6, &list_new_7,
        &list_new_8, &list_new_9, &list_new_10, &list_new_11,
        &list_new_12, &list_new_13, &list_new_14, &list_new_15,
    },
    {
        &list_popular_0, &list_popular_1, &list_popular_2, &list_popular_3,
        &list_popular_4, &list_popular_5, &list_popular_6, &list_popular_7,
        &list_popular_8, &list_popular_9, &list_popular_10, &list_popular_11,
        &list_popular_12, &list_popular_13, &list_popular_14, &list_popular_15,
    },
};

DB_STMT(pitch_get,
        "SELECT " PITCH_COLUMNS
        " FROM pitches p JOIN users u ON u.id = p.owner_id"
        " LEFT JOIN pitch_views v ON v.pitch_id = p.id WHERE p.id = $1::bigint");

DB_STMT(pitch_owner, "SELECT owner_id, status FROM pitches WHERE id = $1::bigint");

/* The event's data: the pitch without its synopsis, as the API shows it. */
#define EVENT_JSON(views)                                                                    \
    "json_build_object('id', p.id, 'owner', json_build_object('id', p.owner_id, 'name', "    \
    "u.name), 'title', p.title, 'logline', p.logline, 'genre', p.genre, 'budget_usd', "      \
    "p.budget_usd, 'status', p.status, 'views', " views ", 'created_at', "                   \
    "to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "        \
    "'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"

#define NEXT_EVENT                                                                           \
    " ev AS (UPDATE counters SET value = value + 1"                                          \
    "        WHERE name = 'events' AND EXISTS (SELECT 1 FROM p) RETURNING value),"

DB_STMT(pitch_create,
        "WITH ids AS (SELECT nextval(pg_get_serial_sequence('pitches', 'id')) AS id),"
        " k AS (INSERT INTO idempotency_keys (user_id, key, body_hash, pitch_id)"
        "       SELECT $1::bigint, $8, $9::bytea, ids.id FROM ids WHERE $8::text IS NOT NULL"
        "       ON CONFLICT (user_id, key) DO UPDATE SET body_hash = EXCLUDED.body_hash,"
        "          pitch_id = EXCLUDED.pitch_id, response = NULL, created_at = clock_timestamp()"
        "          WHERE idempotency_keys.created_at < now() - interval '24 hours'"
        "       RETURNING pitch_id),"
        " p AS (INSERT INTO pitches (id, owner_id, title, logline, synopsis, genre, budget_usd,"
        "                            status)"
        "       SELECT ids.id, $1::bigint, $2, $3, $4, $5, $6::bigint, $7 FROM ids"
        "       WHERE $8::text IS NULL OR EXISTS (SELECT 1 FROM k) RETURNING *),"
        " pv AS (INSERT INTO pitch_views (pitch_id) SELECT id FROM p)," NEXT_EVENT
        " e AS (INSERT INTO events (seq, kind, pitch_id, owner_id, published, data)"
        "       SELECT ev.value, 'pitch.created', p.id, p.owner_id, p.status = 'published', "
        EVENT_JSON("0") " FROM ev, p JOIN users u ON u.id = p.owner_id)"
        " SELECT " PITCH_COLUMNS ", (SELECT value FROM ev)"
        " FROM p JOIN users u ON u.id = p.owner_id LEFT JOIN pitch_views v ON false");

DB_STMT(idempotency_lookup,
        "SELECT body_hash = $3::bytea, response, pitch_id FROM idempotency_keys"
        " WHERE user_id = $1::bigint AND key = $2"
        " AND created_at > now() - interval '24 hours'");

DB_STMT(idempotency_store,
        "UPDATE idempotency_keys SET response = $3 WHERE user_id = $1::bigint AND key = $2");

/* old: the row locked first, so its genre is the one this update replaces
 * (the lists of that genre change too). */
DB_STMT(pitch_update,
        "WITH old AS (SELECT id, genre FROM pitches WHERE id = $1::bigint AND owner_id = $2::bigint"
        "             FOR UPDATE),"
        " p AS (UPDATE pitches SET title = $3, logline = $4, synopsis = $5, genre = $6,"
        "           budget_usd = $7::bigint, status = $8,"
        "           updated_at = greatest(clock_timestamp(), pitches.updated_at"
        "                                 + interval '1 microsecond')"
        "           FROM old WHERE pitches.id = old.id"
        "           RETURNING pitches.*, old.genre AS old_genre)," NEXT_EVENT
        " e AS (INSERT INTO events (seq, kind, pitch_id, owner_id, published, data)"
        "       SELECT ev.value, 'pitch.updated', p.id, p.owner_id, p.status = 'published', "
        EVENT_JSON("COALESCE(v.views, 0)")
        "       FROM ev, p JOIN users u ON u.id = p.owner_id"
        "       LEFT JOIN pitch_views v ON v.pitch_id = p.id)"
        " SELECT " PITCH_COLUMNS ", (SELECT value FROM ev), p.old_genre"
        " FROM p JOIN users u ON u.id = p.owner_id LEFT JOIN pitch_views v ON v.pitch_id = p.id");

DB_STMT(pitch_delete,
        "WITH p AS (DELETE FROM pitches WHERE id = $1::bigint AND owner_id = $2::bigint"
        "           RETURNING id, owner_id, status, genre)," NEXT_EVENT
        " e AS (INSERT INTO events (seq, kind, pitch_id, owner_id, published, data)"
        "       SELECT ev.value, 'pitch.deleted', p.id, p.owner_id, p.status = 'published',"
        "              json_build_object('id', p.id) FROM ev, p)"
        " SELECT (SELECT value FROM ev), p.genre FROM p");

DB_STMT(events_notify, "SELECT pg_notify('pitchey_events', $1)");

static void id_text(int64_t id, char out[24])
{
    snprintf(out, 24, "%lld", (long long)id);
}

/* ------------------------------------------------------------------ list */

struct list_params {
    struct cursor_query q;
    int limit;
    bool has_cursor;
    struct cursor_pos pos;
    const char *cursor_text;
};

static bool bad_param(struct response *res, const char *name, const char *why)
{
    response_error(res, 400, "invalid_parameter", "%s %s", name, why);
    return false;
}

static bool parse_limit(const char *s, int *out)
{
    int v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 3)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v >= 1 && v <= 100;
}

static bool list_params_parse(struct app *app, struct request *req, struct response *res,
                              struct list_params *lp)
{
    memset(lp, 0, sizeof *lp);
    lp->q.sort = CURSOR_SORT_NEW;
    lp->limit = 20;
    const char *v;
    enum query_lookup l;

    if ((l = query_get(&req->query, "limit", &v)) == QUERY_INVALID ||
        (l == QUERY_FOUND && !parse_limit(v, &lp->limit)))
        return bad_param(res, "limit", "must be an integer from 1 to 100");
    if ((l = query_get(&req->query, "sort", &v)) == QUERY_INVALID)
        return bad_param(res, "sort", "must be new or popular");
    if (l == QUERY_FOUND) {
        if (strcmp(v, "new") == 0)
            lp->q.sort = CURSOR_SORT_NEW;
        else if (strcmp(v, "popular") == 0)
            lp->q.sort = CURSOR_SORT_POPULAR;
        else
            return bad_param(res, "sort", "must be new or popular");
    }
    if ((l = query_get(&req->query, "genre", &v)) == QUERY_INVALID ||
        (l == QUERY_FOUND && !validate_genre(v)))
        return bad_param(res, "genre", "must be a known genre");
    if (l == QUERY_FOUND)
        lp->q.genre = v;
    if ((l = query_get(&req->query, "owner", &v)) == QUERY_INVALID ||
        (l == QUERY_FOUND && request_parse_id(v, &lp->q.owner) != 0))
        return bad_param(res, "owner", "must be a user id");
    if ((l = query_get(&req->query, "q", &v)) == QUERY_INVALID ||
        (l == QUERY_FOUND && utf8_count(v, strlen(v)) > 200))
        return bad_param(res, "q", "must be 1-200 characters");
    if (l == QUERY_FOUND)
        lp->q.q = v;
    if ((l = query_get(&req->query, "cursor", &v)) == QUERY_INVALID ||
        (l == QUERY_FOUND && cursor_decode(app->secret, &lp->q, v, &lp->pos) != 0))
        return bad_param(res, "cursor", "is not a cursor of this query");
    if (l == QUERY_FOUND) {
        lp->has_cursor = true;
        lp->cursor_text = v;
    }
    return true;
}

void handle_pitches_list(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    enum auth_result a = auth_begin(app, req, res, &user);
    if (a == AUTH_FAILED)
        return;
    struct list_params lp;
    if (!list_params_parse(app, req, res, &lp))
        return;

    char owner[24] = "";
    if (lp.q.owner)
        id_text(lp.q.owner, owner);
    struct buf key = BUF_INIT;
    buf_printf(&key, "pitches?sort=%s&genre=%s&owner=%s&q=%s&limit=%d&cursor=%s",
               lp.q.sort == CURSOR_SORT_NEW ? "new" : "popular", lp.q.genre ? lp.q.genre : "",
               owner, lp.q.q ? lp.q.q : "", lp.limit, lp.has_cursor ? lp.cursor_text : "");
    /* The tag a list depends on: a genre's lists change only with pitches
     * of that genre, an owner's only with that owner's pitches (writes bump
     * genre:{g} and user:{id} too); every other list with any write. */
    char list_tag[48];
    if (lp.q.genre)
        snprintf(list_tag, sizeof list_tag, "genre:%s", lp.q.genre);
    else if (lp.q.owner)
        snprintf(list_tag, sizeof list_tag, "user:%s", owner);
    else
        snprintf(list_tag, sizeof list_tag, "pitches");
    const char *tags[1] = { list_tag };
    struct edge_ctx ctx;
    /* A list does not depend on who asks: only the token's validity does. */
    if (edge_begin(app, req, &ctx, key.data, tags, 1, a == AUTH_ANONYMOUS ? NULL : &user, res) ==
        EDGE_SERVED) {
        buf_free(&key);
        return;
    }
    buf_free(&key);
    if (user.pending && auth_settle(app, res, &user) == AUTH_FAILED) {
        edge_private_after_begin(app, &ctx, res);
        return;
    }

    char pkey[24] = "", pid[24] = "", limit[16];
    if (lp.has_cursor) {
        id_text(lp.pos.key, pkey);
        id_text(lp.pos.id, pid);
    }
    snprintf(limit, sizeof limit, "%d", lp.limit + 1);
    const char *params[6] = { lp.q.genre, lp.q.owner ? owner : NULL, lp.q.q,
                              lp.has_cursor ? pkey : NULL, lp.has_cursor ? pid : NULL, limit };
    PGresult *r;
    struct db_error err;
    unsigned variant = (lp.q.genre ? 1u : 0u) | (lp.q.owner ? 2u : 0u) | (lp.q.q ? 4u : 0u) |
                       (lp.has_cursor ? 8u : 0u);
    const struct db_stmt *stmt = list_stmts[lp.q.sort == CURSOR_SORT_NEW ? 0 : 1][variant];
    enum db_status st = db_query(app->db, stmt, 6, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        edge_finish(app, req, &ctx, res);
        return;
    }
    int rows = PQntuples(r);
    int shown = rows > lp.limit ? lp.limit : rows;
    struct json_object *items = json_object_new_array_ext(shown);
    for (int i = 0; i < shown; i++)
        json_object_array_add(items, pitch_json_from_row(r, i, false));
    struct json_object *root = json_object_new_object();
    json_object_object_add(root, "items", items);
    if (rows > lp.limit) {
        struct cursor_pos next;
        next.id = strtoll(PQgetvalue(r, shown - 1, PC_ID), NULL, 10);
        next.key = strtoll(PQgetvalue(r, shown - 1,
                                      lp.q.sort == CURSOR_SORT_NEW ? PC_CREATED_US : PC_VIEWS),
                           NULL, 10);
        char text[CURSOR_TEXT_MAX];
        cursor_encode(app->secret, &lp.q, &next, text);
        json_object_object_add(root, "next_cursor", json_object_new_string(text));
    } else {
        json_object_object_add(root, "next_cursor", NULL);
    }
    PQclear(r);
    response_json(res, 200, root);
    json_object_put(root);
    edge_finish(app, req, &ctx, res);
}

/* ------------------------------------------------------------------- get */

void handle_pitch_get(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    enum auth_result a = auth_begin(app, req, res, &user);
    if (a == AUTH_FAILED)
        return;
    char key[64], tag[40], id[24];
    id_text(req->path_id, id);
    snprintf(key, sizeof key, "pitches/%s", id);
    snprintf(tag, sizeof tag, "pitch:%s", id);
    const char *tags[1] = { tag };
    struct edge_ctx ctx;
    if (edge_begin(app, req, &ctx, key, tags, 1, a == AUTH_ANONYMOUS ? NULL : &user, res) ==
        EDGE_SERVED) {
        if (req->method == METHOD_GET && (res->status == 200 || res->status == 304))
            views_count(app->views, req->path_id);
        return;
    }
    if (user.pending && auth_settle(app, res, &user) == AUTH_FAILED) {
        edge_private_after_begin(app, &ctx, res);
        return;
    }
    const char *params[1] = { id };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &pitch_get, 1, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        edge_finish(app, req, &ctx, res);
        return;
    }
    bool found = PQntuples(r) == 1;
    bool draft = found && strcmp(PQgetvalue(r, 0, PC_STATUS), "draft") == 0;
    /* user.id is 0 for an anonymous caller. */
    bool own = found && user.id != 0 && strtoll(PQgetvalue(r, 0, PC_OWNER_ID), NULL, 10) == user.id;
    if (!found || (draft && !own)) {
        PQclear(r);
        response_error(res, 404, "not_found", "pitch %s does not exist", id);
        edge_finish(app, req, &ctx, res);
        return;
    }
    struct json_object *o = pitch_json_from_row(r, 0, true);
    PQclear(r);
    response_json(res, 200, o);
    json_object_put(o);
    if (draft) /* a draft seen by its owner depends on who asks */
        edge_private_after_begin(app, &ctx, res);
    else
        edge_finish(app, req, &ctx, res);
    if (req->method == METHOD_GET && (res->status == 200 || res->status == 304))
        views_count(app->views, req->path_id);
}

/* ---------------------------------------------------------------- writes */

/* Bumps the cache tags, then wakes the rooms daemons (after COMMIT).
 * genre and old_genre: the pitch's genre after and before the write (NULL
 * or equal when there is only one): the lists of those genres change. */
static void after_write(struct app *app, int64_t pitch_id, int64_t owner_id, const char *genre,
                        const char *old_genre, const char *seq)
{
    char pitch_tag[40], user_tag[40], genre_tag[40], old_genre_tag[40];
    snprintf(pitch_tag, sizeof pitch_tag, "pitch:%lld", (long long)pitch_id);
    snprintf(user_tag, sizeof user_tag, "user:%lld", (long long)owner_id);
    const char *tags[5] = { "pitches", pitch_tag, user_tag };
    size_t ntags = 3;
    if (genre && *genre) {
        snprintf(genre_tag, sizeof genre_tag, "genre:%s", genre);
        tags[ntags++] = genre_tag;
    }
    if (old_genre && *old_genre && (genre == NULL || strcmp(genre, old_genre) != 0)) {
        snprintf(old_genre_tag, sizeof old_genre_tag, "genre:%s", old_genre);
        tags[ntags++] = old_genre_tag;
    }
    edge_invalidate(app, tags, ntags);
    if (seq == NULL || *seq == '\0')
        return;
    const char *params[1] = { seq };
    PGresult *r;
    struct db_error err;
    /* The outbox row is committed; a lost NOTIFY is made up by the daemons'
     * own reading of the outbox, so a failure here is only logged. */
    if (db_query(app->db, &events_notify, 1, params, DB_IDEMPOTENT, &r, &err) != DB_OK)
        log_warn("event=notify_failed seq=%s", seq);
    PQclear(r);
}

static void answer_pitch(struct response *res, int status, const PGresult *r)
{
    struct json_object *o = pitch_json_from_row(r, 0, true);
    response_json(res, status, o);
    json_object_put(o);
    response_header(res, "Cache-Control", "no-store");
}

static void body_digest(const struct pitch_input *in, char out[2 + 64 + 1])
{
    char *canon = pitch_input_canonical(in);
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)canon, strlen(canon), NULL, 0);
    free(canon);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, h, sizeof h);
}

/* Replays the first answer for a known Idempotency-Key.  Returns true when
 * res holds the answer, false when the key is unknown. */
static bool idempotent_replay(struct app *app, const char *uid, const char *key,
                              const char *digest, struct response *res, bool *failed)
{
    const char *params[3] = { uid, key, digest };
    PGresult *r;
    struct db_error err;
    *failed = false;
    enum db_status st = db_query(app->db, &idempotency_lookup, 3, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        *failed = true;
        return true;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return false;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        PQclear(r);
        struct json_object *fields = json_object_new_object();
        json_object_object_add(fields, "Idempotency-Key",
                               json_object_new_string("was already used with a different body"));
        response_validation(res, fields);
        return true;
    }
    char pitch_id[24];
    snprintf(pitch_id, sizeof pitch_id, "%s", PQgetvalue(r, 0, 2));
    if (!PQgetisnull(r, 0, 1)) {
        buf_reset(&res->body);
        buf_append(&res->body, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
        res->status = 201;
        res->content_type = "application/json; charset=utf-8";
        response_header(res, "Cache-Control", "no-store");
    } else {
        /* The first answer was not recorded (crash between the two
         * statements): the pitch as it is now is the best replay. */
        PGresult *g;
        const char *gp[1] = { pitch_id };
        st = db_query(app->db, &pitch_get, 1, gp, DB_IDEMPOTENT, &g, &err);
        if (st != DB_OK) {
            PQclear(r);
            app_db_error(app, res, st, &err);
            *failed = true;
            return true;
        }
        if (PQntuples(g) == 1)
            answer_pitch(res, 201, g);
        else
            response_error(res, 404, "not_found", "pitch %s does not exist", pitch_id);
        PQclear(g);
    }
    PQclear(r);
    response_header(res, "Location", "/api/pitches/%s", pitch_id);
    return true;
}

/* The start every pitch write with a body shares: token (401), then the
 * body's content type, size and syntax (415, 413, 400). */
static bool begin_body_write(struct app *app, struct request *req, struct response *res,
                             struct auth_user *user, struct json_object **body,
                             struct pitch_input *in)
{
    memset(in, 0, sizeof *in);
    if (!auth_require(app, req, res, user))
        return false;
    return (*body = body_json_object(app, req, res)) != NULL;
}

/* budget_usd as a text parameter, NULL for null. */
static const char *budget_param(const struct pitch_input *in, char buf[24])
{
    if (!in->has_budget)
        return NULL;
    id_text(in->budget_usd, buf);
    return buf;
}

void handle_pitch_create(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    struct json_object *body;
    struct pitch_input in;
    if (!begin_body_write(app, req, res, &user, &body, &in))
        return;
    struct json_object *fields;
    const char *key = req->idempotency_key;
    if (key && !request_token_ok(key)) {
        response_error(res, 400, "invalid_parameter",
                       "Idempotency-Key must be 1-64 characters of A-Z a-z 0-9 . _ -");
        goto out;
    }
    if (validate_pitch(body, &in, &fields) != 0) {
        response_validation(res, fields);
        goto out;
    }
    char uid[24], digest[2 + 64 + 1];
    id_text(user.id, uid);
    body_digest(&in, digest);
    bool failed;
    if (key && idempotent_replay(app, uid, key, digest, res, &failed))
        goto out;
    char budget_text[24];
    const char *budget = budget_param(&in, budget_text);
    const char *params[9] = { uid, in.title, in.logline, in.synopsis, in.genre, budget,
                              in.status, key, key ? digest : NULL };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &pitch_create, 9, params, 0, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    if (PQntuples(r) == 0) {
        /* Another request with the same key won the race. */
        PQclear(r);
        if (key && idempotent_replay(app, uid, key, digest, res, &failed))
            goto out;
        response_error(res, 500, "internal", "internal error");
        goto out;
    }
    answer_pitch(res, 201, r);
    int64_t pitch_id = strtoll(PQgetvalue(r, 0, PC_ID), NULL, 10);
    response_header(res, "Location", "/api/pitches/%lld", (long long)pitch_id);
    char seq[24];
    snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, PC_CREATED_US + 1));
    PQclear(r);
    if (key) {
        const char *sp[3] = { uid, key, res->body.data };
        PGresult *w;
        if (db_query(app->db, &idempotency_store, 3, sp, 0, &w, &err) != DB_OK)
            log_warn("event=idempotency_store_failed");
        PQclear(w);
    }
    after_write(app, pitch_id, user.id, in.genre, NULL, seq);
out:
    pitch_input_free(&in);
    json_object_put(body);
}

/* Visibility (404) and ownership (403) of an existing pitch.  Returns true
 * when the caller owns it; otherwise res holds the answer. */
static bool check_owner(struct app *app, struct request *req, struct response *res,
                        const struct auth_user *user)
{
    char id[24];
    id_text(req->path_id, id);
    const char *params[1] = { id };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &pitch_owner, 1, params, DB_IDEMPOTENT, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        return false;
    }
    bool found = PQntuples(r) == 1;
    bool own = found && strtoll(PQgetvalue(r, 0, 0), NULL, 10) == user->id;
    bool draft = found && strcmp(PQgetvalue(r, 0, 1), "draft") == 0;
    PQclear(r);
    if (!found || (draft && !own)) {
        response_error(res, 404, "not_found", "pitch %s does not exist", id);
        return false;
    }
    if (!own) {
        response_error(res, 403, "forbidden", "only the owner may change pitch %s", id);
        return false;
    }
    return true;
}

void handle_pitch_update(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    struct json_object *body;
    struct pitch_input in;
    if (!begin_body_write(app, req, res, &user, &body, &in))
        return;
    struct json_object *fields;
    /* The owner's valid update is one statement (its WHERE checks the
     * owner); only when it cannot go through is ownership looked up, to
     * answer 404 or 403 in the order of checks of API.md (visibility and
     * ownership before the body's fields). */
    if (validate_pitch(body, &in, &fields) != 0) {
        if (check_owner(app, req, res, &user))
            response_validation(res, fields);
        else
            json_object_put(fields);
        goto out;
    }
    char id[24], uid[24], budget_text[24];
    id_text(req->path_id, id);
    id_text(user.id, uid);
    const char *budget = budget_param(&in, budget_text);
    const char *params[8] = { id, uid, in.title, in.logline, in.synopsis, in.genre, budget,
                              in.status };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &pitch_update, 8, params, 0, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        goto out;
    }
    if (PQntuples(r) == 0) {
        /* Not updated: missing, someone else's draft (404), or not ours (403). */
        PQclear(r);
        if (check_owner(app, req, res, &user))
            response_error(res, 404, "not_found", "pitch %s does not exist", id);
        goto out;
    }
    answer_pitch(res, 200, r);
    char seq[24], old_genre[32];
    snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, PC_CREATED_US + 1));
    snprintf(old_genre, sizeof old_genre, "%s", PQgetvalue(r, 0, PC_CREATED_US + 2));
    PQclear(r);
    after_write(app, req->path_id, user.id, in.genre, old_genre, seq);
out:
    pitch_input_free(&in);
    json_object_put(body);
}

void handle_pitch_delete(struct app *app, struct request *req, struct response *res)
{
    struct auth_user user;
    if (!auth_require(app, req, res, &user))
        return;
    char id[24], uid[24];
    id_text(req->path_id, id);
    id_text(user.id, uid);
    const char *params[2] = { id, uid };
    PGresult *r;
    struct db_error err;
    enum db_status st = db_query(app->db, &pitch_delete, 2, params, 0, &r, &err);
    if (st != DB_OK) {
        app_db_error(app, res, st, &err);
        return;
    }
    if (PQntuples(r) == 0) {
        /* Not deleted: missing, someone else's draft (404), or not ours (403). */
        PQclear(r);
        if (check_owner(app, req, res, &user))
            response_error(res, 404, "not_found", "pitch %s does not exist", id);
        return;
    }
    char seq[24], genre[32];
    snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, 0));
    snprintf(genre, sizeof genre, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    response_empty(res, 204);
    after_write(app, req->path_id, user.id, genre, NULL, seq);
}
