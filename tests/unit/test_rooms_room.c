/* Unit: rooms, joins and visibility (src/rooms/room.c) without a server.
 *
 * Stand-ins: the conn functions room.c calls record what each fake client
 * was sent, and backplane_query() queues the query so a test answers it
 * with a result it builds (libpq's PQmakeEmptyPGresult/PQsetvalue).  The
 * linker takes these before conn.o and backplane.o of librooms.a. */
#include "pitchey-build.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "rooms/backplane.h"
#include "rooms/conn.h"
#include "rooms/daemon.h"
#include "rooms/ring.h"
#include "rooms/room.h"
#include "unit.h"

struct rooms_daemon daemon_state;
static struct config cfg;

/* ------------------------------------------------------- fake conns */

static int blocks, unblocks, publishes;

static void record(struct conn *c, const char *text, size_t len)
{
    buf_append(&c->rx, text, len);
    buf_append_char(&c->rx, '\n');
}

void conn_send_frame(struct conn *c, struct frame *f)
{
    if (conn_alive(c))
        record(c, (const char *)frame_payload(f), f->len);
}
void conn_send_text(struct conn *c, const char *text, size_t len)
{
    if (conn_alive(c))
        record(c, text, len);
}
void conn_send_error(struct conn *c, const char *code, const char *message)
{
    struct buf b = BUF_INIT;
    proto_build_error(&b, code, message);
    conn_send_text(c, b.data, b.len);
    buf_free(&b);
}
bool conn_alive(const struct conn *c)
{
    return c->wsi != NULL && !c->closing;
}
void conn_user(const struct conn *c, struct proto_user *u)
{
    u->id = c->user_id;
    u->name = c->user_name ? c->user_name : "";
    u->role = c->user_role ? c->user_role : "";
}
void conn_hold(struct conn *c)
{
    c->holds++;
}
void conn_release(struct conn *c)
{
    c->holds--;
}
void conn_input_block(struct conn *c)
{
    c->input_blocks++;
    blocks++;
}
void conn_input_unblock(struct conn *c)
{
    c->input_blocks--;
    unblocks++;
}
bool conn_rate_ok(struct conn *c)
{
    (void)c;
    return true;
}

static struct conn *fake_conn(int64_t user_id, const char *name)
{
    struct conn *c = calloc(1, sizeof *c);
    c->wsi = (struct lws *)c; /* never dereferenced by the stand-ins */
    c->holds = 1;
    buf_init(&c->rx);
    if (user_id) {
        c->auth = CONN_USER;
        c->user_id = user_id;
        c->user_name = strdup(name);
        c->user_role = strdup("creator");
    }
    return c;
}

static void conn_done(struct conn *c)
{
    room_conn_gone(c);
    c->wsi = NULL;
    ck_assert_int_eq(c->holds, 1); /* every hold a join took was given back */
    buf_free(&c->rx);
    free(c->user_name);
    free(c->user_role);
    free(c);
}

/* What c was sent since the last call (one frame a line); resets it. */
static char *sent(struct conn *c)
{
    static char out[16384];
    snprintf(out, sizeof out, "%s", c->rx.data ? c->rx.data : "");
    buf_reset(&c->rx);
    return out;
}

/* ------------------------------------------------------ fake backplane */

struct pending {
    char sql[64];
    pg_result_fn fn;
    void *arg;
};
static struct pending queries[16];
static int nqueries;

int backplane_query(const char *sql, int nparams, const char *const *params, pg_result_fn fn,
                    void *arg)
{
    (void)nparams;
    (void)params;
    ck_assert_int_lt(nqueries, 16);
    snprintf(queries[nqueries].sql, sizeof queries[nqueries].sql, "%s", sql);
    queries[nqueries].fn = fn;
    queries[nqueries].arg = arg;
    nqueries++;
    return 0;
}

void backplane_publish_presence(const char *room, int64_t user_id, bool join, pg_result_fn fn,
                                void *arg)
{
    (void)room, (void)user_id, (void)join, (void)fn, (void)arg;
    publishes++;
}

/* A result of 8 text columns; cells row by row, NULL for SQL NULL. */
static PGresult *make_result(int nrows, const char *const *cells)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[8];
    memset(att, 0, sizeof att);
    for (int i = 0; i < 8; i++) {
        att[i].name = (char *)"c";
        att[i].typid = 25;
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    ck_assert(PQsetResultAttrs(r, 8, att));
    for (int row = 0; row < nrows; row++)
        for (int col = 0; col < 8; col++) {
            const char *v = cells[row * 8 + col];
            ck_assert(PQsetvalue(r, row, col, (char *)v, v ? (int)strlen(v) : -1));
        }
    return r;
}

/* Answers the oldest query with res (then frees it). */
static void answer(PGresult *res)
{
    ck_assert_int_gt(nqueries, 0);
    struct pending q = queries[0];
    memmove(queries, queries + 1, sizeof queries[0] * (size_t)(--nqueries));
    q.fn(res, q.arg);
    if (res)
        PQclear(res);
}

static void join(struct conn *c, const char *room, int64_t since)
{
    struct proto_request req;
    memset(&req, 0, sizeof req);
    req.type = PROTO_JOIN;
    snprintf(req.room, sizeof req.room, "%s", room);
    req.has_since = since >= 0;
    req.since = since;
    room_join(c, &req);
}

static void setup(void)
{
    config_defaults(&cfg);
    cfg.rooms.history = 4;
    daemon_state.cfg = &cfg;
    daemon_state.node_id = 1;
    ring_set_cap(1 << 20);
    nqueries = blocks = unblocks = publishes = 0;
}

static void teardown(void)
{
    config_free(&cfg);
}

#define M(seq) "m", seq, "70", "Mo", "creator", "{\"n\": " seq "}", "2026-12-01T00:00:00.000Z", NULL

/* ---------------------------------------------------------------- tests */

START_TEST(one_read_for_every_join_of_a_cold_room)
{
    struct conn *a = fake_conn(0, NULL), *b = fake_conn(0, NULL), *u = fake_conn(7, "Ada");
    join(a, "lobby", -1);
    join(b, "lobby", 3);
    join(u, "lobby", 5);
    ck_assert_int_eq(nqueries, 1); /* one snapshot for three joiners */
    ck_assert_int_eq(blocks, 3);   /* their later frames wait */
    ck_assert_str_eq(sent(a), "");
    /* seq 6; history 4 kept: 3..6 (newest first); Bo is on node 99. */
    const char *cells[] = { "s", "6", NULL, NULL, NULL, NULL, NULL, NULL,
                            M("6"), M("5"), M("4"), M("3"),
                            "u", NULL, "9", "Bo", "investor", NULL, NULL, "99" };
    answer(make_result(6, cells));
    ck_assert_int_eq(unblocks, 3);
    ck_assert_int_eq(nqueries, 0);
    /* a: joined (Bo listed), then hears Ada, answered after it, arrive. */
    ck_assert_str_eq(sent(a), "{\"type\":\"joined\",\"room\":\"lobby\",\"seq\":6,\"members\":"
                              "[{\"id\":9,\"name\":\"Bo\",\"role\":\"investor\"}],"
                              "\"recovered\":false}\n"
                              "{\"type\":\"presence\",\"room\":\"lobby\",\"action\":\"join\","
                              "\"user\":{\"id\":7,\"name\":\"Ada\",\"role\":\"creator\"}}\n");
    /* since 3: joined first, then 4..6 from the snapshot, recovered. */
    char *t = sent(b);
    ck_assert_ptr_nonnull(strstr(t, "\"recovered\":true}\n{\"type\":\"message\",\"room\":\"lobby\","
                                    "\"seq\":4,"));
    ck_assert_ptr_nonnull(strstr(t, "\"seq\":6,"));
    ck_assert_ptr_null(strstr(t, "\"seq\":3,"));
    ck_assert_ptr_nonnull(strstr(t, "\"action\":\"join\",\"user\":{\"id\":7"));
    /* Ada: listed herself, one more message, presence published. */
    t = sent(u);
    ck_assert_ptr_nonnull(strstr(t, "{\"id\":7,\"name\":\"Ada\",\"role\":\"creator\"}"));
    ck_assert_ptr_nonnull(strstr(t, "\"seq\":6,\"from\""));
    ck_assert_ptr_null(strstr(t, "\"seq\":5,\"from\""));
    ck_assert_int_eq(publishes, 1);

    /* A later joiner is answered from memory; since 1 is older than what
     * is kept: not recovered, the kept ones replayed. */
    struct conn *late = fake_conn(0, NULL);
    join(late, "lobby", 1);
    ck_assert_int_eq(nqueries, 0);
    t = sent(late);
    ck_assert_ptr_nonnull(strstr(t, "\"seq\":6,\"members\":[{\"id\":"));
    ck_assert_ptr_nonnull(strstr(t, "\"recovered\":false}\n"));
    ck_assert_ptr_nonnull(strstr(t, "\"seq\":3,\"from\""));
    ck_assert_int_eq(room_count(), 1);
    ck_assert_int_eq(room_member_count(), 4);
    conn_done(late);
    conn_done(u);
    conn_done(b);
    conn_done(a);
    ck_assert_int_eq(room_count(), 0);
}
END_TEST

START_TEST(a_failed_read_refuses_every_waiting_join)
{
    struct conn *a = fake_conn(0, NULL), *b = fake_conn(0, NULL);
    join(a, "lobby", -1);
    join(b, "lobby", -1);
    answer(NULL); /* the query connection was lost */
    ck_assert_ptr_nonnull(strstr(sent(a), "\"code\":\"unavailable\""));
    ck_assert_ptr_nonnull(strstr(sent(b), "\"code\":\"unavailable\""));
    ck_assert_int_eq(unblocks, 2);
    ck_assert_int_eq(room_count(), 0);
    conn_done(a);
    conn_done(b);
}
END_TEST

START_TEST(leaving_while_waiting)
{
    struct conn *a = fake_conn(0, NULL), *b = fake_conn(0, NULL);
    join(a, "lobby", -1);
    join(b, "lobby", -1);
    conn_done(a); /* gone before the snapshot came */
    const char *cells[] = { "s", "0", NULL, NULL, NULL, NULL, NULL, NULL };
    answer(make_result(1, cells));
    ck_assert_ptr_nonnull(strstr(sent(b), "\"type\":\"joined\""));
    ck_assert_int_eq(room_member_count(), 1);
    conn_done(b);
    ck_assert_int_eq(room_count(), 0);
}
END_TEST

START_TEST(membership_follows_visibility)
{
    struct conn *own = fake_conn(7, "Owner"), *oth = fake_conn(8, "Other"),
                *anon = fake_conn(0, NULL);
    join(own, "pitch:42", -1);
    join(oth, "pitch:42", -1);
    join(anon, "pitch:42", -1);
    const char *cells[] = { "s", "0", "7", "published", NULL, NULL, NULL, NULL };
    answer(make_result(1, cells));
    ck_assert_int_eq(room_member_count(), 3);
    sent(own), sent(oth), sent(anon);

    room_deliver_event("pitch.updated", 42, 7, false, "{\"id\":42}");
    ck_assert_ptr_nonnull(strstr(sent(own), "\"event\":\"pitch.updated\""));
    char *t = sent(oth);
    ck_assert_ptr_null(strstr(t, "\"event\""));
    ck_assert_ptr_nonnull(strstr(t, "\"code\":\"not_found\""));
    ck_assert_ptr_nonnull(strstr(t, "pitch:42"));
    ck_assert_ptr_nonnull(strstr(sent(anon), "\"code\":\"not_found\""));
    ck_assert_int_eq(oth->nrooms, 0);
    ck_assert_int_eq(anon->nrooms, 0);
    ck_assert_int_eq(own->nrooms, 1);
    /* A draft: joining again is refused, without asking Postgres. */
    join(oth, "pitch:42", -1);
    ck_assert_int_eq(nqueries, 0);
    ck_assert_ptr_nonnull(strstr(sent(oth), "\"code\":\"not_found\""));
    /* Published again, then deleted: everyone goes, the owner too. */
    room_deliver_event("pitch.updated", 42, 7, true, "{\"id\":42}");
    join(oth, "pitch:42", -1);
    ck_assert_ptr_nonnull(strstr(sent(oth), "\"type\":\"joined\""));
    sent(own);
    room_deliver_event("pitch.deleted", 42, 7, true, "{\"id\":42}");
    t = sent(own);
    ck_assert_ptr_nonnull(strstr(t, "\"event\":\"pitch.deleted\""));
    ck_assert_ptr_nonnull(strstr(t, "\"code\":\"not_found\""));
    ck_assert_ptr_nonnull(strstr(sent(oth), "\"code\":\"not_found\""));
    ck_assert_int_eq(room_count(), 0);
    conn_done(own);
    conn_done(oth);
    conn_done(anon);
}
END_TEST

static Suite *room_suite(void)
{
    Suite *s = suite_create("rooms_room");
    TCase *t = tcase_create("room");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, one_read_for_every_join_of_a_cold_room);
    tcase_add_test(t, a_failed_read_refuses_every_waiting_join);
    tcase_add_test(t, leaving_while_waiting);
    tcase_add_test(t, membership_follows_visibility);
    suite_add_tcase(s, t);
    return s;
}

UNIT_MAIN(room_suite)
