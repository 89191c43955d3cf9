/* room: the rooms this node follows, their local members, fan-out in seq
 * order, replay, and the cluster-wide presence of each room.
 *
 * A room exists here while at least one local connection is in it (or
 * joining).  Its `last_seq` is the newest message fanned out to its live
 * members; messages are read from Postgres by seq (room_fetch), so a missed
 * NOTIFY or a reconnect never loses or repeats one.  All queries go through
 * the backplane's single query connection in FIFO order, which is what lets
 * a join's snapshot line up with the fan-out (see room.c). */
#ifndef PITCHEY_ROOMS_ROOM_H
#define PITCHEY_ROOMS_ROOM_H

#include <stdbool.h>
#include <stdint.h>

#include "rooms/conn.h"
#include "rooms/proto.h"

/* Client requests (already parsed; the room name is valid). */
void room_join(struct conn *c, const struct proto_request *req);
void room_leave(struct conn *c, const char *name);
void room_send(struct conn *c, const struct proto_request *req);
/* The connection is gone: leave everything. */
void room_conn_gone(struct conn *c);

/* Backplane wake-ups. */
void room_notify_message(const char *name);
void room_notify_presence(int64_t node, const char *name, bool join, const struct proto_user *u);
void room_deliver_event(const char *kind, int64_t pitch_id, int64_t owner_id, bool published,
                        const char *data_json);
/* After the listener reconnected: fill gaps and refresh presence. */
void room_resync_all(void);
/* After this node's row had to be recreated: publish every local member. */
void room_republish_presence(void);
/* Shutdown: no more presence writes. */
void room_stop_publishing(void);

int room_count(void);
int room_member_count(void);

#endif
