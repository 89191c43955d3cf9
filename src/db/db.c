/* db: the per-process connection manager (see db.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/backoff.h"
#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "db/db.h"
#include "db/sqlstate.h"

struct db {
    struct db_options opts;
    char *url;
    PGconn *conn;
    int64_t last_used;
    bool ever_connected;
    const struct db_stmt **prepared;
    size_t nprepared, capprepared;
    struct breaker breaker;
    PGconn *probe;           /* background connection attempt while open */
    int64_t probe_deadline;
    struct db_stats stats;
    int64_t wait_us;
    /* The statement db_send() sent, whose result nobody has read yet. */
    const struct db_stmt *async_stmt;
    db_done_fn async_done;
    void *async_arg;
    int64_t async_deadline;
};

static bool finish_async(struct db *db, bool wait);

enum attempt {
    ATTEMPT_OK,
    ATTEMPT_SQL_ERROR,     /* connection fine, statement refused */
    ATTEMPT_BROKEN,        /* connection failed; sent says whether it ran */
    ATTEMPT_TIMEOUT,       /* no answer before the deadline */
};

struct db *db_new(const struct db_options *opts)
{
    struct db *db = xcalloc(1, sizeof *db);
    db->opts = *opts;
    db->url = xstrdup(opts->url ? opts->url : "");
    db->opts.url = db->url;
    breaker_init(&db->breaker, opts->breaker_threshold, opts->breaker_cooldown_ms);
    return db;
}

static void drop_connection(struct db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->nprepared = 0;
}

void db_free(struct db *db)
{
    if (db == NULL)
        return;
    (void)finish_async(db, true);
    drop_connection(db);
    if (db->probe)
        PQfinish(db->probe);
    free(db->prepared);
    free(db->url);
    free(db);
}

/* Waits for the socket; 1 ready, 0 deadline passed, -1 error. */
static int wait_socket(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - clock_mono_us();
        if (left <= 0)
            return 0;
        struct pollfd p = { fd, events, 0 };
        int rc = poll(&p, 1, (int)((left + 999) / 1000));
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static void set_error(struct db_error *err, const char *state, const char *msg)
{
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
    snprintf(err->message, sizeof err->message, "%s", msg ? msg : "");
    /* libpq messages end in a newline; logs want one line. */
    size_t n = strlen(err->message);
    while (n && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
        err->message[--n] = '\0';
    for (char *p = err->message; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' ';
}

/* libpq prints server notices (such as the FATAL sent to idle sessions at
 * shutdown) on stderr by default; they belong in our log, one line each. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    size_t n = strlen(message);
    while (n && message[n - 1] == '\n')
        n--;
    /* Server text may quote values: escaped like every logged value. */
    char text[LOG_VALUE_MAX], value[LOG_VALUE_MAX];
    snprintf(text, sizeof text, "%.*s", (int)n, message);
    log_info("event=db_notice message=%s", log_escape(value, sizeof value, text));
}

/* Starts a non-blocking connection attempt with the session settings. */
static PGconn *connect_start(struct db *db)
{
    char opts[192];
    /* Postgres' own choice of plan caching: every statement is written so
     * that its generic plan is a good one (the lists have one statement per
     * set of filters), and a kept plan saves the planning at each call. */
    snprintf(opts, sizeof opts, "-c statement_timeout=%d -c TimeZone=UTC",
             db->opts.statement_timeout_ms);
    const char *keys[] = { "dbname", "application_name", "options", "client_encoding", NULL };
    const char *vals[] = { db->url,
                           db->opts.application_name ? db->opts.application_name : "pitchey",
                           opts, "UTF8", NULL };
    db->stats.connects++;
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, log_notice, NULL);
    return c;
}

static void adopt_connection(struct db *db, PGconn *c)
{
    if (db->ever_connected)
        db->stats.reconnects++;
    db->ever_connected = true;
    db->conn = c;
    db->nprepared = 0;
    log_debug("event=db_connect backend_pid=%d", PQbackendPID(c));
}

/* Connects within connect_timeout_ms.  Returns 0, or -1 with timed_out set
 * when the server accepted but did not answer (a hung server). */
static int connect_now(struct db *db, struct db_error *err, bool *timed_out)
{
    *timed_out = false;
    int64_t deadline = clock_mono_us() + (int64_t)db->opts.connect_timeout_ms * 1000;
    PGconn *c = connect_start(db);
    if (c == NULL) {
        set_error(err, "08000", "out of memory");
        return -1;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD) {
        if (st == PGRES_POLLING_OK)
            break;
        if (st == PGRES_POLLING_FAILED)
            break;
        int ready = wait_socket(PQsocket(c),
                                st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (ready == 0) {
            *timed_out = true;
            set_error(err, "08001", "connection attempt timed out");
            PQfinish(c);
            db->stats.connect_failures++;
            return -1;
        }
        if (ready < 0)
            break;
        st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        set_error(err, "08001", PQerrorMessage(c));
        PQfinish(c);
        db->stats.connect_failures++;
        return -1;
    }
    adopt_connection(db, c);
    return 0;
}

/* A connection that sat idle may have been closed by the server (restart,
 * pg_terminate_backend): read whatever it sent before trusting it. */
static bool connection_usable(struct db *db)
{
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
        return false;
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        return false;
    struct pollfd p = { PQsocket(db->conn), POLLIN, 0 };
    if (poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)
            return false;
        PGnotify *n;
        while ((n = PQnotifies(db->conn)) != NULL)
            PQfreemem(n);
    }
    return true;
}

static bool is_prepared(const struct db *db, const struct db_stmt *stmt)
{
    for (size_t i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == stmt)
            return true;
    return false;
}

static void mark_prepared(struct db *db, const struct db_stmt *stmt)
{
    if (db->nprepared == db->capprepared) {
        db->capprepared = db->capprepared ? db->capprepared * 2 : 32;
        db->prepared = xrealloc(db->prepared, db->capprepared * sizeof *db->prepared);
    }
    db->prepared[db->nprepared++] = stmt;
}

/* Collects the results of what was sent; keeps the first error or the
 * last result. */
static enum attempt collect(struct db *db, int64_t deadline, PGresult **out,
                            struct db_error *err)
{
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(db->conn)) {
            int ready = wait_socket(PQsocket(db->conn), POLLIN, deadline);
            if (ready == 0) {
                PQclear(keep);
                set_error(err, "57014", "no answer from the database before the deadline");
                return ATTEMPT_TIMEOUT;
            }
            if (ready < 0 || !PQconsumeInput(db->conn)) {
                PQclear(keep);
                set_error(err, "08006", PQerrorMessage(db->conn));
                return ATTEMPT_BROKEN;
            }
        }
        PGresult *r = PQgetResult(db->conn);
        if (r == NULL)
            break;
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
            if (keep == NULL || PQresultStatus(keep) != PGRES_FATAL_ERROR) {
                PQclear(keep);
                keep = r;
            } else {
                PQclear(r);
            }
            continue;
        }
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(keep);
        keep = r;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        const char *state = keep ? PQresultErrorField(keep, PG_DIAG_SQLSTATE) : NULL;
        set_error(err, state ? state : "08006", PQerrorMessage(db->conn));
        PQclear(keep);
        return ATTEMPT_BROKEN;
    }
    if (keep == NULL) {
        set_error(err, "XX000", "no result");
        return ATTEMPT_SQL_ERROR;
    }
    if (PQresultStatus(keep) == PGRES_FATAL_ERROR || PQresultStatus(keep) == PGRES_BAD_RESPONSE) {
        set_error(err, PQresultErrorField(keep, PG_DIAG_SQLSTATE),
                  PQresultErrorField(keep, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(keep);
        return ATTEMPT_SQL_ERROR;
    }
    *out = keep;
    return ATTEMPT_OK;
}

static enum attempt run_once(struct db *db, const struct db_stmt *stmt, int nparams,
                             const char *const *params, PGresult **out, struct db_error *err,
                             bool *sent)
{
    int64_t deadline = clock_mono_us() + ((int64_t)db->opts.statement_timeout_ms + 1000) * 1000;
    *sent = false;
    if (db->opts.prepared_statements && !is_prepared(db, stmt)) {
        if (!PQsendPrepare(db->conn, stmt->name, stmt->sql, nparams, NULL)) {
            set_error(err, "08006", PQerrorMessage(db->conn));
            return ATTEMPT_BROKEN;
        }
        PGresult *r = NULL;
        enum attempt a = collect(db, deadline, &r, err);
        PQclear(r);
        /* 42P05: already prepared on this session (we lost track). */
        if (a == ATTEMPT_SQL_ERROR && strcmp(err->sqlstate, "42P05") != 0)
            return a;
        if (a != ATTEMPT_OK && a != ATTEMPT_SQL_ERROR)
            return a;
        mark_prepared(db, stmt);
    }
    int ok = db->opts.prepared_statements
                 ? PQsendQueryPrepared(db->conn, stmt->name, nparams, params, NULL, NULL, 0)
                 : PQsendQueryParams(db->conn, stmt->sql, nparams, NULL, params, NULL, NULL, 0);
    if (!ok) {
        set_error(err, "08006", PQerrorMessage(db->conn));
        return ATTEMPT_BROKEN;
    }
    *sent = true;
    return collect(db, deadline, out, err);
}

/* A hung server (timeout) opens the circuit at once: every further try
 * would cost another timeout.  Refused connections count toward the
 * threshold. */
static void open_on_failure(struct db *db, bool timed_out)
{
    int64_t now = clock_mono_us();
    if (timed_out)
        breaker_trip(&db->breaker, now);
    else
        breaker_failure(&db->breaker, now);
}

static void fail_unavailable(struct db *db, struct db_error *err)
{
    int64_t now = clock_mono_us();
    err->retry_after_s = db->breaker.open_until != 0 ? breaker_retry_after_s(&db->breaker, now) : 1;
    db->stats.unavailable++;
}

/* Reads the result of the statement db_send() sent and hands it to its
 * done function.  wait: block until it is in (up to its deadline); else
 * return false at once when it is not in yet. */
static bool finish_async(struct db *db, bool wait)
{
    if (db->async_stmt == NULL)
        return true;
    if (!wait) {
        if (db->conn && PQconsumeInput(db->conn) && PQisBusy(db->conn))
            return false;
    }
    const struct db_stmt *stmt = db->async_stmt;
    db_done_fn done = db->async_done;
    void *arg = db->async_arg;
    db->async_stmt = NULL;
    PGresult *r = NULL;
    struct db_error err;
    memset(&err, 0, sizeof err);
    enum attempt a = db->conn ? collect(db, db->async_deadline, &r, &err) : ATTEMPT_BROKEN;
    enum db_status st = DB_OK;
    if (a == ATTEMPT_SQL_ERROR) {
        db->stats.query_errors++;
        st = sqlstate_classify(err.sqlstate) == SQLSTATE_CANCELED ? DB_UNAVAILABLE : DB_FAILED;
        log_warn("event=db_error stmt=%s sqlstate=%s reason=\"%s\"", stmt->name, err.sqlstate,
                 err.message);
    } else if (a == ATTEMPT_TIMEOUT) {
        db->stats.timeouts++;
        drop_connection(db);
        open_on_failure(db, true);
        log_warn("event=db_timeout stmt=%s", stmt->name);
        st = DB_UNAVAILABLE;
    } else if (a == ATTEMPT_BROKEN) {
        drop_connection(db);
        log_warn("event=db_connection_broken stmt=%s sent=1 sqlstate=%s", stmt->name,
                 err.sqlstate);
        st = DB_UNAVAILABLE;
    }
    db->last_used = clock_mono_us();
    done(arg, st, st == DB_OK ? r : NULL);
    PQclear(r);
    return true;
}

int db_send(struct db *db, const struct db_stmt *stmt, int nparams, const char *const *params,
            db_done_fn done, void *arg)
{
    if (db->async_stmt != NULL || db->breaker.open_until != 0)
        return -1;
    struct db_error err;
    memset(&err, 0, sizeof err);
    if (!connection_usable(db)) {
        if (db->conn)
            drop_connection(db);
        bool timed_out;
        if (connect_now(db, &err, &timed_out) != 0) {
            open_on_failure(db, timed_out);
            log_warn("event=db_connect_failed timed_out=%d reason=\"%s\"", (int)timed_out,
                     err.message);
            return -1;
        }
        breaker_success(&db->breaker);
    }
    int64_t deadline = clock_mono_us() + ((int64_t)db->opts.statement_timeout_ms + 1000) * 1000;
    if (db->opts.prepared_statements && !is_prepared(db, stmt)) {
        /* Once per connection, and short: prepare in the foreground. */
        if (!PQsendPrepare(db->conn, stmt->name, stmt->sql, nparams, NULL)) {
            drop_connection(db);
            return -1;
        }
        PGresult *r = NULL;
        enum attempt a = collect(db, deadline, &r, &err);
        PQclear(r);
        if (a != ATTEMPT_OK && !(a == ATTEMPT_SQL_ERROR && strcmp(err.sqlstate, "42P05") == 0)) {
            if (a != ATTEMPT_SQL_ERROR)
                drop_connection(db);
            return -1;
        }
        mark_prepared(db, stmt);
    }
    int ok = db->opts.prepared_statements
                 ? PQsendQueryPrepared(db->conn, stmt->name, nparams, params, NULL, NULL, 0)
                 : PQsendQueryParams(db->conn, stmt->sql, nparams, NULL, params, NULL, NULL, 0);
    if (!ok) {
        drop_connection(db);
        return -1;
    }
    db->stats.queries++;
    db->async_stmt = stmt;
    db->async_done = done;
    db->async_arg = arg;
    db->async_deadline = deadline;
    db->last_used = clock_mono_us();
    return 0;
}

void db_poll(struct db *db)
{
    (void)finish_async(db, false);
}

void db_wait(struct db *db)
{
    (void)finish_async(db, true);
}

bool db_sending(const struct db *db)
{
    return db->async_stmt != NULL;
}

enum db_status db_query(struct db *db, const struct db_stmt *stmt, int nparams,
                        const char *const *params, unsigned flags, PGresult **res,
                        struct db_error *err)
{
    /* The connection first finishes what db_send() started. */
    (void)finish_async(db, true);
    int64_t started = clock_mono_us();
    enum db_status status = DB_UNAVAILABLE;
    *res = NULL;
    memset(err, 0, sizeof *err);
    db->stats.queries++;

    for (int attempt = 0; attempt < db->opts.retries; attempt++) {
        if (attempt > 0) {
            db->stats.retries++;
            clock_sleep_ms(backoff_delay_ms(db->opts.retry_base_ms, attempt - 1,
                                            randombytes_uniform(1000001) / 1e6));
        }
        if (!connection_usable(db)) {
            if (db->conn) {
                log_info("event=db_connection_lost");
                drop_connection(db);
            }
            /* While the circuit is open, requests fail fast; only the
             * background probe in db_housekeeping() tries to connect. */
            if (db->breaker.open_until != 0) {
                db->breaker.rejects++;
                set_error(err, "08000", "circuit open");
                break;
            }
            bool timed_out;
            log_debug("event=db_connect_attempt");
            if (connect_now(db, err, &timed_out) != 0) {
                open_on_failure(db, timed_out);
                char reason[LOG_VALUE_MAX];
                log_warn("event=db_connect_failed timed_out=%d reason=%s", (int)timed_out,
                         log_escape(reason, sizeof reason, err->message));
                if (timed_out)
                    break; /* another try would cost another timeout */
                continue;
            }
            breaker_success(&db->breaker);
        }
        bool sent;
        enum attempt a = run_once(db, stmt, nparams, params, res, err, &sent);
        db->last_used = clock_mono_us();
        if (a == ATTEMPT_OK) {
            status = DB_OK;
            break;
        }
        enum sqlstate_kind kind = sqlstate_classify(err->sqlstate);
        if (a == ATTEMPT_TIMEOUT) {
            db->stats.timeouts++;
            drop_connection(db);
            open_on_failure(db, true);
            log_warn("event=db_timeout stmt=%s", stmt->name);
            status = DB_UNAVAILABLE;
            break;
        }
        if (a == ATTEMPT_SQL_ERROR) {
            if (kind == SQLSTATE_ROLLED_BACK && attempt + 1 < db->opts.retries)
                continue;
            db->stats.query_errors++;
            status = kind == SQLSTATE_CANCELED ? DB_UNAVAILABLE : DB_FAILED;
            if (kind == SQLSTATE_CANCELED)
                log_warn("event=db_statement_timeout stmt=%s", stmt->name);
            break;
        }
        /* ATTEMPT_BROKEN */
        drop_connection(db);
        log_warn("event=db_connection_broken stmt=%s sent=%d sqlstate=%s", stmt->name, (int)sent,
                 err->sqlstate);
        bool may_retry = sqlstate_retryable(kind, sent) || !sent || (flags & DB_IDEMPOTENT);
        status = DB_UNAVAILABLE;
        if (!may_retry)
            break;
    }
    if (status == DB_UNAVAILABLE)
        fail_unavailable(db, err);
    db->wait_us += clock_mono_us() - started;
    return status;
}

int64_t db_take_wait_us(struct db *db)
{
    int64_t w = db->wait_us;
    db->wait_us = 0;
    return w;
}

/* The background probe: a non-blocking connection attempt advanced a step
 * per housekeeping tick, so no request ever waits on a dead server and the
 * circuit closes within a tick of the server coming back. */
static void probe_step(struct db *db, int64_t now)
{
    if (db->probe == NULL) {
        if (now < db->breaker.open_until)
            return;
        log_debug("event=db_probe_start");
        db->probe = connect_start(db);
        db->probe_deadline = now + (int64_t)db->opts.connect_timeout_ms * 1000;
        if (db->probe == NULL)
            return;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    /* Advance while the socket is ready; never wait. */
    for (int i = 0; i < 16 && PQstatus(db->probe) != CONNECTION_BAD; i++) {
        st = PQconnectPoll(db->probe);
        if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
            break;
        struct pollfd p = { PQsocket(db->probe), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                            0 };
        if (poll(&p, 1, 0) <= 0)
            break;
    }
    if (st == PGRES_POLLING_OK && PQstatus(db->probe) == CONNECTION_OK) {
        drop_connection(db);
        adopt_connection(db, db->probe);
        db->probe = NULL;
        breaker_success(&db->breaker);
        log_info("event=db_circuit_closed");
        return;
    }
    bool failed = st == PGRES_POLLING_FAILED || PQstatus(db->probe) == CONNECTION_BAD;
    if (failed || now >= db->probe_deadline) {
        db->stats.connect_failures++;
        log_warn("event=db_connect_failed probe=1 timed_out=%d", (int)!failed);
        PQfinish(db->probe);
        db->probe = NULL;
        breaker_failure(&db->breaker, now);
    }
}

void db_housekeeping(struct db *db, int64_t now_us)
{
    if (db->async_stmt != NULL && !finish_async(db, false))
        return; /* in flight: not idle, nothing to probe */
    if (db->breaker.open_until != 0 || db->probe != NULL)
        probe_step(db, now_us);
    if (db->conn && now_us - db->last_used > (int64_t)db->opts.idle_timeout_s * 1000000) {
        log_debug("event=db_idle_close");
        drop_connection(db);
        db->stats.idle_closes++;
    }
}

bool db_is_connected(const struct db *db)
{
    return db->conn != NULL;
}

bool db_input_pending(const struct db *db)
{
    if (db->conn == NULL)
        return false;
    struct pollfd p = { PQsocket(db->conn), POLLIN, 0 };
    return p.fd >= 0 && poll(&p, 1, 0) != 0;
}

bool db_probe_pending(const struct db *db)
{
    return db->probe != NULL;
}

bool db_circuit_open(const struct db *db)
{
    return db->breaker.open_until != 0;
}

void db_get_stats(const struct db *db, struct db_stats *out)
{
    *out = db->stats;
    out->breaker_opens = db->breaker.opens;
    out->breaker_rejects = db->breaker.rejects;
}
