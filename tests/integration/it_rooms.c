/* Integration: pitchey-rooms through nginx (and Apache once): every message
 * type and error of API.md, ordering and exactly-once to 50 members, since
 * replay (also across a daemon restart), API events from the outbox, a cut
 * listener connection, two daemons on one Postgres, idle timeout, a slow
 * reader, oversized and malformed frames, revocation and SIGTERM. */
#include "pitchey-build.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "common/config.h"
#include "common/secret.h"
#include "common/token.h"
#include "api_client.h"
#include "harness.h"
#include "wsclient.h"

#define T_MS 10000 /* generous deadline for anything that should come */

static const char *extra_conf = "[rooms]\n"
                                "ping_interval = 2\n"
                                "idle_timeout = 6\n"
                                "sweep_interval = 2\n"
                                "max_rooms = 4\n"
                                "rate = 50\n"
                                "history = 20\n"
                                "queue_limit = 262144\n"
                                "node_heartbeat = 1\n"
                                "node_timeout = 3\n"
                                "revoke_check = 1\n"
                                "[http]\n"
                                "cors_origins = http://good.example, https://also.example\n"
                                "[metrics]\n"
                                "allow = 127.0.0.1/32, ::1\n";

/* Under AddressSanitizer freed memory sits in a quarantine (256 MB by
 * default) and counts in RSS: keep it small in the daemons this test
 * starts, so the slow-reader memory bound means the same in both builds. */
__attribute__((constructor)) static void small_asan_quarantine(void)
{
    setenv("ASAN_OPTIONS", "quarantine_size_mb=8", 0);
}

/* ------------------------------------------------------------- helpers */

static PGconn *db(void)
{
    PGconn *c = PQconnectdb("");
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "db: %s", PQerrorMessage(c));
    return c;
}

static PGresult *sql(PGconn *c, const char *q, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, q, n, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
                  "%s: %s", q, PQresultErrorMessage(r));
    return r;
}

static void sqlx(PGconn *c, const char *q)
{
    PQclear(sql(c, q, 0, NULL));
}

static int64_t sql_int(PGconn *c, const char *q, int n, const char *const *p)
{
    PGresult *r = sql(c, q, n, p);
    int64_t v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static unsigned char secret[SECRET_BYTES];

static void load_secret(void)
{
    static bool done;
    if (done)
        return;
    struct config cfg;
    char err[256];
    ck_assert_msg(config_load(&cfg, it_env("PITCHEY_CONFIG"), err, sizeof err) == 0, "%s", err);
    ck_assert_msg(secret_load(cfg.auth.secret_file, secret, err, sizeof err) == 0, "%s", err);
    config_free(&cfg);
    done = true;
}

struct user {
    int64_t id;
    char token[TOKEN_LEN + 1];
    char hash[TOKEN_HASH_PARAM_LEN + 1];
};

static struct user make_user(PGconn *c, const char *name)
{
    static int n;
    struct user u;
    load_secret();
    char email[128];
    snprintf(email, sizeof email, "%s.%d.%d@example.com", name, (int)getpid(), ++n);
    const char *p[] = { email, name };
    u.id = sql_int(c, "INSERT INTO users (email, password_hash, name, role) "
                      "VALUES ($1, 'x', $2, 'creator') RETURNING id",
                   2, p);
    token_generate(u.token);
    token_hash_param(secret, u.token, u.hash);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, u.id);
    const char *q[] = { u.hash, id };
    PQclear(sql(c, "INSERT INTO sessions (token_hash, user_id, expires_at) "
                   "VALUES ($1::bytea, $2, now() + interval '1 day')",
                2, q));
    return u;
}

static int64_t make_pitch(PGconn *c, int64_t owner, const char *status)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, owner);
    const char *p[] = { id, status };
    return sql_int(c, "INSERT INTO pitches (owner_id, title, logline, genre, status) "
                      "VALUES ($1, 'T', 'L', 'drama', $2) RETURNING id",
                   2, p);
}

static struct wsc *ws_open_url(const char *base, const struct user *u)
{
    char url[512];
    if (u)
        snprintf(url, sizeof url, "%s?token=%s", base, u->token);
    else
        snprintf(url, sizeof url, "%s", base);
    int status = 0;
    struct wsc *c = wsc_connect(url, NULL, 0, &status);
    ck_assert_msg(c != NULL, "connect %s: HTTP %d", base, status);
    return c;
}

static struct wsc *ws_open(const struct user *u)
{
    return ws_open_url(it_env("PITCHEY_TEST_WS_URL"), u);
}

static const char *jstr(struct json_object *o, const char *path)
{
    struct json_object *v = it_path(o, path);
    return v ? json_object_get_string(v) : "";
}

static int64_t jint(struct json_object *o, const char *path)
{
    struct json_object *v = it_path(o, path);
    return v ? json_object_get_int64(v) : -1;
}

/* Sends a ping and waits for the pong: proves everything sent before it
 * was handled, with nothing else in between when strict. */
static void sync_ping(struct wsc *c, bool strict)
{
    wsc_send_text(c, "{\"type\":\"ping\"}");
    for (;;) {
        struct json_object *o = wsc_recv_json(c, T_MS);
        ck_assert_msg(o != NULL, "no pong");
        bool pong = strcmp(jstr(o, "type"), "pong") == 0;
        if (!pong && strict)
            ck_abort_msg("wanted only a pong, got %s", json_object_to_json_string(o));
        json_object_put(o);
        if (pong)
            return;
    }
}

static struct json_object *join(struct wsc *c, const char *room, int64_t since)
{
    if (since >= 0)
        wsc_sendf(c, "{\"type\":\"join\",\"room\":\"%s\",\"since\":%" PRId64 "}", room, since);
    else
        wsc_sendf(c, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    struct json_object *o = wsc_recv_json(c, T_MS);
    ck_assert_msg(o != NULL, "no answer to join %s", room);
    ck_assert_msg(strcmp(jstr(o, "type"), "joined") == 0, "join %s: %s", room,
                  json_object_to_json_string(o));
    ck_assert_str_eq(jstr(o, "room"), room);
    return o;
}

static int64_t join_seq(struct wsc *c, const char *room)
{
    struct json_object *o = join(c, room, -1);
    int64_t seq = jint(o, "seq");
    json_object_put(o);
    return seq;
}

static void expect_error(struct wsc *c, const char *text, const char *code)
{
    wsc_send_text(c, text);
    struct json_object *o = wsc_recv_json(c, T_MS);
    ck_assert_msg(o != NULL, "no answer to %s", text);
    ck_assert_msg(strcmp(jstr(o, "type"), "error") == 0 && strcmp(jstr(o, "code"), code) == 0,
                  "%s: wanted %s, got %s", text, code, json_object_to_json_string(o));
    ck_assert(strlen(jstr(o, "message")) > 0);
    json_object_put(o);
}

static void send_msg(struct wsc *c, const char *room, const char *data_json)
{
    ck_assert_int_eq(wsc_sendf(c, "{\"type\":\"send\",\"room\":\"%s\",\"data\":%s}", room,
                               data_json),
                     0);
}

/* Next "message" frame; fails on anything else. */
static struct json_object *next_message(struct wsc *c)
{
    struct json_object *o = wsc_recv_json(c, T_MS);
    ck_assert_msg(o != NULL, "no message came");
    ck_assert_msg(strcmp(jstr(o, "type"), "message") == 0, "wanted a message, got %s",
                  json_object_to_json_string(o));
    return o;
}

static int64_t message_n(struct json_object *m)
{
    return jint(m, "data.n");
}

/* ----------------------------------------------------------- the tests */

START_TEST(ping_and_every_error)
{
    PGconn *c = db();
    struct user a = make_user(c, "Ada"), b = make_user(c, "Bob");
    int64_t draft = make_pitch(c, b.id, "draft");
    struct wsc *anon = ws_open(NULL);
    sync_ping(anon, true);
    expect_error(anon, "{\"type\":", "invalid_json");
    expect_error(anon, "{\"type\":\"ping\"} x", "invalid_json");
    expect_error(anon, "\"\\u0000\"", "invalid_json");
    expect_error(anon, "[1]", "invalid_message");
    expect_error(anon, "{\"type\":\"dance\"}", "invalid_message");
    expect_error(anon, "{\"type\":\"join\"}", "invalid_message");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"lobby\",\"since\":-1}", "invalid_message");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"lobby\",\"since\":1.5}", "invalid_message");
    expect_error(anon, "{\"type\":\"send\",\"room\":\"lobby\"}", "invalid_message");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"kitchen\"}", "invalid_room");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"pitch:0\"}", "invalid_room");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"pitch:012\"}", "invalid_room");
    expect_error(anon, "{\"type\":\"join\",\"room\":\"user:x\"}", "invalid_room");
    expect_error(anon, "{\"type\":\"send\",\"room\":\"lobby\",\"data\":1}", "unauthorized");
    char q[128];
    snprintf(q, sizeof q, "{\"type\":\"join\",\"room\":\"user:%" PRId64 "\"}", a.id);
    expect_error(anon, q, "unauthorized");
    json_object_put(join(anon, "lobby", -1));
    json_object_put(join(anon, "pitches", -1));
    /* Leaving a room not joined is ignored: the next answer is the pong. */
    wsc_send_text(anon, "{\"type\":\"leave\",\"room\":\"pitch:1\"}");
    sync_ping(anon, true);

    struct wsc *wa = ws_open(&a);
    char room[64];
    snprintf(room, sizeof room, "user:%" PRId64, b.id);
    snprintf(q, sizeof q, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    expect_error(wa, q, "forbidden");
    expect_error(wa, "{\"type\":\"send\",\"room\":\"pitches\",\"data\":1}", "forbidden");
    expect_error(wa, "{\"type\":\"send\",\"room\":\"lobby\",\"data\":1}", "not_joined");
    expect_error(wa, "{\"type\":\"join\",\"room\":\"pitch:999999999\"}", "not_found");
    snprintf(q, sizeof q, "{\"type\":\"join\",\"room\":\"pitch:%" PRId64 "\"}", draft);
    expect_error(wa, q, "not_found");
    /* max_rooms = 4 in this stack. */
    snprintf(room, sizeof room, "user:%" PRId64, a.id);
    json_object_put(join(wa, room, -1));
    json_object_put(join(wa, "lobby", -1));
    json_object_put(join(wa, "pitches", -1));
    int64_t pub = make_pitch(c, b.id, "published");
    snprintf(room, sizeof room, "pitch:%" PRId64, pub);
    json_object_put(join(wa, room, -1));
    expect_error(wa, "{\"type\":\"join\",\"room\":\"pitch:1\"}", "too_many_rooms");
    expect_error(wa, "{\"type\":\"join\",\"room\":\"lobby\"}", "invalid_message");
    /* rate = 50: a burst of 80 sends gets rate_limited, the rest arrive. */
    int got = 0, limited = 0;
    for (int i = 0; i < 80; i++)
        send_msg(wa, "lobby", "{\"n\":1}");
    while (got + limited < 80) {
        struct json_object *o = wsc_recv_json(wa, T_MS);
        ck_assert_msg(o != NULL, "after %d messages and %d errors", got, limited);
        if (strcmp(jstr(o, "type"), "message") == 0)
            got++;
        else if (strcmp(jstr(o, "code"), "rate_limited") == 0)
            limited++;
        json_object_put(o);
    }
    ck_assert_int_ge(limited, 1);
    ck_assert_int_ge(got, 1);
    wsc_free(wa);
    wsc_free(anon);
    PQfinish(c);
}
END_TEST

START_TEST(message_shape_presence_and_tabs)
{
    PGconn *c = db();
    struct user a = make_user(c, "Ann"), b = make_user(c, "Ben");
    int64_t pitch = make_pitch(c, a.id, "published");
    char room[64];
    snprintf(room, sizeof room, "pitch:%" PRId64, pitch);
    struct wsc *wa = ws_open(&a);
    struct json_object *j = join(wa, room, -1);
    ck_assert_int_eq(jint(j, "seq"), 0);
    ck_assert(!json_object_get_boolean(it_path(j, "recovered")));
    ck_assert_int_eq(json_object_array_length(it_path(j, "members")), 1);
    json_object_put(j);
    struct wsc *anon = ws_open(NULL);
    json_object_put(join(anon, room, -1));

    struct wsc *b1 = ws_open(&b);
    j = join(b1, room, -1);
    ck_assert_int_eq(json_object_array_length(it_path(j, "members")), 2);
    json_object_put(j);
    struct json_object *p = wsc_expect(wa, "presence", T_MS, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(jstr(p, "action"), "join");
    ck_assert_str_eq(jstr(p, "room"), room);
    ck_assert_int_eq(jint(p, "user.id"), b.id);
    ck_assert_str_eq(jstr(p, "user.name"), "Ben");
    ck_assert_str_eq(jstr(p, "user.role"), "creator");
    json_object_put(p);

    p = wsc_expect(anon, "presence", T_MS, NULL);
    ck_assert_str_eq(jstr(p, "action"), "join");
    json_object_put(p);
    /* A second tab of Ben: silent.  Messages: the sender gets its own. */
    struct wsc *b2 = ws_open(&b);
    json_object_put(join(b2, room, -1));
    send_msg(b1, room, "{\"text\":\"héllo\",\"n\":1}");
    struct wsc *all[] = { wa, anon, b1, b2 };
    for (int i = 0; i < 4; i++) {
        struct json_object *m = next_message(all[i]);
        ck_assert_str_eq(jstr(m, "room"), room);
        ck_assert_int_eq(jint(m, "seq"), 1);
        ck_assert_int_eq(jint(m, "from.id"), b.id);
        ck_assert_str_eq(jstr(m, "from.name"), "Ben");
        ck_assert_str_eq(jstr(m, "data.text"), "héllo");
        const char *ts = jstr(m, "ts");
        ck_assert_int_eq(strlen(ts), 24);
        ck_assert(ts[10] == 'T' && ts[23] == 'Z' && ts[19] == '.');
        json_object_put(m);
    }
    /* First tab leaves: nothing; the last one leaves: presence leave. */
    wsc_sendf(b1, "{\"type\":\"leave\",\"room\":\"%s\"}", room);
    sync_ping(b1, true);
    wsc_free(b2);
    p = wsc_expect(wa, "presence", T_MS, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(jstr(p, "action"), "leave");
    ck_assert_int_eq(jint(p, "user.id"), b.id);
    json_object_put(p);
    /* Nobody got presence about themselves; the anonymous reader saw both. */
    sync_ping(wa, true);
    p = wsc_expect(anon, "presence", T_MS, NULL);
    ck_assert_str_eq(jstr(p, "action"), "leave");
    json_object_put(p);
    sync_ping(anon, true);
    sync_ping(b1, true);
    wsc_free(b1);
    wsc_free(anon);
    wsc_free(wa);
    PQfinish(c);
}
END_TEST

START_TEST(order_exactly_once_to_50)
{
    enum { MEMBERS = 50, MESSAGES = 40 };
    PGconn *c = db();
    struct user s1 = make_user(c, "S1"), s2 = make_user(c, "S2");
    struct wsc *m[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        m[i] = ws_open(NULL);
        json_object_put(join(m[i], "lobby", -1));
    }
    struct wsc *a = ws_open(&s1), *b = ws_open(&s2);
    struct json_object *j = join(a, "lobby", -1);
    int64_t base = jint(j, "seq");
    json_object_put(j);
    json_object_put(join(b, "lobby", -1));
    for (int i = 0; i < MESSAGES / 2; i++) {
        char d[64];
        snprintf(d, sizeof d, "{\"n\":%d}", 2 * i);
        send_msg(a, "lobby", d);
        snprintf(d, sizeof d, "{\"n\":%d}", 2 * i + 1);
        send_msg(b, "lobby", d);
    }
    for (int i = 0; i < MEMBERS; i++) {
        int seen[MESSAGES] = { 0 };
        int64_t last = base;
        for (int k = 0; k < MESSAGES; k++) {
            struct json_object *o = wsc_expect(m[i], "message", T_MS, NULL);
            ck_assert_msg(o != NULL, "member %d got %d of %d", i, k, MESSAGES);
            int64_t seq = jint(o, "seq");
            ck_assert_int_eq(seq, last + 1); /* strictly growing, no gap */
            last = seq;
            int64_t n = message_n(o);
            ck_assert(n >= 0 && n < MESSAGES);
            seen[n]++;
            json_object_put(o);
        }
        for (int k = 0; k < MESSAGES; k++)
            ck_assert_int_eq(seen[k], 1);
        /* And nothing more (no duplicate). */
        wsc_send_text(m[i], "{\"type\":\"ping\"}");
        int skipped = 0;
        struct json_object *o = wsc_expect(m[i], "pong", T_MS, &skipped);
        ck_assert_ptr_nonnull(o);
        json_object_put(o);
        ck_assert_int_eq(skipped, 0);
        wsc_free(m[i]);
    }
    wsc_free(a);
    wsc_free(b);
    PQfinish(c);
}
END_TEST

/* Receives messages until seq reaches upto; returns the last seq. */
static int64_t drain_to(struct wsc *c, int64_t from, int64_t upto)
{
    int64_t last = from;
    while (last < upto) {
        struct json_object *o = wsc_expect(c, "message", T_MS, NULL);
        ck_assert_msg(o != NULL, "stuck at seq %" PRId64 " waiting for %" PRId64, last, upto);
        ck_assert_int_eq(jint(o, "seq"), last + 1);
        last++;
        json_object_put(o);
    }
    return last;
}

START_TEST(since_replay_and_restart)
{
    PGconn *c = db();
    struct user s = make_user(c, "Sam"), r = make_user(c, "Rae");
    const char *room = "lobby";
    struct wsc *ws = ws_open(&s);
    int64_t seq0 = join_seq(ws, room);
    struct wsc *wr = ws_open(&r);
    json_object_put(join(wr, room, -1));
    for (int i = 0; i < 5; i++)
        send_msg(ws, room, "{\"n\":1}");
    int64_t seen = drain_to(wr, seq0, seq0 + 2);
    wsc_free(wr);
    for (int i = 0; i < 3; i++)
        send_msg(ws, room, "{\"n\":2}");
    drain_to(ws, seq0, seq0 + 8);

    /* Reconnect with since: joined first, then exactly the missing ones. */
    wr = ws_open(&r);
    struct json_object *j = join(wr, room, seen);
    ck_assert_int_eq(jint(j, "seq"), seq0 + 8);
    ck_assert(json_object_get_boolean(it_path(j, "recovered")));
    json_object_put(j);
    drain_to(wr, seen, seq0 + 8);
    sync_ping(wr, true);
    wsc_free(wr);

    /* since above seq: not recovered, nothing replayed. */
    wr = ws_open(&r);
    j = join(wr, room, seq0 + 100);
    ck_assert(!json_object_get_boolean(it_path(j, "recovered")));
    json_object_put(j);
    sync_ping(wr, true);
    wsc_free(wr);

    /* Across a restart of the daemon: history lives in Postgres. */
    wsc_free(ws);
    ck_assert_int_eq(it_stack("rooms-stop", NULL), 0);
    ck_assert_int_eq(it_stack("rooms-start", NULL), 0);
    ws = ws_open(&s);
    json_object_put(join(ws, room, -1));
    for (int i = 0; i < 2; i++)
        send_msg(ws, room, "{\"n\":3}");
    drain_to(ws, seq0 + 8, seq0 + 10);
    wr = ws_open(&r);
    j = join(wr, room, seq0 + 4);
    ck_assert_int_eq(jint(j, "seq"), seq0 + 10);
    ck_assert(json_object_get_boolean(it_path(j, "recovered")));
    json_object_put(j);
    drain_to(wr, seq0 + 4, seq0 + 10);
    sync_ping(wr, true);
    wsc_free(wr);

    /* Older than what is retained (history = 20): recovered false, the
     * retained messages are replayed. */
    for (int i = 0; i < 25; i++) {
        send_msg(ws, room, "{\"n\":4}");
        if (i % 10 == 9)
            it_sleep_ms(300); /* stay under the rate limit */
    }
    drain_to(ws, seq0 + 10, seq0 + 35);
    wr = ws_open(&r);
    j = join(wr, room, seq0);
    ck_assert(!json_object_get_boolean(it_path(j, "recovered")));
    json_object_put(j);
    drain_to(wr, seq0 + 15, seq0 + 35);
    sync_ping(wr, true);
    wsc_free(wr);
    wsc_free(ws);
    PQfinish(c);
}
END_TEST

static void insert_event(PGconn *c, const char *kind, int64_t pitch, int64_t owner, bool pub,
                         bool notify, bool commit)
{
    char p[24], o[24];
    snprintf(p, sizeof p, "%" PRId64, pitch);
    snprintf(o, sizeof o, "%" PRId64, owner);
    const char *params[] = { kind, p, o, pub ? "true" : "false" };
    sqlx(c, "BEGIN");
    int64_t seq = sql_int(
        c,
        "WITH s AS (UPDATE counters SET value = value + 1 WHERE name = 'events' RETURNING value) "
        "INSERT INTO events (seq, kind, pitch_id, owner_id, published, data) "
        "SELECT s.value, $1, $2, $3, $4, json_build_object('id', $2::bigint, 'title', 'T') "
        "FROM s RETURNING seq",
        4, params);
    sqlx(c, commit ? "COMMIT" : "ROLLBACK");
    if (notify) {
        char q[96];
        snprintf(q, sizeof q, "SELECT pg_notify('pitchey_events', '%" PRId64 "')", seq);
        sqlx(c, q);
    }
}

START_TEST(events_from_the_outbox)
{
    PGconn *c = db();
    struct user own = make_user(c, "Owner"), oth = make_user(c, "Other");
    int64_t pub = make_pitch(c, own.id, "published"), draft = make_pitch(c, own.id, "draft");
    char proom[64], uroom[64];
    snprintf(proom, sizeof proom, "pitch:%" PRId64, pub);
    snprintf(uroom, sizeof uroom, "user:%" PRId64, own.id);
    struct wsc *list = ws_open(NULL), *pw = ws_open(&oth), *uw = ws_open(&own);
    struct wsc *dw = ws_open(&own);
    json_object_put(join(list, "pitches", -1));
    json_object_put(join(pw, proom, -1));
    json_object_put(join(uw, uroom, -1));
    char droom[64];
    snprintf(droom, sizeof droom, "pitch:%" PRId64, draft);
    json_object_put(join(dw, droom, -1));

    insert_event(c, "pitch.updated", draft, own.id, false, true, false); /* rolled back */
    insert_event(c, "pitch.created", pub, own.id, true, true, true);
    insert_event(c, "pitch.updated", pub, own.id, true, true, true);
    insert_event(c, "pitch.updated", draft, own.id, false, true, true);
    insert_event(c, "pitch.deleted", pub, own.id, true, true, true);

    const char *want_list[] = { "pitch.created", "pitch.updated", "pitch.deleted" };
    for (int i = 0; i < 3; i++) {
        struct json_object *e = wsc_expect(list, "event", T_MS, NULL);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "event"), want_list[i]);
        ck_assert_str_eq(jstr(e, "room"), "pitches");
        ck_assert_int_eq(jint(e, "data.id"), pub);
        json_object_put(e);
    }
    const char *want_pitch[] = { "pitch.updated", "pitch.deleted" };
    struct json_object *e;
    for (int i = 0; i < 2; i++) {
        e = wsc_expect(pw, "event", T_MS, NULL);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "event"), want_pitch[i]);
        ck_assert_str_eq(jstr(e, "room"), proom);
        json_object_put(e);
    }
    /* Deleted: nobody may see it, so its members leave it (told why). */
    e = wsc_recv_json(pw, T_MS);
    ck_assert_msg(e && strcmp(jstr(e, "code"), "not_found") == 0, "after pitch.deleted: %s",
                  e ? json_object_to_json_string(e) : "nothing");
    json_object_put(e);
    const char *want_user[] = { "pitch.created", "pitch.updated", "pitch.updated",
                                "pitch.deleted" };
    for (int i = 0; i < 4; i++) {
        e = wsc_expect(uw, "event", T_MS, NULL);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "event"), want_user[i]);
        json_object_put(e);
    }
    e = wsc_expect(dw, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(jint(e, "data.id"), draft);
    json_object_put(e);
    /* Nothing else: the rolled-back change and the draft went nowhere else. */
    sync_ping(list, true);
    sync_ping(pw, true);
    sync_ping(uw, true);
    sync_ping(dw, true);

    /* An event whose NOTIFY never came (the API died) still arrives. */
    insert_event(c, "pitch.updated", pub, own.id, true, false, true);
    e = wsc_expect(list, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    json_object_put(e);
    wsc_free(list);
    wsc_free(pw);
    wsc_free(uw);
    wsc_free(dw);
    PQfinish(c);
}
END_TEST

START_TEST(listener_cut_loses_nothing)
{
    PGconn *c = db();
    struct user s = make_user(c, "Cut");
    char room[64];
    snprintf(room, sizeof room, "user:%" PRId64, s.id);
    struct wsc *ws = ws_open(&s), *r = ws_open(&s);
    int64_t seq0 = join_seq(ws, room);
    json_object_put(join(r, room, -1));
    for (int round = 0; round < 3; round++) {
        sqlx(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'pitchey-rooms-listen'");
        for (int i = 0; i < 10; i++)
            send_msg(ws, room, "{\"n\":1}");
        it_sleep_ms(300);
    }
    drain_to(r, seq0, seq0 + 30);
    sync_ping(r, true);
    wsc_free(r);
    wsc_free(ws);
    PQfinish(c);
}
END_TEST

START_TEST(revoked_and_unknown_tokens)
{
    PGconn *c = db();
    struct user u = make_user(c, "Rev");
    /* Unknown and malformed tokens: 1008 before any other message. */
    struct user fake = u;
    fake.token[0] = fake.token[0] == 'A' ? 'B' : 'A';
    struct wsc *w = ws_open(&fake);
    ck_assert_int_eq(wsc_wait_close(w, T_MS), 1008);
    wsc_free(w);
    int status;
    w = wsc_connect(it_env("PITCHEY_TEST_WS_URL"),
                    (const char *const[]){ "Authorization: Bearer nope", NULL }, 0, &status);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(wsc_wait_close(w, T_MS), 1008);
    wsc_free(w);
    /* Authorization: Bearer works like ?token=. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", u.token);
    w = wsc_connect(it_env("PITCHEY_TEST_WS_URL"), (const char *const[]){ hdr, NULL }, 0,
                    &status);
    ck_assert_ptr_nonnull(w);
    char room[64];
    snprintf(room, sizeof room, "user:%" PRId64, u.id);
    json_object_put(join(w, room, -1));
    /* Logout as the API does it: revoked_at, then NOTIFY. */
    const char *p[] = { u.hash };
    PQclear(sql(c, "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1::bytea", 1, p));
    PQclear(sql(c, "SELECT pg_notify('pitchey_revoke', encode($1::bytea, 'hex'))", 1, p));
    double t0 = it_now();
    ck_assert_int_eq(wsc_wait_close(w, 5000), 1008);
    ck_assert(it_now() - t0 < 5.0);
    wsc_free(w);
    /* And the revoked token cannot come back. */
    w = ws_open(&u);
    ck_assert_int_eq(wsc_wait_close(w, T_MS), 1008);
    wsc_free(w);
    PQfinish(c);
}
END_TEST

START_TEST(oversized_and_malformed_frames)
{
    struct wsc *w = ws_open(NULL);
    size_t n = 70000;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '"';
    big[n - 1] = '"';
    wsc_send_frame(w, 1, big, n);
    ck_assert_int_eq(wsc_wait_close(w, T_MS), 1009);
    wsc_free(w);
    /* Just under the limit is fine. */
    w = ws_open(NULL);
    big[59999] = '"';
    wsc_send_frame(w, 1, big, 60000);
    struct json_object *o = wsc_recv_json(w, T_MS);
    ck_assert_str_eq(jstr(o, "code"), "invalid_message");
    json_object_put(o);
    /* Binary frames are refused, the connection stays. */
    wsc_send_frame(w, 2, "{}", 2);
    o = wsc_recv_json(w, T_MS);
    ck_assert_str_eq(jstr(o, "code"), "invalid_message");
    json_object_put(o);
    /* Fragmented text is reassembled. */
    wsc_send_frame_ex(w, 1, false, true, "{\"type\":", 8);
    wsc_send_frame_ex(w, 0, true, true, "\"ping\"}", 7);
    o = wsc_recv_json(w, T_MS);
    ck_assert_str_eq(jstr(o, "type"), "pong");
    json_object_put(o);
    /* A UTF-8 character split across two fragments is fine: the message
     * is checked whole. */
    wsc_send_frame_ex(w, 1, false, true, "{\"type\":\"ping\",\"x\":\"\xc3", 21);
    wsc_send_frame_ex(w, 0, true, true, "\xa9\"}", 3);
    o = wsc_recv_json(w, T_MS);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(jstr(o, "type"), "pong");
    json_object_put(o);
    /* Invalid UTF-8 in a text message: closed with 1007 (RFC 6455 8.1),
     * nothing answered before. */
    wsc_send_frame(w, 1, "{\"type\":\"\xff\"}", 12);
    o = wsc_recv_json(w, T_MS);
    ck_assert_msg(o == NULL, "answered instead of closing: %s", json_object_to_json_string(o));
    ck_assert_int_eq(wsc_close_code(w), 1007);
    wsc_free(w);
    /* An overlong encoding and a lone surrogate are invalid too. */
    const char *bad[] = { "{\"type\":\"\xc0\xaf\"}", "{\"type\":\"\xed\xa0\x80\"}" };
    for (int i = 0; i < 2; i++) {
        w = ws_open(NULL);
        wsc_send_text(w, bad[i]);
        ck_assert_int_eq(wsc_wait_close(w, T_MS), 1007);
        wsc_free(w);
    }
    /* An unmasked client frame: RFC 6455 says close; libwebsockets 4.1
     * takes it as it is.  Either is survivable: closed, or answered. */
    w = ws_open(NULL);
    wsc_send_frame_ex(w, 1, true, false, "{\"type\":\"ping\"}", 15);
    o = wsc_recv_json(w, T_MS);
    if (o) {
        ck_assert_str_eq(jstr(o, "type"), "pong");
        json_object_put(o);
    } else {
        ck_assert_msg(wsc_close_code(w) != 0, "unmasked: neither answered nor closed");
    }
    wsc_free(w);
    /* A reserved opcode: a protocol error (lws picks the code). */
    int code;
    w = ws_open(NULL);
    wsc_send_frame(w, 3, "x", 1);
    code = wsc_wait_close(w, T_MS);
    ck_assert_msg(code != 0, "opcode 3: still open");
    wsc_free(w);
    /* Garbage instead of a frame header. */
    w = ws_open(NULL);
    wsc_send_raw(w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 14);
    code = wsc_wait_close(w, T_MS);
    ck_assert_msg(code != 0, "garbage: still open");
    wsc_free(w);
    free(big);
    /* The daemon is still fine. */
    w = ws_open(NULL);
    sync_ping(w, true);
    wsc_free(w);
}
END_TEST

START_TEST(idle_timeout)
{
    /* ping_interval = 2, idle_timeout = 6, sweep_interval = 2.  A joined
     * listener that only answers the server's pings is a live client and
     * stays; one that answers nothing is closed with 4408 (not shutdown's
     * 1001) once idle_timeout has passed. */
    struct wsc *dead = ws_open(NULL), *quiet = ws_open(NULL);
    json_object_put(join(quiet, "lobby", -1));
    json_object_put(join(dead, "lobby", -1));
    wsc_set_auto_pong(dead, false);
    double t0 = it_now(), closed_at = 0;
    /* Three idle timeouts: long enough for any sweep to have judged both. */
    while (it_now() - t0 < 18) {
        char *d = NULL;
        int op = wsc_recv(quiet, 100, &d, NULL);
        free(d);
        ck_assert_msg(op == 0 || op == 1, "the quiet listener was closed after %.1f s (code %d)",
                      it_now() - t0, wsc_close_code(quiet));
        if (!closed_at) {
            d = NULL;
            wsc_recv(dead, 100, &d, NULL);
            free(d);
            if (wsc_close_code(dead) != 0)
                closed_at = it_now() - t0;
        }
    }
    ck_assert_msg(closed_at > 0, "an unresponsive client was not closed in 18 s");
    ck_assert_msg(closed_at >= 4.0, "closed after %.1f s, before the idle timeout", closed_at);
    ck_assert_int_eq(wsc_close_code(dead), 4408);
    /* The quiet one answered several pings and is still served. */
    ck_assert_int_ge(wsc_pings(quiet), 4);
    ck_assert_int_eq(wsc_close_code(quiet), 0);
    sync_ping(quiet, false);
    wsc_free(quiet);
    wsc_free(dead);
}
END_TEST

/* Sessions of the rooms daemon's query connection waiting on a lock. */
static long rooms_lock_waits(PGconn *c)
{
    return (long)sql_int(c, "SELECT count(*) FROM pg_stat_activity "
                            "WHERE application_name = 'pitchey-rooms' AND wait_event_type = 'Lock'",
                         0, NULL);
}

START_TEST(sends_right_behind_a_slow_join_keep_their_order)
{
    /* A client sends join and, without waiting, five sends and a ping.
     * The join's read of Postgres is held up on purpose (a test
     * transaction locks room_members); the sends must wait behind it and
     * arrive, in order, after joined; none is refused as not_joined. */
    enum { SENDS = 5 };
    PGconn *c = db(), *locker = db();
    struct user u = make_user(c, "Eager");
    int64_t pitch = make_pitch(c, u.id, "published"); /* a room nobody follows yet */
    char room[64];
    snprintf(room, sizeof room, "pitch:%" PRId64, pitch);
    struct wsc *w = ws_open(&u);
    sync_ping(w, true); /* the token lookup is done */

    sqlx(locker, "BEGIN");
    sqlx(locker, "LOCK TABLE room_members IN ACCESS EXCLUSIVE MODE");
    wsc_sendf(w, "{\"type\":\"join\",\"room\":\"%s\",\"since\":0}", room);
    for (int i = 0; i < SENDS; i++) {
        char d[32];
        snprintf(d, sizeof d, "{\"n\":%d}", i);
        send_msg(w, room, d);
    }
    wsc_send_text(w, "{\"type\":\"ping\"}");
    /* Prove the fault: the daemon's reads are stuck on the lock, and
     * nothing at all has been answered meanwhile. */
    double t0 = it_now();
    while (rooms_lock_waits(locker) < 1 && it_now() - t0 < 10)
        it_sleep_ms(50);
    ck_assert_msg(rooms_lock_waits(locker) >= 1, "the join's read was never held up");
    struct json_object *early = wsc_recv_json(w, 700);
    ck_assert_msg(early == NULL, "answered while the join was held up: %s",
                  json_object_to_json_string(early));
    sqlx(locker, "COMMIT");

    struct json_object *j = wsc_recv_json(w, T_MS);
    ck_assert_msg(j != NULL, "no joined after the lock went");
    ck_assert_msg(strcmp(jstr(j, "type"), "joined") == 0, "first answer: %s",
                  json_object_to_json_string(j));
    int64_t seq = jint(j, "seq");
    json_object_put(j);
    /* The pong is answered at once, the messages once stored: the pong may
     * come among them, nothing else may. */
    int pongs = 0;
    for (int i = 0; i < SENDS;) {
        struct json_object *m = wsc_recv_json(w, T_MS);
        ck_assert_msg(m != NULL, "message %d never came", i);
        if (strcmp(jstr(m, "type"), "pong") == 0) {
            pongs++;
        } else {
            ck_assert_msg(strcmp(jstr(m, "type"), "message") == 0, "got %s",
                          json_object_to_json_string(m));
            ck_assert_int_eq(message_n(m), i);
            ck_assert_int_eq(jint(m, "seq"), seq + 1 + i);
            i++;
        }
        json_object_put(m);
    }
    if (pongs == 0) {
        struct json_object *p = wsc_recv_json(w, T_MS);
        ck_assert_msg(p && strcmp(jstr(p, "type"), "pong") == 0, "no pong: %s",
                      p ? json_object_to_json_string(p) : "nothing");
        json_object_put(p);
    }
    wsc_free(w);
    PQfinish(locker);
    PQfinish(c);
}
END_TEST

/* Reads of a room's history by the daemon (snapshot or one joiner's). */
#define HISTORY_READS                                                           \
    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "                 \
    "WHERE query LIKE '%ORDER BY m.seq DESC LIMIT%'"

START_TEST(storm_of_joins_costs_one_read_per_room)
{
    /* 200 joins of one room with since: every one answered, replay
     * complete, and the daemon reads the room's history about once, not
     * once per joiner (pg_stat_statements counts the reads). */
    enum { JOINERS = 200, HISTORY_MSGS = 5 };
    PGconn *c = db();
    struct user u = make_user(c, "Storm");
    int64_t pitch = make_pitch(c, u.id, "published");
    char room[64];
    snprintf(room, sizeof room, "pitch:%" PRId64, pitch);
    struct wsc *s = ws_open(&u);
    int64_t base = join_seq(s, room);
    for (int i = 0; i < HISTORY_MSGS; i++)
        send_msg(s, room, "{\"n\":1}");
    drain_to(s, base, base + HISTORY_MSGS);
    wsc_free(s); /* the room is followed by nobody now: cold again */

    long long reads0 = it_sql_int(HISTORY_READS);
    struct wsc **w = calloc(JOINERS, sizeof *w);
    for (int i = 0; i < JOINERS; i++)
        w[i] = ws_open(NULL);
    for (int i = 0; i < JOINERS; i++)
        wsc_sendf(w[i], "{\"type\":\"join\",\"room\":\"%s\",\"since\":%" PRId64 "}", room,
                  base + 2);
    for (int i = 0; i < JOINERS; i++) {
        struct json_object *j = wsc_recv_json(w[i], T_MS);
        ck_assert_msg(j && strcmp(jstr(j, "type"), "joined") == 0, "joiner %d: %s", i,
                      j ? json_object_to_json_string(j) : "nothing");
        ck_assert(json_object_get_boolean(it_path(j, "recovered")));
        ck_assert_int_eq(jint(j, "seq"), base + HISTORY_MSGS);
        json_object_put(j);
        drain_to(w[i], base + 2, base + HISTORY_MSGS);
    }
    long long reads1 = it_sql_int(HISTORY_READS);
    for (int i = 0; i < JOINERS; i++)
        wsc_free(w[i]);
    free(w);
    fprintf(stderr, "storm: %d joins, %lld history reads\n", JOINERS, reads1 - reads0);
    ck_assert_int_ge(reads0, 0);
    ck_assert_msg(reads1 - reads0 >= 1 && reads1 - reads0 <= 3, "%lld reads for %d joins",
                  reads1 - reads0, JOINERS);
    PQfinish(c);
}
END_TEST

START_TEST(membership_follows_visibility)
{
    /* Owner, another user and an anonymous reader in pitch:{id}; the owner
     * makes it a draft: the other two leave with an error and cannot send
     * there; the owner stays.  Published again, then deleted: everyone
     * leaves (nobody can see a deleted pitch). */
    struct test_user ow;
    api_register("vis-owner", "creator", &ow);
    struct user own;
    memset(&own, 0, sizeof own);
    snprintf(own.token, sizeof own.token, "%.43s", ow.token);
    PGconn *c = db();
    struct user oth = make_user(c, "Viewer");
    struct json_object *p = api_call(
        "POST", "/api/pitches", ow.token,
        "{\"title\":\"Seen\",\"logline\":\"Then hidden\",\"genre\":\"drama\"}", 201);
    int64_t id = jint(p, "id");
    json_object_put(p);
    char room[64], path[64];
    snprintf(room, sizeof room, "pitch:%" PRId64, id);
    snprintf(path, sizeof path, "/api/pitches/%" PRId64, id);
    struct wsc *wo = ws_open(&own), *wx = ws_open(&oth), *wa = ws_open(NULL);
    json_object_put(join(wo, room, -1));
    json_object_put(join(wx, room, -1));
    json_object_put(join(wa, room, -1));

    json_object_put(api_call("PUT", path, ow.token,
                             "{\"title\":\"Seen\",\"logline\":\"Then hidden\",\"genre\":"
                             "\"drama\",\"status\":\"draft\"}",
                             200));
    struct wsc *gone[] = { wx, wa };
    for (int i = 0; i < 2; i++) {
        struct json_object *e = wsc_expect(gone[i], "error", T_MS, NULL);
        ck_assert_msg(e != NULL, "member %d was not told it left", i);
        ck_assert_str_eq(jstr(e, "code"), "not_found");
        ck_assert_ptr_nonnull(strstr(jstr(e, "message"), room));
        json_object_put(e);
    }
    struct json_object *e = wsc_expect(wo, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "event"), "pitch.updated");
    json_object_put(e);
    /* The other user can no longer post there, nor join again; the owner
     * still can, and only the owner gets it. */
    char q[128];
    snprintf(q, sizeof q, "{\"type\":\"send\",\"room\":\"%s\",\"data\":1}", room);
    expect_error(wx, q, "not_joined");
    snprintf(q, sizeof q, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    expect_error(wx, q, "not_found");
    expect_error(wa, q, "not_found");
    send_msg(wo, room, "{\"n\":7}");
    struct json_object *m = wsc_expect(wo, "message", T_MS, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(message_n(m), 7);
    json_object_put(m);
    sync_ping(wx, true);
    sync_ping(wa, true);

    /* Published again: the other user may join; then deleted. */
    json_object_put(api_call("PUT", path, ow.token,
                             "{\"title\":\"Seen\",\"logline\":\"Then hidden\",\"genre\":"
                             "\"drama\",\"status\":\"published\"}",
                             200));
    e = wsc_expect(wo, "event", T_MS, NULL);
    json_object_put(e);
    double t0 = it_now();
    struct json_object *j = NULL;
    while (it_now() - t0 < 10) { /* the daemon learns of it from the outbox */
        wsc_send_text(wx, q);
        j = wsc_recv_json(wx, T_MS);
        ck_assert_ptr_nonnull(j);
        if (strcmp(jstr(j, "type"), "joined") == 0)
            break;
        json_object_put(j);
        j = NULL;
        it_sleep_ms(200);
    }
    ck_assert_msg(j != NULL, "could not join again once published");
    json_object_put(j);
    json_object_put(api_call("DELETE", path, ow.token, NULL, 204));
    struct wsc *both[] = { wo, wx };
    for (int i = 0; i < 2; i++) {
        e = wsc_expect(both[i], "event", T_MS, NULL);
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "event"), "pitch.deleted");
        json_object_put(e);
        /* (The owner may first hear the other one leave: presence.) */
        e = wsc_expect(both[i], "error", T_MS, NULL);
        ck_assert_msg(e && strcmp(jstr(e, "code"), "not_found") == 0, "after delete: %s",
                      e ? json_object_to_json_string(e) : "nothing");
        json_object_put(e);
        snprintf(q, sizeof q, "{\"type\":\"send\",\"room\":\"%s\",\"data\":1}", room);
        expect_error(both[i], q, "not_joined");
    }
    wsc_free(wo);
    wsc_free(wx);
    wsc_free(wa);
    PQfinish(c);
}
END_TEST

static int rooms_port(void)
{
    const char *u = it_env("PITCHEY_ROOMS_URL");
    const char *colon = strrchr(u, ':');
    return colon ? atoi(colon + 1) : 0;
}

START_TEST(metrics_only_from_allowed_addresses)
{
    /* [metrics] allow = 127.0.0.1/32, ::1 here: 127.0.0.2 is refused. */
    char *body = NULL;
    int port = rooms_port();
    ck_assert_int_eq(wsc_http_get(port, "/metrics", "127.0.0.1", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "pitchey_rooms_connections "));
    free(body);
    ck_assert_int_eq(wsc_http_get(port, "/metrics", "127.0.0.2", &body), 403);
    ck_assert_ptr_nonnull(body);
    ck_assert_msg(strstr(body, "\"code\":\"forbidden\"") != NULL, "body: %s", body);
    ck_assert_ptr_null(strstr(body, "pitchey_rooms"));
    free(body);
    ck_assert_int_eq(wsc_http_get(port, "/nothing", "127.0.0.1", &body), 404);
    free(body);
    /* Relayed by a front server (it says so): refused whatever the peer. */
    ck_assert_int_eq(wsc_http_get_ex(port, "/metrics", "127.0.0.1",
                                     "X-Forwarded-For: 203.0.113.9\r\n", &body),
                     403);
    free(body);
    ck_assert_int_eq(wsc_http_get_ex(port, "/metrics", "127.0.0.1",
                                     "Forwarded: for=203.0.113.9\r\n", &body),
                     403);
    free(body);
    /* The attack of issue 9 through nginx: never the figures. */
    const char *u = it_env("PITCHEY_TEST_URL");
    int nginx = atoi(strrchr(u, ':') + 1);
    const char *tricks[] = { "/ws#/../metrics", "/ws/../metrics", "/ws%2F..%2Fmetrics" };
    for (int i = 0; i < 3; i++) {
        int st = wsc_http_get_ex(nginx, tricks[i], "127.0.0.1", NULL, &body);
        ck_assert_msg(st != 200 && (!body || !strstr(body, "pitchey_rooms")),
                      "%s through nginx: %d", tricks[i], st);
        free(body);
    }
}
END_TEST

START_TEST(upgrade_only_from_configured_origins)
{
    /* cors_origins = http://good.example, https://also.example */
    const char *urls[] = { it_env("PITCHEY_TEST_WS_URL"), NULL };
    char direct[128];
    snprintf(direct, sizeof direct, "ws://127.0.0.1:%d/ws", rooms_port());
    urls[1] = direct;
    for (int i = 0; i < 2; i++) {
        int status = 0;
        const char *evil[] = { "Origin: http://evil.example", NULL };
        ck_assert_ptr_null(wsc_connect(urls[i], evil, 0, &status));
        ck_assert_int_eq(status, 403);
        const char *prefix[] = { "Origin: http://good.example.evil", NULL };
        ck_assert_ptr_null(wsc_connect(urls[i], prefix, 0, &status));
        ck_assert_int_eq(status, 403);
        const char *good[] = { "Origin: HTTPS://also.example", NULL };
        struct wsc *w = wsc_connect(urls[i], good, 0, &status);
        ck_assert_msg(w != NULL, "configured origin refused: %d", status);
        sync_ping(w, true);
        wsc_free(w);
        /* A page of this site (the host it asked for): no need to list it. */
        const char *self[] = { "Origin: http://127.0.0.1:1", NULL };
        w = wsc_connect(urls[i], self, 0, &status);
        ck_assert_msg(w != NULL, "same-host origin refused: %d", status);
        wsc_free(w);
        const char *fwd[] = { "Origin: https://pitchey.example", "X-Forwarded-Host: pitchey.example",
                              NULL };
        w = wsc_connect(urls[i], fwd, 0, &status);
        ck_assert_msg(w != NULL, "forwarded same-host origin refused: %d", status);
        wsc_free(w);
        w = wsc_connect(urls[i], NULL, 0, &status); /* no Origin: not a browser */
        ck_assert_msg(w != NULL, "no Origin refused: %d", status);
        sync_ping(w, true);
        wsc_free(w);
    }
}
END_TEST

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* The rooms daemon's pid: the last "rooms PID" line of DIR/pids. */
static int rooms_pid(void)
{
    char path[512], line[256];
    int pid = -1, p;
    snprintf(path, sizeof path, "%s/pids", it_env("PITCHEY_STACK_DIR"));
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "rooms %d", &p) == 1)
            pid = p;
    if (f)
        fclose(f);
    return pid;
}

static long metric(const char *base, const char *name)
{
    struct it_response r;
    long v = -1;
    if (it_request(base, "GET", "/metrics", NULL, NULL, &r) == 0 && r.body) {
        const char *p = strstr(r.body, name);
        if (p)
            v = strtol(p + strlen(name), NULL, 10);
    }
    it_response_free(&r);
    return v;
}

START_TEST(slow_reader_closed_with_bounded_memory)
{
    PGconn *c = db();
    const char *rooms_url = it_env("PITCHEY_ROOMS_URL");
    int pid = rooms_pid();
    ck_assert_int_gt(pid, 0);
    long base = rss_kb(pid), peak = base;
    int status;
    struct wsc *slow = wsc_connect(it_env("PITCHEY_TEST_WS_URL"), NULL, 4096, &status);
    ck_assert_ptr_nonnull(slow);
    wsc_set_auto_pong(slow, false);
    json_object_put(join(slow, "lobby", -1));
    const char *drop = "pitchey_rooms_drops_total{reason=\"slow_reader\"} ";
    long drops0 = metric(rooms_url, drop);
    /* One sender that reads everything back (so only the slow one falls
     * behind): 3 messages of 60 kB per round, so its own queue stays
     * under queue_limit (256 kB here) while the slow one's grows. */
    struct user u = make_user(c, "Flood");
    struct wsc *sender = ws_open(&u);
    json_object_put(join(sender, "lobby", -1));
    size_t n = 60000;
    char *data = malloc(n + 3);
    data[0] = '"';
    memset(data + 1, 'x', n);
    data[n + 1] = '"';
    data[n + 2] = '\0';
    double t0 = it_now();
    long drops = drops0;
    while (it_now() - t0 < 90 && drops <= drops0) {
        for (int k = 0; k < 3; k++)
            send_msg(sender, "lobby", data);
        for (int k = 0; k < 3; k++) {
            struct json_object *o = wsc_expect(sender, "message", T_MS, NULL);
            ck_assert_msg(o != NULL, "the sender's own message did not come back");
            json_object_put(o);
        }
        it_sleep_ms(60); /* under rate = 50 */
        long rss = rss_kb(pid);
        if (rss > peak)
            peak = rss;
        drops = metric(rooms_url, drop);
    }
    ck_assert_msg(drops > drops0, "the slow reader was never dropped");
    /* Now read: the stuck data, then the close frame. */
    ck_assert_int_eq(wsc_wait_close(slow, 30000), 1013);
    fprintf(stderr, "slow reader: rss base %ld kB, peak %ld kB\n", base, peak);
    ck_assert_msg(peak - base < 64 * 1024, "RSS grew from %ld to %ld kB", base, peak);
    wsc_free(sender);
    wsc_free(slow);
    free(data);
    PQfinish(c);
}
END_TEST

/* Issue 9's resource flood, bounded for make check: 3,000 connections that
 * open and then say nothing (no join, no message) straight to the daemon.
 * Its memory grows by a few KiB each, not more, and a real client is served
 * as usual meanwhile: join, send, its message back.  (bench/rooms holds
 * 10,000 for 150 s.) */
START_TEST(idle_flood_bounded_and_others_served)
{
    enum { N = 3000 };
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 256) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    ck_assert_msg(rl.rlim_cur >= N + 256, "need %d descriptors, have %ld", N + 256,
                  (long)rl.rlim_cur);
    int pid = rooms_pid();
    ck_assert_int_gt(pid, 0);
    char url[256];
    snprintf(url, sizeof url, "ws://%s/ws", it_env("PITCHEY_ROOMS_URL") + strlen("http://"));
    long base = rss_kb(pid);
    struct wsc **idle = calloc(N, sizeof *idle);
    ck_assert_ptr_nonnull(idle);
    double t0 = it_now();
    int opened = 0;
    for (int i = 0; i < N; i++) {
        int status = 0;
        idle[i] = wsc_connect(url, NULL, 0, &status);
        ck_assert_msg(idle[i] != NULL, "idle connection %d: HTTP %d", i, status);
        opened++;
    }
    double took = it_now() - t0;
    it_sleep_ms(500);
    long after = rss_kb(pid);
    double per = (double)(after - base) * 1024.0 / N;
    fprintf(stderr, "idle flood: %d connections in %.2fs, daemon RSS %ld -> %ld kB (%.0f B each)\n",
            opened, took, base, after, per);
    /* 2.9 KiB each measured plain; sanitizers add their own bookkeeping. */
    ck_assert_msg(per < 16 * 1024, "%.0f bytes per idle connection", per);

    PGconn *c = db();
    struct user u = make_user(c, "Amid the flood");
    struct wsc *me = ws_open(&u);
    json_object_put(join(me, "lobby", -1));
    double s0 = it_now();
    send_msg(me, "lobby", "\"still served\"");
    struct json_object *o = wsc_expect(me, "message", T_MS, NULL);
    ck_assert_msg(o != NULL, "no message back during the flood");
    ck_assert_str_eq(jstr(o, "data"), "still served");
    json_object_put(o);
    fprintf(stderr, "idle flood: a message went round in %.3fs\n", it_now() - s0);
    wsc_free(me);
    for (int i = 0; i < N; i++)
        wsc_free(idle[i]);
    free(idle);
    PQfinish(c);
}
END_TEST

/* A second daemon on the same Postgres, on its own port. */
static int start_second(int *port)
{
    char conf[512], cmd[2048];
    snprintf(conf, sizeof conf, "%s/rooms2.conf", it_env("PITCHEY_STACK_DIR"));
    /* A port from the pid can be taken by another stack's server (bind
     * fails with EADDRINUSE and the daemon exits): then try another. */
    for (int attempt = 0; attempt < 5; attempt++) {
        *port = 20000 + (int)((getpid() + attempt * 7919) % 20000) + 17;
        snprintf(cmd, sizeof cmd,
                 "sed 's/^listen = 127\\.0\\.0\\.1:.*/listen = 127.0.0.1:%d/' '%s' > '%s'", *port,
                 it_env("PITCHEY_CONFIG"), conf);
        ck_assert_int_eq(system(cmd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char log[512];
            snprintf(log, sizeof log, "%s/logs/rooms2.log", it_env("PITCHEY_STACK_DIR"));
            freopen(log, "a", stdout);
            freopen(log, "a", stderr);
            const char *bin = getenv("PITCHEY_ROOMS");
            execl(bin, bin, "--config", conf, (char *)NULL);
            _exit(127);
        }
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d", *port);
        bool exited = false;
        for (int i = 0; i < 100 && !exited; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                exited = true;
                break;
            }
            if (metric(url, "pitchey_rooms_connections ") >= 0)
                return pid;
            it_sleep_ms(100);
        }
        if (!exited) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
    }
    ck_abort_msg("the second daemon did not start");
    return -1;
}

START_TEST(two_daemons_sigterm_and_node_timeout)
{
    PGconn *c = db();
    struct user a = make_user(c, "Node1"), b = make_user(c, "Node2");
    int port;
    pid_t pid = start_second(&port);
    char url2[128];
    snprintf(url2, sizeof url2, "ws://127.0.0.1:%d/ws", port);

    struct wsc *wa = ws_open(&a);
    json_object_put(join(wa, "lobby", -1));
    sync_ping(wa, false);
    /* Node 1 records A's presence after answering joined: wait for the
     * row, so node 2's snapshot has it (else A arrives as presence). */
    char aid[24];
    snprintf(aid, sizeof aid, "%" PRId64, a.id);
    const char *ap[] = { aid };
    double t0 = it_now();
    while (sql_int(c, "SELECT count(*) FROM room_members WHERE room = 'lobby' AND user_id = $1",
                   1, ap) < 1 &&
           it_now() - t0 < 10)
        it_sleep_ms(20);
    struct wsc *wb = ws_open_url(url2, &b);
    struct json_object *j = join(wb, "lobby", -1);
    ck_assert_int_ge(json_object_array_length(it_path(j, "members")), 2);
    json_object_put(j);
    struct json_object *p = wsc_expect(wa, "presence", T_MS, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(jint(p, "user.id"), b.id);
    ck_assert_str_eq(jstr(p, "action"), "join");
    json_object_put(p);
    /* Messages cross in both directions, in order. */
    send_msg(wb, "lobby", "{\"n\":1}");
    send_msg(wa, "lobby", "{\"n\":2}");
    struct wsc *both[] = { wa, wb };
    for (int k = 0; k < 2; k++) {
        struct json_object *m1 = wsc_expect(both[k], "message", T_MS, NULL);
        struct json_object *m2 = wsc_expect(both[k], "message", T_MS, NULL);
        ck_assert_ptr_nonnull(m1);
        ck_assert_ptr_nonnull(m2);
        ck_assert_int_eq(jint(m2, "seq"), jint(m1, "seq") + 1);
        json_object_put(m1);
        json_object_put(m2);
    }
    /* SIGTERM: clients get 1001, the daemon exits 0, B leaves. */
    kill(pid, SIGTERM);
    ck_assert_int_eq(wsc_wait_close(wb, T_MS), 1001);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    wsc_free(wb);
    p = wsc_expect(wa, "presence", T_MS, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(jstr(p, "action"), "leave");
    json_object_put(p);

    /* Killed outright: the others drop its members after node_timeout. */
    pid = start_second(&port);
    wb = ws_open_url(url2, &b);
    json_object_put(join(wb, "lobby", -1));
    p = wsc_expect(wa, "presence", T_MS, NULL);
    ck_assert_str_eq(jstr(p, "action"), "join");
    json_object_put(p);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    p = wsc_expect(wa, "presence", 20000, NULL);
    ck_assert_msg(p != NULL, "the killed node's member never left");
    ck_assert_str_eq(jstr(p, "action"), "leave");
    ck_assert_int_eq(jint(p, "user.id"), b.id);
    json_object_put(p);
    wsc_free(wb);
    wsc_free(wa);
    PQfinish(c);
}
END_TEST

START_TEST(apache_and_metrics)
{
    const char *ap = it_env("PITCHEY_TEST_APACHE_URL");
    char url[256];
    snprintf(url, sizeof url, "ws://%s/ws", ap + strlen("http://"));
    struct wsc *w = ws_open_url(url, NULL);
    sync_ping(w, true);
    json_object_put(join(w, "lobby", -1));
    wsc_free(w);
    struct it_response r;
    ck_assert_int_eq(it_request(it_env("PITCHEY_ROOMS_URL"), "GET", "/metrics", NULL, NULL, &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    const char *names[] = { "pitchey_rooms_connections ", "pitchey_rooms_rooms ",
                            "pitchey_rooms_members ", "pitchey_rooms_messages_in_total ",
                            "pitchey_rooms_messages_out_total ",
                            "pitchey_rooms_fanout_seconds_bucket{le=\"+Inf\"} ",
                            "pitchey_rooms_drops_total{reason=\"slow_reader\"} ",
                            "pitchey_rooms_backplane_lag_seconds " };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(r.body, names[i]) != NULL, "missing %s", names[i]);
    it_response_free(&r);
    /* /ws is the only WebSocket path. */
    int status = 0;
    char bad[200];
    snprintf(bad, sizeof bad, "%s", it_env("PITCHEY_ROOMS_URL") + strlen("http://"));
    snprintf(url, sizeof url, "ws://%s/elsewhere", bad);
    ck_assert_ptr_null(wsc_connect(url, NULL, 0, &status));
    ck_assert_int_eq(status, 404);
}
END_TEST

START_TEST(events_through_the_api)
{
    struct test_user tu;
    api_register("apiuser", "creator", &tu);
    int64_t uid = tu.id;
    const char *token = tu.token;
    struct user u;
    memset(&u, 0, sizeof u);
    snprintf(u.token, sizeof u.token, "%.43s", token);
    char uroom[64];
    snprintf(uroom, sizeof uroom, "user:%" PRId64, uid);
    struct wsc *list = ws_open(NULL), *mine = ws_open(&u);
    json_object_put(join(list, "pitches", -1));
    json_object_put(join(mine, uroom, -1));

    /* A refused change (422) commits nothing and announces nothing. */
    json_object_put(api_call("POST", "/api/pitches", token, "{\"title\":\"\"}", 422));
    struct json_object *p = api_call(
        "POST", "/api/pitches", token,
        "{\"title\":\"Live\",\"logline\":\"Seen live\",\"genre\":\"drama\"}", 201);
    int64_t id = jint(p, "id");
    json_object_put(p);
    struct json_object *e = wsc_expect(list, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "event"), "pitch.created");
    ck_assert_int_eq(jint(e, "data.id"), id);
    ck_assert_str_eq(jstr(e, "data.title"), "Live");
    ck_assert_ptr_null(it_path(e, "data.synopsis"));
    json_object_put(e);
    e = wsc_expect(mine, "event", T_MS, NULL);
    ck_assert_str_eq(jstr(e, "event"), "pitch.created");
    json_object_put(e);

    char proom[64], path[64];
    snprintf(proom, sizeof proom, "pitch:%" PRId64, id);
    snprintf(path, sizeof path, "/api/pitches/%" PRId64, id);
    struct wsc *pw = ws_open(NULL);
    json_object_put(join(pw, proom, -1));
    json_object_put(api_call("PUT", path, token,
                             "{\"title\":\"Edited\",\"logline\":\"Seen live\",\"genre\":\"drama\"}",
                             200));
    e = wsc_expect(pw, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "event"), "pitch.updated");
    ck_assert_str_eq(jstr(e, "data.title"), "Edited");
    json_object_put(e);
    /* A GET made on receiving it sees the new data (the cache was bumped). */
    struct it_response r;
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 200);
    struct json_object *g = it_json(&r);
    ck_assert_str_eq(jstr(g, "title"), "Edited");
    json_object_put(g);
    it_response_free(&r);

    json_object_put(api_call("DELETE", path, token, NULL, 204));
    e = wsc_expect(pw, "event", T_MS, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "event"), "pitch.deleted");
    ck_assert_int_eq(jint(e, "data.id"), id);
    json_object_put(e);
    ck_assert_int_eq(it_get(path, &r), 0);
    ck_assert_int_eq(r.status, 404);
    it_response_free(&r);

    /* Logout through the API closes the token's connection with 1008. */
    json_object_put(api_call("POST", "/api/auth/logout", token, NULL, 204));
    ck_assert_int_eq(wsc_wait_close(mine, 6000), 1008);
    wsc_free(mine);
    wsc_free(pw);
    wsc_free(list);
}
END_TEST

/* IT_ONLY=name[,name] runs only those tests (for debugging). */
static bool wanted(const char *name)
{
    const char *only = getenv("IT_ONLY");
    return !only || !*only || strstr(only, name) != NULL;
}
#define ADD(tc, fn)                                                             \
    do {                                                                        \
        if (wanted(#fn))                                                        \
            tcase_add_test(tc, fn);                                             \
    } while (0)

static Suite *rooms_suite(void)
{
    Suite *s = suite_create("rooms");
    TCase *t = tcase_create("ws");
    tcase_set_timeout(t, 120);
    ADD(t, ping_and_every_error);
    ADD(t, message_shape_presence_and_tabs);
    ADD(t, order_exactly_once_to_50);
    ADD(t, events_from_the_outbox);
    ADD(t, events_through_the_api);
    ADD(t, listener_cut_loses_nothing);
    ADD(t, revoked_and_unknown_tokens);
    ADD(t, oversized_and_malformed_frames);
    ADD(t, idle_timeout);
    ADD(t, sends_right_behind_a_slow_join_keep_their_order);
    ADD(t, storm_of_joins_costs_one_read_per_room);
    ADD(t, membership_follows_visibility);
    ADD(t, metrics_only_from_allowed_addresses);
    ADD(t, upgrade_only_from_configured_origins);
    ADD(t, apache_and_metrics);
    ADD(t, two_daemons_sigterm_and_node_timeout);
    ADD(t, slow_reader_closed_with_bounded_memory);
    ADD(t, idle_flood_bounded_and_others_served);
    ADD(t, since_replay_and_restart);
    suite_add_tcase(s, t);
    return s;
}

IT_MAIN(rooms_suite, extra_conf, NULL)
