/* conn: one WebSocket client: who it is, its bounded send queue, its rooms,
 * its rate limit and how it ends.
 *
 * The struct outlives the lws connection while asynchronous work (a token
 * lookup, a join, a send) still refers to it: conn_hold()/conn_release()
 * count those, and conn_alive() tells a late callback whether the client is
 * still there.  Frames are queued by reference; a queue above
 * [rooms] queue_limit bytes closes the client with 1013. */
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
    struct member *members; /* joined or joining, linked by member->conn_next */
    int nrooms;
    int64_t rate_second;
    int rate_count;
    int64_t last_seen_us;
    int holds;
    struct conn *prev, *next;
};

struct conn *conn_new(struct lws *wsi);
/* lws is done with the connection: leaves every room; frees the struct
 * unless it is still held. */
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

void conn_each(void (*fn)(struct conn *, void *), void *arg);
int conn_count(void);

#endif
