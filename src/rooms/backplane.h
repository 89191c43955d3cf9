/* backplane: this node's link to Postgres and, through it, to the others.
 *
 * Two connections: the listener (LISTEN pitchey_rooms, pitchey_events,
 * pitchey_revoke, pitchey_presence; nothing else runs on it) and the query
 * connection (every read and write, in FIFO order).  NOTIFY only wakes
 * nodes up: after the listener (re)connects, every followed room and the
 * event outbox are read again from the last seq seen.  Timers heartbeat
 * this node, drop the members of silent nodes, poll revocations and the
 * outbox. */
#ifndef PITCHEY_ROOMS_BACKPLANE_H
#define PITCHEY_ROOMS_BACKPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "rooms/pg.h"
#include "rooms/proto.h"

/* Whom the backplane tells what it learns; every entry is required. */
struct backplane_handlers {
    /* NOTIFY pitchey_rooms: the room has new messages in Postgres. */
    void (*message)(const char *room);
    /* Presence of a user on some node (this one's too). */
    void (*presence)(int64_t node, const char *room, bool join, const struct proto_user *u);
    /* An API event from the outbox, in seq order, once. */
    void (*event)(const char *kind, int64_t pitch_id, int64_t owner_id, bool published,
                  const char *data_json);
    /* (Re)connected: read again everything that is followed. */
    void (*resync)(void);
    /* This node's row had to be recreated: publish every local member. */
    void (*republish)(void);
    /* Shutdown: no more presence writes. */
    void (*stop_publishing)(void);
    /* NOTIFY pitchey_revoke: the hex of a revoked token's hash. */
    void (*revoked)(const char *hex);
    /* Every [rooms] revoke_check seconds. */
    void (*poll)(void);
};

/* SQL for an RFC 3339 UTC time with milliseconds. */
#define BACKPLANE_TS(col)                                                       \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

void backplane_start(const struct backplane_handlers *h);
/* The table alone (tests). */
void backplane_set_handlers(const struct backplane_handlers *h);
/* One NOTIFY from the listener, dispatched to the handlers. */
void backplane_dispatch_notify(const char *channel, const char *payload);
/* Shutdown: removes this node and its members (others see them leave),
 * then calls done (also when Postgres cannot be reached). */
void backplane_stop(void (*done)(void *), void *arg);
void backplane_free(void);

/* On the query connection; -1 (fn not called) while it is down. */
int backplane_query(const char *sql, int nparams, const char *const *params, pg_result_fn fn,
                    void *arg) __attribute__((warn_unused_result));
void backplane_publish_presence(const char *room, int64_t user_id, bool join, pg_result_fn fn,
                                void *arg);
bool backplane_listening(void);

#endif
