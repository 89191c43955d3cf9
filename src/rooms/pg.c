/* pg: asynchronous libpq on the lws loop; see pg.h.
 *
 * States: IDLE (waiting to reconnect), CONNECTING (PQconnectPoll driven by
 * socket readiness), READY.  The adopted wsi's opaque user data points back
 * at the struct pg; a wsi closed by lws (hang-up) or by us (return -1)
 * lands in RAW_CLOSE_FILE, which finishes libpq and schedules a retry. */
#include "pitchey-build.h"

#include "rooms/pg.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/xalloc.h"

enum pg_state { PG_IDLE, PG_CONNECTING, PG_READY };

struct query {
    char *sql;
    int nparams;
    char **params;
    pg_result_fn fn;
    void *arg;
    struct query *next;
};

struct pg {
    lws_sorted_usec_list_t sul;       /* reconnect timer */
    lws_sorted_usec_list_t write_sul; /* re-arms POLLOUT after a writable callback */
    bool in_writable;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    char *conninfo;
    char *name;
    struct pg_handlers h;
    void *arg;
    PGconn *conn;
    struct lws *wsi;
    int fd; /* the libpq socket the wsi watches a dup of */
    enum pg_state state;
    bool want_write_connect;
    bool stopped;
    int attempt;
    struct query *head, *tail; /* head is in flight when sent */
    bool sent;
    int pending;
    PGresult *last;
};

static void query_free(struct query *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

/* Completes the head query with res (may be NULL). */
static void complete_head(struct pg *pg, PGresult *res)
{
    struct query *q = pg->head;
    pg->head = q->next;
    if (!pg->head)
        pg->tail = NULL;
    pg->sent = false;
    pg->pending--;
    q->fn(res, q->arg);
    query_free(q);
}

static void fail_all(struct pg *pg)
{
    if (pg->last) {
        PQclear(pg->last);
        pg->last = NULL;
    }
    while (pg->head)
        complete_head(pg, NULL);
}

static void schedule_retry(struct pg *pg);

static bool adopt(struct pg *pg)
{
    int fd = PQsocket(pg->conn);
    int copy = fd >= 0 ? dup(fd) : -1;
    if (copy < 0)
        return false;
    lws_sock_file_fd_type u;
    u.filefd = copy;
    struct lws *wsi = lws_adopt_descriptor_vhost(pg->vh, LWS_ADOPT_RAW_FILE_DESC, u,
                                                 pg_protocol.name, NULL);
    if (!wsi) {
        close(copy);
        return false;
    }
    lws_set_opaque_user_data(wsi, pg);
    pg->wsi = wsi;
    pg->fd = fd;
    return true;
}

/* Drops libpq's side; the wsi (if any) must already be closing. */
static void lost(struct pg *pg, const char *why)
{
    bool was_ready = pg->state == PG_READY;
    if (pg->conn || why) {
        log_warn("component=pg conn=%s event=lost reason=\"%s\"", pg->name,
                     why ? why : PQerrorMessage(pg->conn));
        if (pg->conn)
            PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->wsi = NULL;
    pg->state = PG_IDLE;
    fail_all(pg);
    if (was_ready && pg->h.on_disconnect)
        pg->h.on_disconnect(pg, pg->arg);
    schedule_retry(pg);
}

static void on_write_sul(lws_sorted_usec_list_t *sul)
{
    struct pg *pg = lws_container_of(sul, struct pg, write_sul);
    if (pg->wsi)
        lws_callback_on_writable(pg->wsi);
}

/* lws' raw-file role clears POLLOUT after the writable callback returns,
 * so a request made inside it is re-armed from a timer instead. */
static void request_write(struct pg *pg)
{
    if (!pg->wsi)
        return;
    if (pg->in_writable)
        lws_sul_schedule(pg->ctx, 0, &pg->write_sul, on_write_sul, 1);
    else
        lws_callback_on_writable(pg->wsi);
}

/* Sends the head query when idle.  Returns -1 on a connection error. */
static int pump(struct pg *pg)
{
    if (pg->state != PG_READY || pg->sent || !pg->head)
        return 0;
    struct query *q = pg->head;
    int ok;
    if (q->nparams == 0)
        ok = PQsendQuery(pg->conn, q->sql);
    else
        ok = PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL,
                               (const char *const *)q->params, NULL, NULL, 0);
    if (!ok)
        return -1;
    pg->sent = true;
    int f = PQflush(pg->conn);
    if (f < 0)
        return -1;
    if (f == 1)
        request_write(pg);
    return 0;
}

static void connected(struct pg *pg)
{
    pg->state = PG_READY;
    pg->attempt = 0;
    PQsetnonblocking(pg->conn, 1);
    log_info("component=pg conn=%s event=connected", pg->name);
    if (pg->h.on_connect)
        pg->h.on_connect(pg, pg->arg);
}

/* Drives PQconnectPoll; returns -1 to close the wsi. */
static int connect_step(struct pg *pg)
{
    PostgresPollingStatusType st = PQconnectPoll(pg->conn);
    if (st == PGRES_POLLING_FAILED)
        return -1;
    if (PQsocket(pg->conn) != pg->fd) {
        /* libpq moved to another socket (next address): watch that one. */
        struct lws *old = pg->wsi;
        if (!adopt(pg))
            return -1;
        lws_set_opaque_user_data(old, NULL);
    }
    if (st == PGRES_POLLING_OK) {
        connected(pg);
        return pump(pg);
    }
    pg->want_write_connect = st == PGRES_POLLING_WRITING;
    if (pg->want_write_connect)
        request_write(pg);
    return 0;
}

/* Reads what is there: results, then notifications.  -1 on error. */
static int readable(struct pg *pg)
{
    if (!PQconsumeInput(pg->conn))
        return -1;
    while (pg->sent && !PQisBusy(pg->conn)) {
        PGresult *r = PQgetResult(pg->conn);
        if (r) {
            if (pg->last)
                PQclear(pg->last);
            pg->last = r;
            continue;
        }
        PGresult *res = pg->last;
        pg->last = NULL;
        complete_head(pg, res);
        if (res)
            PQclear(res);
        if (!pg->conn || pg->state != PG_READY)
            return -1;
        if (pump(pg) < 0)
            return -1;
    }
    PGnotify *n;
    while (pg->conn && (n = PQnotifies(pg->conn)) != NULL) {
        if (pg->h.on_notify)
            pg->h.on_notify(pg, n->relname, n->extra, pg->arg);
        PQfreemem(n);
    }
    if (PQstatus(pg->conn) == CONNECTION_BAD)
        return -1;
    return pump(pg);
}

static int callback_pg(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    struct pg *pg = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!pg || pg->wsi != wsi)
            return -1;
        if (pg->state == PG_CONNECTING)
            return pg->want_write_connect ? 0 : connect_step(pg);
        return readable(pg);
    case LWS_CALLBACK_RAW_WRITEABLE_FILE: {
        if (!pg || pg->wsi != wsi)
            return -1;
        int rc = 0;
        pg->in_writable = true;
        if (pg->state == PG_CONNECTING) {
            rc = pg->want_write_connect ? connect_step(pg) : 0;
        } else if (pg->state == PG_READY) {
            int f = PQflush(pg->conn);
            if (f < 0)
                rc = -1;
            else if (f == 1)
                request_write(pg);
        }
        pg->in_writable = false;
        return rc;
    }
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (pg && pg->wsi == wsi)
            lost(pg, NULL);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols pg_protocol = { "pitchey-pg", callback_pg, 0, 0, 0, NULL, 0 };

static void start_connect(struct pg *pg)
{
    if (pg->stopped)
        return;
    const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
    const char *vals[] = { pg->conninfo, pg->name, "5", NULL };
    pg->conn = PQconnectStartParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
        lost(pg, "cannot start a connection");
        return;
    }
    pg->state = PG_CONNECTING;
    pg->want_write_connect = true;
    if (!adopt(pg)) {
        lost(pg, "cannot watch the socket");
        return;
    }
    request_write(pg);
}

static void on_retry(lws_sorted_usec_list_t *sul)
{
    struct pg *pg = lws_container_of(sul, struct pg, sul);
    start_connect(pg);
}

static void schedule_retry(struct pg *pg)
{
    if (pg->stopped)
        return;
    int ms = backoff_delay_ms(100, pg->attempt < 6 ? pg->attempt : 6,
                              (double)random() / (double)RAND_MAX);
    if (ms > 2000)
        ms = 2000;
    pg->attempt++;
    lws_sul_schedule(pg->ctx, 0, &pg->sul, on_retry, (lws_usec_t)ms * 1000);
}

struct pg *pg_new(struct lws_context *ctx, struct lws_vhost *vh, const char *conninfo,
                  const char *name, const struct pg_handlers *h, void *arg)
{
    struct pg *pg = xcalloc(1, sizeof *pg);
    pg->ctx = ctx;
    pg->vh = vh;
    pg->conninfo = xstrdup(conninfo);
    pg->name = xstrdup(name);
    pg->h = *h;
    pg->arg = arg;
    pg->fd = -1;
    return pg;
}

void pg_start(struct pg *pg)
{
    start_connect(pg);
}

void pg_reset(struct pg *pg)
{
    if (pg->wsi) {
        struct lws *w = pg->wsi;
        lws_set_opaque_user_data(w, NULL);
        lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        lost(pg, "reset");
    }
}

void pg_free(struct pg *pg)
{
    if (!pg)
        return;
    pg->stopped = true;
    lws_sul_cancel(&pg->sul);
    lws_sul_cancel(&pg->write_sul);
    if (pg->wsi) {
        lws_set_opaque_user_data(pg->wsi, NULL);
        pg->wsi = NULL;
    }
    fail_all(pg);
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->conninfo);
    free(pg->name);
    free(pg);
}

bool pg_connected(const struct pg *pg)
{
    return pg->state == PG_READY;
}

int pg_pending(const struct pg *pg)
{
    return pg->pending;
}

int pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params,
             pg_result_fn fn, void *arg)
{
    if (pg->state == PG_IDLE || pg->stopped)
        return -1;
    struct query *q = xcalloc(1, sizeof *q);
    q->sql = xstrdup(sql);
    q->nparams = nparams;
    if (nparams) {
        q->params = xcalloc((size_t)nparams, sizeof(char *));
        for (int i = 0; i < nparams; i++)
            q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    }
    q->fn = fn;
    q->arg = arg;
    if (pg->tail)
        pg->tail->next = q;
    else
        pg->head = q;
    pg->tail = q;
    pg->pending++;
    if (pump(pg) < 0) {
        /* Reported through the socket: the next read fails and closes. */
        request_write(pg);
    }
    return 0;
}
