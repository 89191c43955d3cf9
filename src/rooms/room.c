/* room: membership, fan-out, replay and presence; see room.h.
 *
 * Why joins line up with fan-out: every query (join reads, fetches) runs
 * on one connection, one after another.  A fetch that completed before a
 * join's answer ran on an older snapshot, so the room's last_seq is never
 * above the seq S the join read.  The new member is told S, replayed what
 * it asked for up to S, and from then on gets every fanned-out seq > S. */
#include "pitchey-build.h"

#include "rooms/room.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "rooms/backplane.h"
#include "rooms/daemon.h"
#include "rooms/frame.h"
#include "rooms/metrics.h"
#include "rooms/ring.h"

#define FETCH_BATCH 500
#define NBUCKETS 256

struct member {
    struct conn *conn;
    struct room *room;
    bool live;
    bool waiting; /* on its room's waiting list until the room is loaded */
    bool dead;    /* left while its own join query was in flight */
    int64_t from_seq;
    bool has_since;
    int64_t since;
    struct member *room_prev, *room_next;
    struct member *conn_next;
    struct member *wait_next;
};

/* A user present in the room somewhere in the cluster, with the nodes
 * holding them. */
struct present {
    int64_t id;
    char *name;
    char *role;
    int64_t *nodes;
    int nnodes;
    struct present *next;
};

/* Local authenticated connections per user, for per-user presence. */
struct local {
    int64_t id;
    int conns;
    struct local *next;
};

struct room {
    char *name;
    struct proto_room info;
    struct member *members;
    int nmembers;
    bool seq_known;
    bool loading; /* the room's snapshot query is in flight */
    struct member *wait_head, *wait_tail; /* joins waiting for it, in order */
    /* pitch:{id} only: who may see it, as of the newest snapshot or event. */
    bool pitch_found, pitch_published;
    int64_t pitch_owner;
    int64_t last_seq;
    bool fetch_inflight, fetch_dirty;
    struct ring *ring;
    struct present *present;
    struct local *locals;
    struct room *hnext;
};

static struct room *buckets[NBUCKETS];
static int nrooms, nmembers_total;
static bool publishing = true;

static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static struct room *room_find(const char *name)
{
    for (struct room *r = buckets[hash_name(name)]; r; r = r->hnext)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

static struct room *room_get(const char *name)
{
    struct room *r = room_find(name);
    if (r)
        return r;
    r = xcalloc(1, sizeof *r);
    r->name = xstrdup(name);
    proto_parse_room(name, &r->info);
    r->ring = ring_new();
    unsigned h = hash_name(name);
    r->hnext = buckets[h];
    buckets[h] = r;
    nrooms++;
    metrics_gauge_rooms(nrooms);
    return r;
}

static void present_free(struct present *p)
{
    free(p->name);
    free(p->role);
    free(p->nodes);
    free(p);
}

static void room_free(struct room *r)
{
    struct room **pp = &buckets[hash_name(r->name)];
    while (*pp != r)
        pp = &(*pp)->hnext;
    *pp = r->hnext;
    ring_free(r->ring);
    while (r->present) {
        struct present *n = r->present->next;
        present_free(r->present);
        r->present = n;
    }
    while (r->locals) {
        struct local *n = r->locals->next;
        free(r->locals);
        r->locals = n;
    }
    free(r->name);
    free(r);
    nrooms--;
    metrics_gauge_rooms(nrooms);
}

int room_count(void)
{
    return nrooms;
}

int room_member_count(void)
{
    return nmembers_total;
}

/* ------------------------------------------------------------ presence */

static struct present *present_find(struct room *r, int64_t id)
{
    for (struct present *p = r->present; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

/* Adds node to the user's set; true when the user was absent before. */
static bool present_add(struct room *r, int64_t node, const struct proto_user *u)
{
    struct present *p = present_find(r, u->id);
    if (!p) {
        p = xcalloc(1, sizeof *p);
        p->id = u->id;
        p->name = xstrdup(u->name);
        p->role = xstrdup(u->role);
        p->next = r->present;
        r->present = p;
    }
    for (int i = 0; i < p->nnodes; i++)
        if (p->nodes[i] == node)
            return false;
    p->nodes = xrealloc(p->nodes, sizeof(int64_t) * (size_t)(p->nnodes + 1));
    p->nodes[p->nnodes++] = node;
    return p->nnodes == 1;
}

/* Removes node from the user's set; true when the user is now gone. */
static bool present_remove(struct room *r, int64_t node, int64_t user_id)
{
    struct present **pp = &r->present;
    while (*pp && (*pp)->id != user_id)
        pp = &(*pp)->next;
    struct present *p = *pp;
    if (!p)
        return false;
    for (int i = 0; i < p->nnodes; i++)
        if (p->nodes[i] == node) {
            p->nodes[i] = p->nodes[--p->nnodes];
            break;
        }
    if (p->nnodes > 0)
        return false;
    *pp = p->next;
    present_free(p);
    return true;
}

static void announce(struct room *r, bool join, const struct proto_user *u)
{
    struct buf b = BUF_INIT;
    proto_build_presence(&b, r->name, join, u);
    struct frame *f = frame_new(b.data, b.len, 0);
    buf_free(&b);
    for (struct member *m = r->members; m; m = m->room_next)
        if (m->live && !(m->conn->auth == CONN_USER && m->conn->user_id == u->id))
            conn_send_frame(m->conn, f);
    frame_unref(f);
}

void room_notify_presence(int64_t node, const char *name, bool join, const struct proto_user *u)
{
    struct room *r = room_find(name);
    /* This node's own members are known here first-hand (local_add). */
    if (!r || node == daemon_state.node_id)
        return;
    bool changed = join ? present_add(r, node, u) : present_remove(r, node, u->id);
    if (changed)
        announce(r, join, u);
}

static void publish_done(PGresult *res, void *arg)
{
    (void)res;
    (void)arg;
}

static void publish(const char *room, int64_t user_id, bool join)
{
    if (!publishing)
        return;
    backplane_publish_presence(room, user_id, join, publish_done, NULL);
}

static struct local **local_find(struct room *r, int64_t id)
{
    struct local **pp = &r->locals;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

/* A local user's first connection in r: known here at once (so the next
 * joiner's `joined` lists them and the members here hear of it now), and
 * published for the other nodes. */
static void local_add(struct room *r, const struct conn *c)
{
    struct local **pp = local_find(r, c->user_id);
    if (!*pp) {
        *pp = xcalloc(1, sizeof **pp);
        (*pp)->id = c->user_id;
    }
    if ((*pp)->conns++ == 0) {
        publish(r->name, c->user_id, true);
        struct proto_user u;
        conn_user(c, &u);
        if (present_add(r, daemon_state.node_id, &u))
            announce(r, true, &u);
    }
}

static void local_remove(struct room *r, int64_t id)
{
    struct local **pp = local_find(r, id);
    struct local *l = *pp;
    if (!l)
        return;
    if (--l->conns == 0) {
        *pp = l->next;
        free(l);
        publish(r->name, id, false);
        struct present *p = present_find(r, id);
        if (p) {
            struct proto_user u = { id, xstrdup(p->name), xstrdup(p->role) };
            if (present_remove(r, daemon_state.node_id, id))
                announce(r, false, &u);
            free((char *)u.name);
            free((char *)u.role);
        }
    }
}

void room_republish_presence(void)
{
    for (int i = 0; i < NBUCKETS; i++)
        for (struct room *r = buckets[i]; r; r = r->hnext)
            for (struct local *l = r->locals; l; l = l->next)
                publish(r->name, l->id, true);
}

void room_stop_publishing(void)
{
    publishing = false;
}

/* ------------------------------------------------------------- members */

static void member_attach(struct member *m, struct conn *c, struct room *r)
{
    m->conn = c;
    m->room = r;
    m->room_next = r->members;
    if (r->members)
        r->members->room_prev = m;
    r->members = m;
    r->nmembers++;
    m->conn_next = c->members;
    c->members = m;
    c->nrooms++;
    nmembers_total++;
    metrics_gauge_members(nmembers_total);
}

/* Unlinks m from its room and its connection; frees the room when empty.
 * The struct itself is freed by the caller (or by the pending join). */
static void member_detach(struct member *m)
{
    struct room *r = m->room;
    struct conn *c = m->conn;
    if (!r)
        return;
    if (m->room_prev)
        m->room_prev->room_next = m->room_next;
    else
        r->members = m->room_next;
    if (m->room_next)
        m->room_next->room_prev = m->room_prev;
    r->nmembers--;
    struct member **pp = &c->members;
    while (*pp && *pp != m)
        pp = &(*pp)->conn_next;
    if (*pp)
        *pp = m->conn_next;
    c->nrooms--;
    nmembers_total--;
    metrics_gauge_members(nmembers_total);
    if (m->live && c->auth == CONN_USER)
        local_remove(r, c->user_id);
    m->room = NULL;
    m->live = false;
    if (r->nmembers == 0)
        room_free(r);
}

static struct member *member_of(struct conn *c, const char *name)
{
    for (struct member *m = c->members; m; m = m->conn_next)
        if (m->room && strcmp(m->room->name, name) == 0)
            return m;
    return NULL;
}

/* -------------------------------------------------------------- fetch */

static void fetch_send(struct room *r);

static void fetch_done(PGresult *res, void *arg)
{
    char *name = arg;
    struct room *r = room_find(name);
    free(name);
    if (!r)
        return;
    r->fetch_inflight = false;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The query connection failed; its reconnect resyncs every room. */
        r->fetch_dirty = true;
        return;
    }
    int n = PQntuples(res);
    int64_t now_us = clock_wall_us();
    for (int i = 0; i < n; i++) {
        int64_t seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (seq <= r->last_seq)
            continue;
        struct proto_user from = { strtoll(PQgetvalue(res, i, 1), NULL, 10),
                                   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3) };
        struct buf b = BUF_INIT;
        proto_build_message(&b, r->name, seq, &from, PQgetvalue(res, i, 4),
                            PQgetvalue(res, i, 5));
        struct frame *f = frame_new(b.data, b.len, seq);
        buf_free(&b);
        ring_push(r->ring, f, (size_t)daemon_state.cfg->rooms.history);
        for (struct member *m = r->members; m; m = m->room_next)
            if (m->live && seq > m->from_seq)
                conn_send_frame(m->conn, f);
        frame_unref(f);
        r->last_seq = seq;
        int64_t created_us = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        double lag = (double)(now_us - created_us) / 1e6;
        metrics_observe_fanout(lag < 0 ? 0 : lag);
    }
    if (n >= FETCH_BATCH)
        r->fetch_dirty = true;
    if (r->fetch_dirty)
        fetch_send(r);
}

static void fetch_send(struct room *r)
{
    if (!r->seq_known || r->fetch_inflight) {
        r->fetch_dirty = true;
        return;
    }
    char last[24];
    snprintf(last, sizeof last, "%" PRId64, r->last_seq);
    const char *params[] = { r->name, last };
    char *name = xstrdup(r->name);
    if (backplane_query("SELECT m.seq, m.user_id, coalesce(u.name, ''), coalesce(u.role, ''), "
                        "m.data::text, " BACKPLANE_TS("m.created_at") ", "
                        "(extract(epoch FROM m.created_at) * 1000000)::bigint "
                        "FROM room_messages m LEFT JOIN users u ON u.id = m.user_id "
                        "WHERE m.room = $1 AND m.seq > $2 ORDER BY m.seq LIMIT 500",
                        2, params, fetch_done, name) != 0) {
        free(name);
        r->fetch_dirty = true;
        return;
    }
    r->fetch_inflight = true;
    r->fetch_dirty = false;
}

void room_notify_message(const char *name)
{
    struct room *r = room_find(name);
    if (r)
        fetch_send(r);
}

/* ------------------------------------------------------- presence resync */

static void resync_done(PGresult *res, void *arg)
{
    char *name = arg;
    struct room *r = room_find(name);
    free(name);
    if (!r || !res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    /* Users no longer listed anywhere leave; newly listed ones join.  Users
     * connected here stay whatever the table says: this node knows them
     * first-hand, and their row may be written after this read. */
    int n = PQntuples(res);
    struct present *p = r->present, *next;
    for (; p; p = next) {
        next = p->next;
        bool listed = *local_find(r, p->id) != NULL;
        for (int i = 0; i < n && !listed; i++)
            listed = strtoll(PQgetvalue(res, i, 1), NULL, 10) == p->id;
        if (!listed) {
            struct present **pp = &r->present;
            while (*pp != p)
                pp = &(*pp)->next;
            *pp = p->next;
            struct proto_user u = { p->id, p->name, p->role };
            announce(r, false, &u);
            present_free(p);
        }
    }
    for (int i = 0; i < n; i++) {
        struct proto_user u = { strtoll(PQgetvalue(res, i, 1), NULL, 10), PQgetvalue(res, i, 2),
                                PQgetvalue(res, i, 3) };
        if (present_add(r, strtoll(PQgetvalue(res, i, 0), NULL, 10), &u))
            announce(r, true, &u);
    }
}

static void resync_presence(struct room *r)
{
    const char *params[] = { r->name };
    char *name = xstrdup(r->name);
    if (backplane_query("SELECT rm.node_id, rm.user_id, u.name, u.role FROM room_members rm "
                        "JOIN users u ON u.id = rm.user_id WHERE rm.room = $1",
                        1, params, resync_done, name) != 0)
        free(name);
}

void room_resync_all(void)
{
    for (int i = 0; i < NBUCKETS; i++)
        for (struct room *r = buckets[i]; r; r = r->hnext) {
            fetch_send(r);
            resync_presence(r);
        }
}

/* --------------------------------------------------------------- join
 *
 * A join is answered from memory once this node follows the room (its
 * latest seq, its presence, its pitch's visibility and a ring of recent
 * messages): no Postgres work per joiner.  The first join of a room sends
 * one snapshot query; every join that arrives meanwhile waits for that
 * same answer.  Only a `since` older than the ring (but maybe still in
 * Postgres) costs a query of its own (join_query()).  Meanwhile the
 * connection's later frames wait (conn_input_block), so they take effect
 * after the join, in the order they were sent. */

struct replay {
    struct conn *conn;
    int64_t count;
};

static void replay_frame(struct frame *f, void *arg)
{
    struct replay *rp = arg;
    conn_send_frame(rp->conn, f);
    rp->count++;
}

static void join_fail(struct member *m, const char *code, const char *message)
{
    struct conn *c = m->conn;
    member_detach(m);
    if (conn_alive(c))
        conn_send_error(c, code, message);
}

static bool pitch_visible_to(const struct room *r, const struct conn *c)
{
    if (r->info.kind != ROOM_PITCH)
        return true;
    return r->pitch_found &&
           (r->pitch_published || (c->auth == CONN_USER && c->user_id == r->pitch_owner));
}

/* joined's text up to the members' closing bracket. */
static void build_joined(struct buf *b, struct room *r, struct conn *c, int64_t seq)
{
    proto_build_joined_begin(b, r->name, seq);
    bool first = true, self_listed = false;
    for (struct present *p = r->present; p; p = p->next) {
        struct proto_user u = { p->id, p->name, p->role };
        if (!first)
            buf_append_char(b, ',');
        proto_append_user(b, &u);
        first = false;
        if (c->auth == CONN_USER && p->id == c->user_id)
            self_listed = true;
    }
    if (c->auth == CONN_USER && !self_listed) {
        struct proto_user u;
        conn_user(c, &u);
        if (!first)
            buf_append_char(b, ',');
        proto_append_user(b, &u);
    }
}

static void member_go_live(struct room *r, struct member *m, int64_t seq)
{
    m->live = true;
    m->from_seq = seq;
    if (m->conn->auth == CONN_USER)
        local_add(r, m->conn);
}

static void join_query(struct member *m);

/* Answers a join from the room's memory (the room follows its seq).
 * Returns false when the replay needs Postgres (join_query() instead). */
static bool join_answer(struct room *r, struct member *m)
{
    struct conn *c = m->conn;
    if (!pitch_visible_to(r, c)) {
        join_fail(m, "not_found", "no such pitch");
        return true;
    }
    int64_t seq = r->last_seq;
    int64_t history = daemon_state.cfg->rooms.history;
    int64_t from = seq, floor = seq - history > 0 ? seq - history : 0;
    bool recovered = false;
    if (m->has_since && m->since <= seq) {
        /* Postgres keeps `history` messages: older ones are gone anyway. */
        from = m->since > floor ? m->since : floor;
        if (!ring_covers(r->ring, from, seq))
            return false;
        recovered = m->since >= floor;
    }
    struct buf b = BUF_INIT;
    build_joined(&b, r, c, seq);
    proto_build_joined_end(&b, recovered);
    conn_send_text(c, b.data, b.len);
    buf_free(&b);
    if (from < seq) {
        struct replay rp = { c, 0 };
        ring_each(r->ring, from, seq, replay_frame, &rp);
    }
    member_go_live(r, m, seq);
    return true;
}

/* Builds the message frame of a history row (seq, user_id, name, role,
 * data, ts at columns first..first+5). */
static struct frame *row_frame(const struct room *r, PGresult *res, int i, int first)
{
    int64_t s = strtoll(PQgetvalue(res, i, first), NULL, 10);
    struct proto_user from = { strtoll(PQgetvalue(res, i, first + 1), NULL, 10),
                               PQgetvalue(res, i, first + 2), PQgetvalue(res, i, first + 3) };
    struct buf mb = BUF_INIT;
    proto_build_message(&mb, r->name, s, &from, PQgetvalue(res, i, first + 4),
                        PQgetvalue(res, i, first + 5));
    struct frame *f = frame_new(mb.data, mb.len, s);
    buf_free(&mb);
    return f;
}

/* Reads the pitch's visibility from a snapshot row (owner, status). */
static void take_pitch(struct room *r, PGresult *res, int i, int col)
{
    r->pitch_found = !PQgetisnull(res, i, col);
    if (r->pitch_found) {
        r->pitch_owner = strtoll(PQgetvalue(res, i, col), NULL, 10);
        r->pitch_published = strcmp(PQgetvalue(res, i, col + 1), "published") == 0;
    }
}

static struct member *wait_pop(struct room *r)
{
    struct member *m = r->wait_head;
    if (m) {
        r->wait_head = m->wait_next;
        if (!r->wait_head)
            r->wait_tail = NULL;
        m->wait_next = NULL;
        m->waiting = false;
    }
    return m;
}

static void wait_unlink(struct room *r, struct member *m)
{
    struct member **pp = &r->wait_head, *prev = NULL;
    while (*pp && *pp != m) {
        prev = *pp;
        pp = &(*pp)->wait_next;
    }
    if (!*pp)
        return;
    *pp = m->wait_next;
    if (r->wait_tail == m)
        r->wait_tail = prev;
    m->wait_next = NULL;
    m->waiting = false;
}

/* The snapshot of a room: ('s', seq, pitch owner, pitch status), the last
 * `history` messages up to seq, and its members on every node. */
static void load_done(PGresult *res, void *arg)
{
    char *name = arg;
    struct room *r = room_find(name);
    free(name);
    if (!r || !r->loading)
        return; /* everyone left; the room went (or is another one now) */
    r->loading = false;
    bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok && res)
        log_error("component=rooms event=join_failed room=%s error=\"%s\"", r->name,
                  PQresultErrorMessage(res));
    /* Every waiting member keeps r alive (it is attached); r can only go
     * when the last of them is answered, so look it up again each time. */
    if (ok) {
        int n = PQntuples(res);
        int64_t seq = 0;
        for (int i = 0; i < n; i++)
            if (PQgetvalue(res, i, 0)[0] == 's') {
                seq = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                take_pitch(r, res, i, 2);
            }
        if (!r->seq_known) {
            r->seq_known = true;
            r->last_seq = seq;
            /* Rows come newest first: push them oldest first. */
            size_t history = (size_t)daemon_state.cfg->rooms.history;
            for (int i = n - 1; i >= 0; i--) {
                if (PQgetvalue(res, i, 0)[0] != 'm')
                    continue;
                struct frame *f = row_frame(r, res, i, 1);
                ring_push(r->ring, f, history);
                frame_unref(f);
            }
        }
        for (int i = 0; i < n; i++) {
            if (PQgetvalue(res, i, 0)[0] != 'u')
                continue;
            struct proto_user u = { strtoll(PQgetvalue(res, i, 2), NULL, 10),
                                    PQgetvalue(res, i, 3), PQgetvalue(res, i, 4) };
            present_add(r, strtoll(PQgetvalue(res, i, 7), NULL, 10), &u);
        }
    }
    char *keep = xstrdup(r->name);
    struct member *m;
    while ((r = room_find(keep)) != NULL && (m = wait_pop(r)) != NULL) {
        struct conn *c = m->conn;
        if (!ok) {
            join_fail(m, "unavailable", "the database cannot be reached");
            free(m);
        } else if (!join_answer(r, m)) {
            join_query(m); /* keeps the hold and the input block */
            continue;
        } else if (!m->room) {
            free(m); /* refused */
        }
        conn_input_unblock(c);
        conn_release(c);
    }
    /* NOTIFYs that came while the room was cold. */
    if ((r = room_find(keep)) != NULL && r->seq_known && r->fetch_dirty)
        fetch_send(r);
    free(keep);
}

static void load_send(struct room *r)
{
    char pitch[24], limit[24];
    snprintf(pitch, sizeof pitch, "%" PRId64, r->info.kind == ROOM_PITCH ? r->info.id : 0);
    snprintf(limit, sizeof limit, "%d", daemon_state.cfg->rooms.history);
    const char *params[] = { r->name, pitch, limit };
    char *name = xstrdup(r->name);
    if (backplane_query(
            "SELECT 's', coalesce((SELECT seq FROM rooms WHERE name = $1), 0), "
            "  p.owner_id, p.status, NULL, NULL, NULL, NULL::bigint "
            "FROM (SELECT 1) one LEFT JOIN pitches p ON p.id = $2 "
            "UNION ALL "
            "SELECT 'm', x.seq, x.user_id, x.name, x.role, x.data, x.ts, NULL FROM ("
            "  SELECT m.seq, m.user_id, coalesce(u.name, '') AS name, coalesce(u.role, '') AS role,"
            "    m.data::text AS data, " BACKPLANE_TS("m.created_at") " AS ts "
            "  FROM room_messages m LEFT JOIN users u ON u.id = m.user_id "
            "  WHERE m.room = $1 "
            "    AND m.seq <= coalesce((SELECT seq FROM rooms WHERE name = $1), 0) "
            "  ORDER BY m.seq DESC LIMIT $3) x "
            "UNION ALL "
            "SELECT 'u', NULL, rm.user_id, u.name, u.role, NULL, NULL, rm.node_id "
            "FROM room_members rm JOIN users u ON u.id = rm.user_id WHERE rm.room = $1 "
            "ORDER BY 1 DESC, 2 DESC",
            3, params, load_done, name) != 0) {
        free(name);
        return;
    }
    r->loading = true;
}

/* One joiner's own read: the room's seq, its pitch and the messages after
 * `since` (at most `history`), for a replay the ring cannot cover. */
static void join_done(PGresult *res, void *arg)
{
    struct member *m = arg;
    struct conn *c = m->conn;
    if (m->dead) {
        conn_input_unblock(c);
        conn_release(c);
        free(m);
        return;
    }
    struct room *r = m->room;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res)
            log_error("component=rooms event=join_failed room=%s error=\"%s\"", r->name,
                      PQresultErrorMessage(res));
        join_fail(m, "unavailable", "the database cannot be reached");
        goto out;
    }
    int n = PQntuples(res);
    int64_t seq = 0;
    for (int i = 0; i < n; i++)
        if (PQgetvalue(res, i, 0)[0] == 's') {
            seq = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            /* Newer than anything applied before it (one FIFO connection). */
            take_pitch(r, res, i, 2);
        }
    if (!pitch_visible_to(r, c)) {
        join_fail(m, "not_found", "no such pitch");
        goto out;
    }
    /* A fetch answered before this query ran on an older snapshot, so the
     * room's last_seq is at most seq: from seq on, fan-out serves m. */
    bool db_ok = true;
    int64_t expect = m->since + 1;
    int nrows = 0;
    struct frame **rows = xcalloc((size_t)n + 1, sizeof *rows);
    for (int i = n - 1; i >= 0; i--) {
        if (PQgetvalue(res, i, 0)[0] != 'm')
            continue;
        struct frame *f = row_frame(r, res, i, 1);
        if (f->seq != expect)
            db_ok = false;
        expect = f->seq + 1;
        rows[nrows++] = f;
    }
    if (expect != seq + 1)
        db_ok = false;
    struct buf b = BUF_INIT;
    build_joined(&b, r, c, seq);
    proto_build_joined_end(&b, db_ok);
    conn_send_text(c, b.data, b.len);
    buf_free(&b);
    for (int i = 0; i < nrows; i++) {
        conn_send_frame(c, rows[i]);
        frame_unref(rows[i]);
    }
    free(rows);
    member_go_live(r, m, seq);
out:
    if (!m->room)
        free(m); /* refused: no longer attached */
    conn_input_unblock(c);
    conn_release(c);
}

/* m holds a conn reference and an input block, both released by
 * join_done. */
static void join_query(struct member *m)
{
    struct conn *c = m->conn;
    struct room *r = m->room;
    char pitch[24], from[24], limit[24];
    snprintf(pitch, sizeof pitch, "%" PRId64, r->info.kind == ROOM_PITCH ? r->info.id : 0);
    snprintf(from, sizeof from, "%" PRId64, m->since);
    snprintf(limit, sizeof limit, "%d", daemon_state.cfg->rooms.history);
    const char *params[] = { r->name, pitch, from, limit };
    if (backplane_query(
            "SELECT 's', coalesce((SELECT seq FROM rooms WHERE name = $1), 0), "
            "  p.owner_id, p.status, NULL, NULL, NULL "
            "FROM (SELECT 1) one LEFT JOIN pitches p ON p.id = $2 "
            "UNION ALL "
            "SELECT 'm', x.seq, x.user_id, x.name, x.role, x.data, x.ts FROM ("
            "  SELECT m.seq, m.user_id, coalesce(u.name, '') AS name, coalesce(u.role, '') AS role,"
            "    m.data::text AS data, " BACKPLANE_TS("m.created_at") " AS ts "
            "  FROM room_messages m LEFT JOIN users u ON u.id = m.user_id "
            "  WHERE m.room = $1 AND m.seq > $3 "
            "    AND m.seq <= coalesce((SELECT seq FROM rooms WHERE name = $1), 0) "
            "  ORDER BY m.seq DESC LIMIT $4) x "
            "ORDER BY 1 DESC, 2 DESC",
            4, params, join_done, m) != 0) {
        join_fail(m, "unavailable", "the database cannot be reached");
        free(m);
        conn_input_unblock(c);
        conn_release(c);
    }
}

void room_join(struct conn *c, const struct proto_request *req)
{
    const struct config *cfg = daemon_state.cfg;
    struct proto_room info;
    proto_parse_room(req->room, &info);
    if (member_of(c, req->room)) {
        conn_send_error(c, "invalid_message", "already in this room");
        return;
    }
    if (info.kind == ROOM_USER) {
        if (c->auth != CONN_USER) {
            conn_send_error(c, "unauthorized", "user rooms need a token");
            return;
        }
        if (c->user_id != info.id) {
            conn_send_error(c, "forbidden", "only that user may join");
            return;
        }
    }
    if (c->nrooms >= cfg->rooms.max_rooms) {
        metrics_count_drop("too_many_rooms");
        conn_send_error(c, "too_many_rooms", "too many rooms on this connection");
        return;
    }
    struct room *r = room_get(req->room);
    struct member *m = xcalloc(1, sizeof *m);
    m->has_since = req->has_since;
    m->since = req->since;
    member_attach(m, c, r);
    if (r->seq_known) {
        if (join_answer(r, m)) {
            if (!m->room)
                free(m);
            return;
        }
        conn_hold(c);
        conn_input_block(c);
        join_query(m);
        return;
    }
    conn_hold(c);
    conn_input_block(c);
    m->waiting = true;
    if (r->wait_tail)
        r->wait_tail->wait_next = m;
    else
        r->wait_head = m;
    r->wait_tail = m;
    if (!r->loading)
        load_send(r);
    if (!r->loading) {
        wait_unlink(r, m);
        join_fail(m, "unavailable", "the database cannot be reached");
        free(m);
        conn_input_unblock(c);
        conn_release(c);
    }
}

/* Takes m out of its room, whatever state its join is in. */
static void member_leave(struct member *m)
{
    if (m->waiting) {
        struct conn *c = m->conn;
        wait_unlink(m->room, m);
        member_detach(m);
        free(m);
        conn_input_unblock(c);
        conn_release(c);
        return;
    }
    bool pending = !m->live;
    member_detach(m);
    if (pending)
        m->dead = true; /* join_done frees it */
    else
        free(m);
}

void room_leave(struct conn *c, const char *name)
{
    struct member *m = member_of(c, name);
    if (m)
        member_leave(m);
}

void room_conn_gone(struct conn *c)
{
    while (c->members)
        member_leave(c->members);
}

/* --------------------------------------------------------------- send */

static void send_done(PGresult *res, void *arg)
{
    struct conn *c = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res)
            log_error("component=rooms event=send_failed error=\"%s\"",
                      PQresultErrorMessage(res));
        if (conn_alive(c))
            conn_send_error(c, "unavailable", "the message could not be stored");
    }
    conn_release(c);
}

void room_send(struct conn *c, const struct proto_request *req)
{
    struct proto_room info;
    proto_parse_room(req->room, &info);
    if (c->auth != CONN_USER) {
        conn_send_error(c, "unauthorized", "sending needs a token");
        return;
    }
    if (info.kind == ROOM_PITCHES) {
        conn_send_error(c, "forbidden", "the pitches room carries events only");
        return;
    }
    struct member *m = member_of(c, req->room);
    if (!m || !m->live) {
        conn_send_error(c, "not_joined", "join the room first");
        return;
    }
    if (!conn_rate_ok(c)) {
        metrics_count_drop("rate_limited");
        conn_send_error(c, "rate_limited", "too many messages per second");
        return;
    }
    size_t len;
    const char *data = json_text(req->data, &len);
    char uid[24];
    snprintf(uid, sizeof uid, "%" PRId64, c->user_id);
    const char *params[] = { req->room, uid, data };
    conn_hold(c);
    if (backplane_query(
            "WITH r AS (INSERT INTO rooms (name, seq) VALUES ($1, 1) "
            "  ON CONFLICT (name) DO UPDATE SET seq = rooms.seq + 1 RETURNING seq), "
            "m AS (INSERT INTO room_messages (room, seq, user_id, data) "
            "  SELECT $1, r.seq, $2, $3::jsonb FROM r RETURNING seq) "
            "SELECT m.seq, pg_notify('pitchey_rooms', $1) FROM m",
            3, params, send_done, c) != 0) {
        conn_release(c);
        conn_send_error(c, "unavailable", "the database cannot be reached");
        return;
    }
    metrics_count_in();
}

/* --------------------------------------------------------------- events */

static void event_to(struct room *r, const char *kind, int64_t owner_id, bool owner_only,
                     const char *data_json)
{
    struct buf b = BUF_INIT;
    proto_build_event(&b, r->name, kind, data_json);
    struct frame *f = frame_new(b.data, b.len, 0);
    buf_free(&b);
    for (struct member *m = r->members; m; m = m->room_next)
        if (m->live && (!owner_only || (m->conn->auth == CONN_USER &&
                                         m->conn->user_id == owner_id)))
            conn_send_frame(m->conn, f);
    frame_unref(f);
}

/* Membership follows visibility: once a pitch is a draft, everyone but its
 * owner leaves pitch:{id}; once it is deleted, everyone does.  Each is told
 * why with an error; a later send there is not_joined.  Members whose join
 * is still reading Postgres are judged by that read, which is newer. */
static void evict_unseeing(struct room *r, bool deleted)
{
    char why[128];
    snprintf(why, sizeof why, "left %s: the pitch %s", r->name,
             deleted ? "was deleted" : "is no longer published");
    char *name = xstrdup(r->name);
    struct member *m = r->members, *next;
    for (; m; m = next) {
        next = m->room_next;
        struct conn *c = m->conn;
        if (!m->live || (!deleted && c->auth == CONN_USER && c->user_id == r->pitch_owner))
            continue;
        /* The last member's leave frees r; next is then NULL. */
        member_detach(m);
        free(m);
        metrics_count_drop("visibility");
        if (conn_alive(c))
            conn_send_error(c, "not_found", why);
        if (!room_find(name))
            break;
    }
    free(name);
}

void room_deliver_event(const char *kind, int64_t pitch_id, int64_t owner_id, bool published,
                        const char *data_json)
{
    char name[48];
    struct room *r;
    if (published && (r = room_find("pitches")) != NULL)
        event_to(r, kind, owner_id, false, data_json);
    if (strcmp(kind, "pitch.created") != 0) {
        snprintf(name, sizeof name, "pitch:%" PRId64, pitch_id);
        if ((r = room_find(name)) != NULL) {
            event_to(r, kind, owner_id, !published, data_json);
            bool deleted = strcmp(kind, "pitch.deleted") == 0;
            r->pitch_found = !deleted;
            r->pitch_owner = owner_id;
            r->pitch_published = published;
            if (deleted || !published)
                evict_unseeing(r, deleted);
        }
    }
    snprintf(name, sizeof name, "user:%" PRId64, owner_id);
    if ((r = room_find(name)) != NULL)
        event_to(r, kind, owner_id, true, data_json);
}
