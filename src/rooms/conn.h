/* conn: one WebSocket client: who it is, its bounded send queue, its
 * deferred input, its rate limit and how it ends.
 *
 * The struct outlives the lws connection while asynchronous work (a token
 * lookup, a join, a send) still refers to it: conn_hold()/conn_release()
 * count those, and conn_alive() tells a late callback whether the client is
 * still there.  Frames are queued by reference; a queue above
 * [rooms] queue_limit bytes closes the client with 1013.
 *
 * Input can be blocked while a request that later frames depend on (a
 * join reading Postgres) is in flight: frames received meanwhile are
 * deferred, bounded, and handed to the input handler in order once the
 * last block is lifted.  conn knows nothing of rooms: whoever blocks
 * unblocks. */
#ifndef PITCHEY_ROOMS_CONN_H
#define PITCHEY_ROOMS_CONN_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "rooms/frame.h"
#include "rooms/proto.h"

enum conn_auth { CONN_ANON, CONN_PENDING, CONN_USER };

struct member;
struct held;

struct conn {
    struct lws *wsi; /* NULL once lws has closed it */
    uint64_t id;
    enum conn_auth auth;
    int64_t user_id;
    char *user_name;
    char *user_role;
    char token_hex[65]; /* lowercase hex of the token hash, "" if none */
    struct buf rx;      /* fragments of the message being received */
    bool rx_binary;
    struct qitem *qhead, *qtail;
    size_t qbytes;
    bool closing;
    int close_code;
    char close_reason[64];
    /* room.c's: its memberships of this connection (opaque here). */
    struct member *members;
    int nrooms;
    int64_t rate_second;
    int rate_count;
    int64_t last_seen_us;
    bool ping_due;  /* a keepalive ping is to be written */
    bool want_write; /* lws_callback_on_writable() asked, not yet served */
    int input_blocks;
    struct held *held_head, *held_tail; /* deferred client frames, in order */
    size_t held_bytes;
    int held_count;
    int holds;
    struct conn *prev, *next;
};

struct conn *conn_new(struct lws *wsi);
/* lws is done with the connection: it is no longer alive, its queue and
 * deferred frames are dropped.  The caller then lets the rooms go
 * (room_conn_gone) and drops lws' hold with conn_release(). */
void conn_closed(struct conn *c);
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
bool conn_alive(const struct conn *c);
void conn_user(const struct conn *c, struct proto_user *u);

/* Queues a reference to f; may close the connection (1013). */
void conn_send_frame(struct conn *c, struct frame *f);
/* Queues text (copied). */
void conn_send_text(struct conn *c, const char *text, size_t len);
void conn_send_error(struct conn *c, const char *code, const char *message);
/* Drops the queue and closes with code once the socket can take it (or
 * after a few seconds regardless). */
void conn_close(struct conn *c, int code, const char *reason);
/* LWS_CALLBACK_SERVER_WRITEABLE: writes queued frames; -1 closes. */
int conn_on_writable(struct conn *c);
/* Counts a `send`; false when above [rooms] rate this second. */
bool conn_rate_ok(struct conn *c);

/* Keepalive: writes a ping with a payload at the next writable callback.
 * (An empty pong never reaches the protocol callback in lws 4.1, so the
 * payload is what makes a pong visible as a sign of life.) */
void conn_ping(struct conn *c);

/* Handles one complete client text frame (set once by the server). */
typedef void (*conn_input_fn)(struct conn *c, const char *text, size_t len);
void conn_set_input_handler(conn_input_fn fn);
/* While blocked, conn_defer_input() keeps frames for later. */
void conn_input_block(struct conn *c);
/* Lifts one block; at zero, replays deferred frames through the handler
 * until one of them blocks again. */
void conn_input_unblock(struct conn *c);
bool conn_input_blocked(const struct conn *c);
/* Keeps a copy of a frame received while blocked.  Above the bound
 * (CONN_HELD_MAX frames or [rooms] queue_limit bytes) closes the client
 * with 1013 instead. */
void conn_defer_input(struct conn *c, const char *text, size_t len);
#define CONN_HELD_MAX 256

void conn_each(void (*fn)(struct conn *, void *), void *arg);
int conn_count(void);

#endif
