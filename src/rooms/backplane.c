/* backplane: LISTEN/NOTIFY, the outbox, heartbeats; see backplane.h.
 *
 * Events (the API's outbox) are delivered in seq order, each once.  An
 * event is delivered when its NOTIFY has arrived (the API notifies only
 * after it bumped the cache tags) or when it is older than a grace period
 * (the API died between commit and NOTIFY); never ahead of an older one. */
#include "pitchey-build.h"

#include "rooms/backplane.h"

#include <inttypes.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "rooms/daemon.h"
#include "rooms/metrics.h"

#define EVENT_GRACE "2 seconds"
#define NOTIFIED_MAX 4096
#define HISTORY_GRACE "60 seconds"
#define TRIM_EVERY 10 /* heartbeats */

static struct pg *listener, *query;
static bool listening;
static lws_sorted_usec_list_t heartbeat_sul, poll_sul;

static int64_t events_last = -1; /* -1: not read yet */
static bool events_inflight, events_dirty;
static int64_t notified[NOTIFIED_MAX];
static int nnotified;
static bool node_registered;
static unsigned heartbeats;

/* What the backplane reports to; a table so it depends on no module
 * above it (and a test can stand in for them). */
static struct backplane_handlers on;

static void (*stop_done)(void *);
static void *stop_arg;

int backplane_query(const char *sql, int nparams, const char *const *params, pg_result_fn fn,
                    void *arg)
{
    return query ? pg_query(query, sql, nparams, params, fn, arg) : -1;
}

bool backplane_listening(void)
{
    return listening;
}

static void ignore_result(PGresult *res, void *arg)
{
    (void)arg;
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("component=backplane event=query_failed error=\"%s\"",
                 PQresultErrorMessage(res));
}

#define USER_JSON "json_build_object('id', u.id, 'name', u.name, 'role', u.role)"

void backplane_publish_presence(const char *room, int64_t user_id, bool join, pg_result_fn fn,
                                void *arg)
{
    char node[24], uid[24];
    snprintf(node, sizeof node, "%" PRId64, daemon_state.node_id);
    snprintf(uid, sizeof uid, "%" PRId64, user_id);
    const char *params[] = { node, room, uid };
    const char *sql =
        join ? "WITH i AS (INSERT INTO room_members (node_id, room, user_id) "
               "  VALUES ($1, $2, $3) ON CONFLICT DO NOTHING) "
               "SELECT pg_notify('pitchey_presence', json_build_object('node', $1::bigint, "
               "  'room', $2::text, 'action', 'join', 'user', " USER_JSON ")::text) "
               "FROM users u WHERE u.id = $3"
             : "WITH d AS (DELETE FROM room_members WHERE node_id = $1 AND room = $2 "
               "  AND user_id = $3) "
               "SELECT pg_notify('pitchey_presence', json_build_object('node', $1::bigint, "
               "  'room', $2::text, 'action', 'leave', 'user', " USER_JSON ")::text) "
               "FROM users u WHERE u.id = $3";
    if (backplane_query(sql, 3, params, fn, arg) != 0)
        log_warn("component=backplane event=presence_lost room=%s user=%" PRId64, room, user_id);
}

/* --------------------------------------------------------------- events */

static bool was_notified(int64_t seq)
{
    for (int i = 0; i < nnotified; i++)
        if (notified[i] == seq)
            return true;
    return false;
}

static void forget_notified_upto(int64_t seq)
{
    int j = 0;
    for (int i = 0; i < nnotified; i++)
        if (notified[i] > seq)
            notified[j++] = notified[i];
    nnotified = j;
}

static void events_fetch(void);

static void events_done(PGresult *res, void *arg)
{
    (void)arg;
    events_inflight = false;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        int64_t seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (seq <= events_last)
            continue;
        bool old = PQgetvalue(res, i, 6)[0] == 't';
        if (!old && !was_notified(seq))
            break; /* its NOTIFY will come (or it grows old) */
        on.event(PQgetvalue(res, i, 1), strtoll(PQgetvalue(res, i, 2), NULL, 10),
                           strtoll(PQgetvalue(res, i, 3), NULL, 10),
                           PQgetvalue(res, i, 4)[0] == 't', PQgetvalue(res, i, 5));
        events_last = seq;
        metrics_count_event();
    }
    forget_notified_upto(events_last);
    if (n >= 200)
        events_dirty = true;
    if (events_dirty)
        events_fetch();
}

static void events_fetch(void)
{
    if (events_last < 0 || events_inflight) {
        events_dirty = true;
        return;
    }
    char last[24];
    snprintf(last, sizeof last, "%" PRId64, events_last);
    const char *params[] = { last };
    if (backplane_query("SELECT seq, kind, pitch_id, owner_id, published, data::text, "
                        "created_at < now() - interval '" EVENT_GRACE "' "
                        "FROM events WHERE seq > $1 ORDER BY seq LIMIT 200",
                        1, params, events_done, NULL) != 0)
        return;
    events_inflight = true;
    events_dirty = false;
}

static void events_start_done(PGresult *res, void *arg)
{
    (void)arg;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        if (events_last < 0)
            events_last = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        if (events_dirty)
            events_fetch();
    }
}

/* ------------------------------------------------------------ heartbeat */

static void heartbeat_done(PGresult *res, void *arg)
{
    (void)arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return;
    bool inserted = PQgetvalue(res, 0, 0)[0] == 't';
    if (inserted) {
        /* New, or dropped by the others while we were silent: say again who
         * is here (members written before the node row may have been
         * swept as orphans). */
        if (node_registered)
            log_warn("component=backplane event=node_reregistered");
        on.republish();
    }
    node_registered = true;
}

static void heartbeat(void)
{
    char node[24], timeout[24];
    snprintf(node, sizeof node, "%" PRId64, daemon_state.node_id);
    snprintf(timeout, sizeof timeout, "%d", daemon_state.cfg->rooms.node_timeout_s);
    const char *p1[] = { node };
    if (backplane_query("INSERT INTO room_nodes (node_id) VALUES ($1) ON CONFLICT (node_id) "
                        "DO UPDATE SET heartbeat_at = clock_timestamp() "
                        "RETURNING (xmax = 0)",
                        1, p1, heartbeat_done, NULL) != 0)
        return;
    const char *p2[] = { timeout };
    if (backplane_query(
            "WITH dead AS (DELETE FROM room_nodes "
            "  WHERE heartbeat_at < clock_timestamp() - make_interval(secs => $1::int) "
            "  RETURNING node_id), "
            "gone AS (DELETE FROM room_members m WHERE m.node_id IN (SELECT node_id FROM dead) "
            "  OR m.node_id NOT IN (SELECT node_id FROM room_nodes) "
            "  RETURNING m.node_id, m.room, m.user_id) "
            "SELECT pg_notify('pitchey_presence', json_build_object('node', g.node_id, "
            "  'room', g.room, 'action', 'leave', 'user', " USER_JSON ")::text) "
            "FROM gone g JOIN users u ON u.id = g.user_id",
            1, p2, ignore_result, NULL) != 0)
        return;
}

/* Keeps `history` messages per room.  Rows go only once they are a while
 * old, so a node that has not fanned a message out yet still finds it (a
 * join replays at most `history` of them whatever is left). */
static void trim_history(void)
{
    char keep[24];
    snprintf(keep, sizeof keep, "%d", daemon_state.cfg->rooms.history);
    const char *params[] = { keep };
    if (backplane_query("DELETE FROM room_messages m USING rooms r "
                        "WHERE m.room = r.name AND m.seq <= r.seq - $1::bigint "
                        "AND m.created_at < now() - interval '" HISTORY_GRACE "'",
                        1, params, ignore_result, NULL) != 0)
        return;
}

static void on_heartbeat(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (daemon_state.shutting_down)
        return;
    heartbeat();
    if (++heartbeats % TRIM_EVERY == 0)
        trim_history();
    lws_sul_schedule(daemon_state.ctx, 0, &heartbeat_sul, on_heartbeat,
                     (lws_usec_t)daemon_state.cfg->rooms.node_heartbeat_s * LWS_US_PER_SEC);
}

static void on_poll(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (daemon_state.shutting_down)
        return;
    on.poll();
    events_fetch();
    lws_sul_schedule(daemon_state.ctx, 0, &poll_sul, on_poll,
                     (lws_usec_t)daemon_state.cfg->rooms.revoke_check_s * LWS_US_PER_SEC);
}

/* ------------------------------------------------------------ listener */

static void listen_done(PGresult *res, void *arg)
{
    (void)arg;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        return;
    listening = true;
    log_info("component=backplane event=listening");
    /* Whatever was sent while nobody listened is in the tables. */
    on.resync();
    events_fetch();
    on.poll();
}

static void listener_connect(struct pg *pg, void *arg)
{
    (void)arg;
    if (pg_query(pg,
                 "LISTEN pitchey_rooms; LISTEN pitchey_events; LISTEN pitchey_revoke; "
                 "LISTEN pitchey_presence",
                 0, NULL, listen_done, NULL) != 0)
        log_warn("component=backplane event=listen_failed");
}

static void listener_disconnect(struct pg *pg, void *arg)
{
    (void)pg;
    (void)arg;
    listening = false;
    metrics_count_backplane_reconnect();
}

static void on_presence(const char *payload)
{
    struct json_object *o = json_tokener_parse(payload), *v;
    if (!o)
        return;
    int64_t node = json_object_object_get_ex(o, "node", &v) ? json_object_get_int64(v) : 0;
    const char *room = json_object_object_get_ex(o, "room", &v) ? json_object_get_string(v) : "";
    const char *action =
        json_object_object_get_ex(o, "action", &v) ? json_object_get_string(v) : "";
    struct json_object *user = NULL;
    if (json_object_object_get_ex(o, "user", &user) && user) {
        struct proto_user u = { 0, "", "" };
        if (json_object_object_get_ex(user, "id", &v))
            u.id = json_object_get_int64(v);
        if (json_object_object_get_ex(user, "name", &v))
            u.name = json_object_get_string(v);
        if (json_object_object_get_ex(user, "role", &v))
            u.role = json_object_get_string(v);
        on.presence(node, room, strcmp(action, "join") == 0, &u);
    }
    json_object_put(o);
}

void backplane_dispatch_notify(const char *channel, const char *payload)
{
    if (strcmp(channel, "pitchey_rooms") == 0) {
        on.message(payload);
    } else if (strcmp(channel, "pitchey_events") == 0) {
        int64_t seq = strtoll(payload, NULL, 10);
        if (seq > events_last && nnotified < NOTIFIED_MAX)
            notified[nnotified++] = seq;
        events_fetch();
    } else if (strcmp(channel, "pitchey_revoke") == 0) {
        on.revoked(payload);
    } else if (strcmp(channel, "pitchey_presence") == 0) {
        on_presence(payload);
    }
}

static void listener_notify(struct pg *pg, const char *channel, const char *payload, void *arg)
{
    (void)pg;
    (void)arg;
    backplane_dispatch_notify(channel, payload);
}

/* ---------------------------------------------------------- query conn */

static void query_connect(struct pg *pg, void *arg)
{
    (void)arg;
    if (pg_query(pg, "SELECT coalesce(max(seq), 0) FROM events", 0, NULL, events_start_done,
                 NULL) != 0)
        return;
    heartbeat();
    if (listening) {
        /* Fetches that failed with the old connection. */
        on.resync();
        events_fetch();
    }
}

void backplane_set_handlers(const struct backplane_handlers *h)
{
    on = *h;
}

void backplane_start(const struct backplane_handlers *h)
{
    backplane_set_handlers(h);
    static const struct pg_handlers lh = { listener_connect, listener_disconnect,
                                           listener_notify };
    static const struct pg_handlers qh = { query_connect, NULL, NULL };
    const char *url = daemon_state.cfg->database.url;
    listener = pg_new(daemon_state.ctx, daemon_state.vh, url, "pitchey-rooms-listen", &lh, NULL);
    query = pg_new(daemon_state.ctx, daemon_state.vh, url, "pitchey-rooms", &qh, NULL);
    pg_start(query);
    pg_start(listener);
    lws_sul_schedule(daemon_state.ctx, 0, &heartbeat_sul, on_heartbeat,
                     (lws_usec_t)daemon_state.cfg->rooms.node_heartbeat_s * LWS_US_PER_SEC);
    lws_sul_schedule(daemon_state.ctx, 0, &poll_sul, on_poll,
                     (lws_usec_t)daemon_state.cfg->rooms.revoke_check_s * LWS_US_PER_SEC);
}

static void stop_result(PGresult *res, void *arg)
{
    (void)arg;
    ignore_result(res, NULL);
    if (stop_done) {
        void (*done)(void *) = stop_done;
        stop_done = NULL;
        done(stop_arg);
    }
}

void backplane_stop(void (*done)(void *), void *arg)
{
    lws_sul_cancel(&heartbeat_sul);
    lws_sul_cancel(&poll_sul);
    on.stop_publishing();
    stop_done = done;
    stop_arg = arg;
    char node[24];
    snprintf(node, sizeof node, "%" PRId64, daemon_state.node_id);
    const char *params[] = { node };
    if (backplane_query("WITH g AS (DELETE FROM room_members WHERE node_id = $1 "
                        "  RETURNING room, user_id), "
                        "n AS (DELETE FROM room_nodes WHERE node_id = $1) "
                        "SELECT pg_notify('pitchey_presence', json_build_object('node', "
                        "  $1::bigint, 'room', g.room, 'action', 'leave', 'user', " USER_JSON
                        ")::text) FROM g JOIN users u ON u.id = g.user_id",
                        1, params, stop_result, NULL) != 0)
        stop_result(NULL, NULL);
}

void backplane_free(void)
{
    pg_free(listener);
    pg_free(query);
    listener = query = NULL;
}
