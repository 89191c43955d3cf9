/* conn: per-client state and the bounded send queue; see conn.h. */
#include "pitchey-build.h"

#include "rooms/conn.h"

#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "rooms/daemon.h"
#include "rooms/metrics.h"

struct qitem {
    struct frame *frame;
    struct qitem *next;
};

struct held {
    struct held *next;
    size_t len;
    char text[]; /* len + 1 */
};

static struct conn *all;
static conn_input_fn input_handler;

/* Queue items are recycled: fan-out queues one per member per message,
 * which would otherwise be a malloc/free pair per delivered copy. */
static struct qitem *qfree;
static size_t nqfree;
#define QFREE_MAX 65536

static struct qitem *qitem_get(void)
{
    struct qitem *q = qfree;
    if (!q)
        return xmalloc(sizeof *q);
    qfree = q->next;
    nqfree--;
    return q;
}

static void qitem_put(struct qitem *q)
{
    if (nqfree >= QFREE_MAX) {
        free(q);
        return;
    }
    q->next = qfree;
    qfree = q;
    nqfree++;
}
static int nconns;
static uint64_t next_id = 1;

struct conn *conn_new(struct lws *wsi)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->wsi = wsi;
    c->id = next_id++;
    c->holds = 1; /* lws' own */
    c->last_seen_us = clock_mono_us();
    buf_init(&c->rx);
    c->next = all;
    if (all)
        all->prev = c;
    all = c;
    nconns++;
    metrics_gauge_connections(nconns);
    return c;
}

static void drop_queue(struct conn *c)
{
    struct qitem *q = c->qhead;
    while (q) {
        struct qitem *n = q->next;
        frame_unref(q->frame);
        qitem_put(q);
        q = n;
    }
    c->qhead = c->qtail = NULL;
    c->qbytes = 0;
}

static void drop_held(struct conn *c)
{
    struct held *h = c->held_head;
    while (h) {
        struct held *n = h->next;
        free(h);
        h = n;
    }
    c->held_head = c->held_tail = NULL;
    c->held_bytes = 0;
    c->held_count = 0;
}

/* Asks lws for one writable callback; repeated asks before it comes are
 * free (no poll change per queued frame). */
static void want_writable(struct conn *c)
{
    if (c->want_write || !c->wsi)
        return;
    c->want_write = true;
    lws_callback_on_writable(c->wsi);
}

static void conn_free(struct conn *c)
{
    drop_queue(c);
    drop_held(c);
    buf_free(&c->rx);
    free(c->user_name);
    free(c->user_role);
    free(c);
}

void conn_closed(struct conn *c)
{
    /* Not alive from here on: nothing deferred is replayed while the
     * rooms let go of it (the server tells them next). */
    c->wsi = NULL;
    drop_held(c);
    drop_queue(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    nconns--;
    metrics_gauge_connections(nconns);
}

void conn_hold(struct conn *c)
{
    c->holds++;
}

void conn_release(struct conn *c)
{
    if (--c->holds == 0)
        conn_free(c);
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

void conn_close(struct conn *c, int code, const char *reason)
{
    if (!c->wsi || c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    drop_queue(c);
    drop_held(c);
    log_info("component=rooms event=close conn=%llu code=%d reason=\"%s\"",
             (unsigned long long)c->id, code, c->close_reason);
    c->want_write = false;
    want_writable(c);
    /* A peer that never reads never lets the close frame out. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

void conn_send_frame(struct conn *c, struct frame *f)
{
    if (!conn_alive(c))
        return;
    long limit = daemon_state.cfg->rooms.queue_limit;
    if (c->qbytes + f->len > (size_t)limit) {
        metrics_count_drop("slow_reader");
        conn_close(c, 1013, "slow reader");
        return;
    }
    struct qitem *q = qitem_get();
    q->frame = frame_ref(f);
    q->next = NULL;
    if (c->qtail)
        c->qtail->next = q;
    else
        c->qhead = q;
    c->qtail = q;
    c->qbytes += f->len;
    want_writable(c);
}

void conn_send_text(struct conn *c, const char *text, size_t len)
{
    struct frame *f = frame_new(text, len, 0);
    conn_send_frame(c, f);
    frame_unref(f);
}

void conn_send_error(struct conn *c, const char *code, const char *message)
{
    struct buf b = BUF_INIT;
    proto_build_error(&b, code, message);
    conn_send_text(c, b.data, b.len);
    buf_free(&b);
    metrics_count_error(code);
}

#define BATCH_BYTES 65536

/* Writes as many queued frames as fit in BATCH_BYTES (at least one) as
 * one buffer of framed bytes.  -1 on a write error. */
static int write_batch(struct conn *c)
{
    static unsigned char *batch;
    if (!batch)
        batch = xmalloc(LWS_PRE + BATCH_BYTES + 10);
    unsigned char *p = batch + LWS_PRE, *start = p;
    int nframes = 0;
    while (c->qhead) {
        struct qitem *q = c->qhead;
        struct frame *f = q->frame;
        size_t hl = f->len < 126 ? 2 : f->len < 65536 ? 4 : 10;
        bool alone = hl + f->len > BATCH_BYTES;
        if (nframes > 0 && (size_t)(p - start) + hl + f->len > BATCH_BYTES)
            break;
        if (alone) {
            /* Too big to copy: the ordinary path, alone. */
            if (nframes > 0)
                break;
            if (lws_write(c->wsi, frame_payload(f), f->len, LWS_WRITE_TEXT) < (int)f->len)
                return -1;
        } else {
            *p++ = 0x81; /* FIN, text */
            if (hl == 2) {
                *p++ = (unsigned char)f->len;
            } else if (hl == 4) {
                *p++ = 126;
                *p++ = (unsigned char)(f->len >> 8);
                *p++ = (unsigned char)f->len;
            } else {
                *p++ = 127;
                for (int i = 7; i >= 0; i--)
                    *p++ = (unsigned char)((uint64_t)f->len >> (8 * i));
            }
            memcpy(p, frame_payload(f), f->len);
            p += f->len;
        }
        nframes++;
        c->qhead = q->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->qbytes -= f->len;
        frame_unref(f);
        qitem_put(q);
        metrics_count_out();
        if (alone)
            return 0;
    }
    size_t n = (size_t)(p - start);
    if (n && lws_write(c->wsi, start, n, LWS_WRITE_HTTP) < (int)n)
        return -1;
    return 0;
}

int conn_on_writable(struct conn *c)
{
    c->want_write = false;
    if (c->closing) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->ping_due) {
        /* The payload only has to be non-empty (see conn_ping()). */
        unsigned char ping[LWS_PRE + 4];
        memcpy(ping + LWS_PRE, "live", 4);
        c->ping_due = false;
        if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
            return -1;
        if (lws_partial_buffered(c->wsi)) {
            if (c->qhead)
                want_writable(c);
            return 0;
        }
    }
    /* A backlog of several frames goes out framed here, in one write:
     * lws passes LWS_WRITE_HTTP bytes through as they are on a ws
     * connection, so one system call carries up to BATCH_BYTES of whole
     * text frames (server frames are never masked).  A single frame takes
     * the ordinary path.  lws_partial_buffered() (no system call, unlike
     * lws_send_pipe_choked()) says when the socket took less: lws keeps
     * the rest and the next writable callback goes on from there. */
    for (int rounds = 0; c->qhead && rounds < 8; rounds++) {
        if (!c->qhead->next) {
            struct qitem *q = c->qhead;
            struct frame *f = q->frame;
            if (lws_write(c->wsi, frame_payload(f), f->len, LWS_WRITE_TEXT) < (int)f->len)
                return -1;
            c->qhead = c->qtail = NULL;
            c->qbytes -= f->len;
            frame_unref(f);
            qitem_put(q);
            metrics_count_out();
        } else if (write_batch(c) < 0) {
            return -1;
        }
        if (lws_partial_buffered(c->wsi))
            break;
    }
    if (c->qhead)
        want_writable(c);
    return 0;
}

void conn_ping(struct conn *c)
{
    if (!conn_alive(c))
        return;
    c->ping_due = true;
    want_writable(c);
}

void conn_set_input_handler(conn_input_fn fn)
{
    input_handler = fn;
}

void conn_input_block(struct conn *c)
{
    c->input_blocks++;
}

bool conn_input_blocked(const struct conn *c)
{
    return c->input_blocks > 0;
}

void conn_input_unblock(struct conn *c)
{
    if (c->input_blocks > 0)
        c->input_blocks--;
    /* The handler may block again (another join): stop there. */
    while (c->input_blocks == 0 && c->held_head && conn_alive(c)) {
        struct held *h = c->held_head;
        c->held_head = h->next;
        if (!c->held_head)
            c->held_tail = NULL;
        c->held_bytes -= h->len;
        c->held_count--;
        conn_hold(c);
        if (input_handler)
            input_handler(c, h->text, h->len);
        free(h);
        bool gone = c->holds == 1 && !c->wsi;
        conn_release(c);
        if (gone)
            return;
    }
}

void conn_defer_input(struct conn *c, const char *text, size_t len)
{
    if (!conn_alive(c))
        return;
    if (c->held_count >= CONN_HELD_MAX ||
        c->held_bytes + len > (size_t)daemon_state.cfg->rooms.queue_limit) {
        metrics_count_drop("join_backlog");
        conn_close(c, 1013, "too many messages behind a pending join");
        return;
    }
    struct held *h = xmalloc(sizeof *h + len + 1);
    h->next = NULL;
    h->len = len;
    memcpy(h->text, text, len);
    h->text[len] = '\0';
    if (c->held_tail)
        c->held_tail->next = h;
    else
        c->held_head = h;
    c->held_tail = h;
    c->held_bytes += len;
    c->held_count++;
}

bool conn_rate_ok(struct conn *c)
{
    int64_t sec = clock_mono_us() / 1000000;
    if (sec != c->rate_second) {
        c->rate_second = sec;
        c->rate_count = 0;
    }
    return ++c->rate_count <= daemon_state.cfg->rooms.rate_per_s;
}

void conn_each(void (*fn)(struct conn *, void *), void *arg)
{
    struct conn *c = all, *n;
    for (; c; c = n) {
        n = c->next;
        fn(c, arg);
    }
}

int conn_count(void)
{
    return nconns;
}
