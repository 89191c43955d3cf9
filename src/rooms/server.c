/* server: lws context, /ws protocol, /metrics, sweep and shutdown; see
 * server.h.
 *
 * The one trick: a connection with a token is accepted, then its input is
 * paused (lws_rx_flow_control) until auth.c has asked Postgres; so nothing
 * it sends is handled before we know who it is, and the loop never waits. */
#include "pitchey-build.h"

#include "rooms/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/utf8.h"
#include "rooms/access.h"
#include "rooms/auth.h"
#include "rooms/backplane.h"
#include "rooms/conn.h"
#include "rooms/daemon.h"
#include "rooms/metrics.h"
#include "rooms/pg.h"
#include "rooms/proto.h"
#include "rooms/room.h"

struct pss {
    struct conn *conn;
    char *body;
    size_t body_len;
};

static volatile sig_atomic_t stop_requested;
static bool stopping, backplane_stopped, deadline_passed;
static lws_sorted_usec_list_t sweep_sul, deadline_sul, ping_sul;
static lws_retry_bo_t retry;
static char iface[64];
static int port;

static void server_begin_stop(void);

/* ----------------------------------------------------------- messages */

static void handle_message(struct conn *c, const char *text, size_t len)
{
    struct proto_request req;
    const char *why = NULL;
    const char *code = proto_parse_request(text, len, &req, &why);
    if (code) {
        conn_send_error(c, code, why);
        return;
    }
    switch (req.type) {
    case PROTO_PING: {
        struct buf b = BUF_INIT;
        proto_build_pong(&b);
        conn_send_text(c, b.data, b.len);
        buf_free(&b);
        break;
    }
    case PROTO_JOIN:
        room_join(c, &req);
        break;
    case PROTO_LEAVE:
        room_leave(c, req.room);
        break;
    case PROTO_SEND:
        room_send(c, &req);
        break;
    }
    proto_request_free(&req);
}

/* A complete text frame from the network: handled now, or kept behind a
 * pending join so the connection's frames take effect in order. */
static void on_input(struct conn *c, const char *text, size_t len)
{
    if (conn_input_blocked(c))
        conn_defer_input(c, text, len);
    else
        handle_message(c, text, len);
}

/* The token from Authorization: Bearer, else from ?token=; NULL if none. */
static const char *find_token(struct lws *wsi, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        lws_hdr_copy(wsi, buf, len, WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        if (strncasecmp(buf, "Bearer ", 7) == 0) {
            const char *t = buf + 7;
            while (*t == ' ')
                t++;
            return t;
        }
        return buf; /* not a bearer token: refused as unknown */
    }
    for (int i = 0; lws_hdr_copy_fragment(wsi, buf, len, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++)
        if (strncmp(buf, "token=", 6) == 0)
            return buf + 6;
    return NULL;
}

/* Queues an HTTP answer: headers now, the body from HTTP_WRITEABLE. */
static int http_answer(struct lws *wsi, struct pss *pss, unsigned status, const char *type,
                       struct buf *body)
{
    pss->body = buf_steal(body, &pss->body_len);
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                      *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, type, pss->body_len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* The API's error body. */
static void http_error_body(struct buf *b, const char *code, const char *message)
{
    buf_append_str(b, "{\"error\":{\"code\":");
    proto_append_string(b, code);
    buf_append_str(b, ",\"message\":");
    proto_append_string(b, message);
    buf_append_str(b, "}}");
}

static int http_error(struct lws *wsi, struct pss *pss, unsigned status, const char *code,
                      const char *message)
{
    struct buf b = BUF_INIT;
    http_error_body(&b, code, message);
    return http_answer(wsi, pss, status, "application/json; charset=utf-8", &b);
}

/* The same, written at once: for the upgrade request, which lws drops as
 * soon as the callback refusing it returns.  Small answers only. */
static int http_error_now(struct lws *wsi, unsigned status, const char *code,
                          const char *message)
{
    struct buf b = BUF_INIT;
    http_error_body(&b, code, message);
    unsigned char out[LWS_PRE + 1024], *start = out + LWS_PRE, *p = start,
                                       *end = out + sizeof out - 1;
    int rc = -1;
    if (!lws_add_http_common_headers(wsi, status, "application/json; charset=utf-8", b.len, &p,
                                     end) &&
        !lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                     (const unsigned char *)"no-store", 8, &p, end) &&
        !lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                     (const unsigned char *)"close", 5, &p, end) &&
        !lws_finalize_http_header(wsi, &p, end) && (size_t)(end - p) > b.len) {
        memcpy(p, b.data, b.len);
        p += b.len;
        if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) ==
            (int)(p - start))
            rc = 1;
    }
    buf_free(&b);
    return rc;
}

/* The peer's address; false when it cannot be read. */
static bool peer_address(struct lws *wsi, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof *ss;
    lws_sockfd_type fd = lws_get_socket_fd(wsi);
    return fd >= 0 && getpeername(fd, (struct sockaddr *)ss, &len) == 0;
}

static int serve_http(struct lws *wsi, struct pss *pss, const char *uri)
{
    if (strcmp(uri, "/metrics") != 0)
        return http_error(wsi, pss, HTTP_STATUS_NOT_FOUND, "not_found", "no such path");
    /* A request relayed by a front server (which says so in these headers,
     * as the shipped nginx and Apache setups do) comes from the front
     * server's address, which [metrics] allow may well include: refuse it,
     * so the figures stay unpublished even if a front server's rule slips. */
    bool relayed = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) > 0 ||
                   lws_hdr_custom_length(wsi, "forwarded:", 10) > 0;
    struct sockaddr_storage ss;
    if (relayed || !peer_address(wsi, &ss) ||
        !access_addr_allowed(daemon_state.cfg->metrics.allow, (struct sockaddr *)&ss)) {
        metrics_count_error("forbidden");
        return http_error(wsi, pss, HTTP_STATUS_FORBIDDEN, "forbidden",
                          "metrics are not served to this address");
    }
    struct buf b = BUF_INIT;
    metrics_render(&b);
    return http_answer(wsi, pss, HTTP_STATUS_OK, "text/plain; version=0.0.4", &b);
}

/* The upgrade to /ws: refused with 403 for an origin that is not
 * configured (browsers send Origin; other clients need none), with 404 for
 * any other path, with 503 while shutting down.  Returns lws' convention
 * for LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 proceed, 1 answered. */
static int confirm_upgrade(struct lws *wsi)
{
    char buf[512];
    if (stopping)
        return http_error_now(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                              "the server is shutting down");
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) <= 0 || strcmp(buf, "/ws") != 0)
        return http_error_now(wsi, HTTP_STATUS_NOT_FOUND, "not_found", "no such path");
    int olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    const char *origin = NULL;
    if (olen > 0) {
        origin = buf;
        if (olen >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_ORIGIN) <= 0)
            buf[0] = '\0'; /* too long to be a configured origin */
    }
    /* A page of this site: its origin names the host the client asked for
     * (X-Forwarded-Host when a front server says so, else Host). */
    char host[256] = "";
    if (origin && (lws_hdr_custom_copy(wsi, host, sizeof host, "x-forwarded-host:", 17) > 0 ||
                   lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0)) {
        /* the first of a comma-separated list is the client's */
        host[strcspn(host, ", ")] = '\0';
    }
    if (!access_same_host(origin, host) &&
        !access_origin_allowed(daemon_state.cfg->http.cors_origins, origin)) {
        log_info("component=rooms event=origin_refused");
        metrics_count_drop("origin");
        return http_error_now(wsi, HTTP_STATUS_FORBIDDEN, "forbidden",
                              "this origin may not open /ws");
    }
    return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct pss *pss = user;
    char buf[512];
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Checked (with an HTTP answer) at CONFIRM_UPGRADE; kept as a net. */
        if (stopping)
            return 1;
        if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) <= 0 || strcmp(buf, "/ws") != 0)
            return 1;
        return 0;

    case LWS_CALLBACK_ESTABLISHED: {
        pss->conn = conn_new(wsi);
        const char *token = find_token(wsi, buf, sizeof buf);
        if (token)
            auth_begin(pss->conn, token);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE: {
        struct conn *c = pss->conn;
        if (!c || c->closing)
            return 0;
        c->last_seen_us = clock_mono_us();
        lws_validity_confirmed(wsi);
        if (lws_is_first_fragment(wsi)) {
            buf_reset(&c->rx);
            c->rx_binary = lws_frame_is_binary(wsi);
        }
        if (c->rx.len + len > (size_t)daemon_state.cfg->rooms.max_message) {
            metrics_count_drop("too_large");
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                             (unsigned char *)"message too large", 17);
            return -1;
        }
        buf_append(&c->rx, in, len);
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            return 0;
        const char *text = c->rx.data ? c->rx.data : "";
        if (!c->rx_binary && !utf8_valid(text, c->rx.len)) {
            /* RFC 6455 8.1: invalid UTF-8 in a text message fails the
             * connection with 1007. */
            metrics_count_drop("invalid_utf8");
            lws_close_reason(wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD,
                             (unsigned char *)"invalid UTF-8", 13);
            return -1;
        }
        if (c->rx_binary)
            conn_send_error(c, "invalid_message", "frames are JSON text");
        else
            on_input(c, text, c->rx.len);
        buf_reset(&c->rx);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE_PONG:
        /* Our keepalive pings carry a payload, so their pongs land here. */
        if (pss->conn) {
            pss->conn->last_seen_us = clock_mono_us();
            lws_validity_confirmed(wsi);
        }
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss->conn)
            return 0;
        return conn_on_writable(pss->conn);

    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            struct conn *c = pss->conn;
            pss->conn = NULL;
            conn_closed(c);
            room_conn_gone(c);
            conn_release(c); /* lws' own hold */
        }
        return 0;

    case LWS_CALLBACK_HTTP:
        return serve_http(wsi, pss, in ? (const char *)in : "");

    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!pss->body)
            return 0;
        unsigned char *out = malloc(LWS_PRE + pss->body_len);
        if (!out)
            return -1;
        memcpy(out + LWS_PRE, pss->body, pss->body_len);
        int w = lws_write(wsi, out + LWS_PRE, pss->body_len, LWS_WRITE_HTTP_FINAL);
        free(out);
        free(pss->body);
        pss->body = NULL;
        if (w < 0)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (stop_requested && !stopping) {
            stopping = true;
            daemon_state.shutting_down = true;
            log_info("component=rooms event=shutdown connections=%d", conn_count());
            server_begin_stop();
        }
        return 0;

    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size: lws keeps one per connection that ever sent a frame;
     * client frames are small (joins, sends), bigger ones arrive in
     * pieces that RECEIVE puts together. */
    { "pitchey-rooms", callback_ws, sizeof(struct pss), 1024, 0, NULL, 0 },
    { "pitchey-pg", NULL, 0, 0, 0, NULL, 0 }, /* filled from pg_protocol */
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};
static struct lws_protocols protocols_rw[3];

/* ------------------------------------------------------- sweep and stop */

static void sweep_one(struct conn *c, void *arg)
{
    int64_t now = *(int64_t *)arg;
    int64_t idle = (int64_t)daemon_state.cfg->rooms.idle_timeout_s * 1000000;
    if (c->wsi && !c->closing && now - c->last_seen_us > idle) {
        metrics_count_drop("idle");
        conn_close(c, ROOMS_CLOSE_IDLE, "idle timeout");
    }
}

static void ping_one(struct conn *c, void *arg)
{
    (void)arg;
    conn_ping(c);
}

/* Keepalive pings are ours, not lws' validity pings: those are empty, and
 * lws 4.1 hands an empty pong to nobody, so a client that answered them
 * would still look idle to the sweep. */
static void on_ping(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    conn_each(ping_one, NULL);
    lws_sul_schedule(daemon_state.ctx, 0, &ping_sul, on_ping,
                     (lws_usec_t)daemon_state.cfg->rooms.ping_interval_s * LWS_US_PER_SEC);
}

static void on_sweep(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    int64_t now = clock_mono_us();
    conn_each(sweep_one, &now);
    lws_sul_schedule(daemon_state.ctx, 0, &sweep_sul, on_sweep,
                     (lws_usec_t)daemon_state.cfg->rooms.sweep_interval_s * LWS_US_PER_SEC);
}

static void close_going_away(struct conn *c, void *arg)
{
    (void)arg;
    conn_close(c, 1001, "server shutting down");
}

static void stopped(void *arg)
{
    (void)arg;
    backplane_stopped = true;
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    deadline_passed = true;
}

static void server_begin_stop(void)
{
    lws_sul_cancel(&sweep_sul);
    lws_sul_cancel(&ping_sul);
    conn_each(close_going_away, NULL);
    backplane_stop(stopped, NULL);
    lws_sul_schedule(daemon_state.ctx, 0, &deadline_sul, on_deadline, 1500 * LWS_US_PER_MS);
}

void server_request_stop(void)
{
    stop_requested = 1;
    if (daemon_state.ctx)
        lws_cancel_service(daemon_state.ctx);
}

/* ----------------------------------------------------------- lifecycle */

static int parse_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t n = (size_t)(colon - s);
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof iface)
        return -1;
    memcpy(iface, s, n);
    iface[n] = '\0';
    port = atoi(colon + 1);
    return port > 0 && port < 65536 ? 0 : -1;
}

int server_init(void)
{
    const struct config *cfg = daemon_state.cfg;
    if (parse_listen(cfg->rooms.listen) != 0) {
        log_error("component=rooms event=bad_listen listen=%s", cfg->rooms.listen);
        return -1;
    }
    memcpy(protocols_rw, protocols, sizeof protocols);
    protocols_rw[1] = pg_protocol;

    char err[160];
    if (access_check_list(cfg->metrics.allow, err, sizeof err) != 0) {
        log_error("component=rooms event=bad_config key=metrics.allow reason=\"%s\"", err);
        return -1;
    }
    /* lws' own validity pings and hang-up are left far out of the way:
     * the pings and the idle sweep are ours (see on_ping). */
    retry.secs_since_valid_ping = UINT16_MAX - 1;
    retry.secs_since_valid_hangup = UINT16_MAX;
    conn_set_input_handler(handle_message);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = iface;
    info.protocols = protocols_rw;
    info.retry_and_idle_policy = &retry;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (!strchr(iface, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.vhost_name = "pitchey-rooms";
    info.timeout_secs = 10;

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    daemon_state.ctx = lws_create_context(&info);
    if (!daemon_state.ctx) {
        log_error("component=rooms event=context_failed");
        return -1;
    }
    daemon_state.vh = lws_create_vhost(daemon_state.ctx, &info);
    if (!daemon_state.vh) {
        log_error("component=rooms event=listen_failed listen=%s", cfg->rooms.listen);
        lws_context_destroy(daemon_state.ctx);
        daemon_state.ctx = NULL;
        return -1;
    }
    log_info("component=rooms event=listening listen=%s node=%lld", cfg->rooms.listen,
             (long long)daemon_state.node_id);
    lws_sul_schedule(daemon_state.ctx, 0, &sweep_sul, on_sweep,
                     (lws_usec_t)cfg->rooms.sweep_interval_s * LWS_US_PER_SEC);
    lws_sul_schedule(daemon_state.ctx, 0, &ping_sul, on_ping,
                     (lws_usec_t)cfg->rooms.ping_interval_s * LWS_US_PER_SEC);
    return 0;
}

void server_run(void)
{
    while (!(stopping && ((backplane_stopped && conn_count() == 0) || deadline_passed)))
        if (lws_service(daemon_state.ctx, 0) < 0)
            break;
}

void server_free(void)
{
    lws_sul_cancel(&sweep_sul);
    lws_sul_cancel(&ping_sul);
    lws_sul_cancel(&deadline_sul);
    backplane_free();
    if (daemon_state.ctx)
        lws_context_destroy(daemon_state.ctx);
    daemon_state.ctx = NULL;
}
