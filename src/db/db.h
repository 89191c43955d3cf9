/* db: one process's Postgres connection, reused across requests.
 *
 * Connects lazily with its own deadline (libpq's connect_timeout cannot go
 * below 2 s), checks the connection before each use, closes it after
 * idle_timeout, and reconnects on the next request.  Every statement runs
 * with a client-side deadline too, so a hung server costs one timeout, not
 * a hang.  Retries follow sqlstate_retryable() with exponential backoff.
 * After repeated connection failures (or one timeout: a hung server) the
 * circuit opens: requests fail fast, and db_housekeeping() probes with a
 * non-blocking connection attempt until one succeeds, so no request waits
 * on a dead server and service returns within a probe interval.
 *
 * Statements are constant SQL with $n parameters, declared with DB_STMT and
 * prepared once per connection unless prepared statements are turned off
 * (PgBouncer in transaction mode). */
#ifndef PITCHEY_DB_DB_H
#define PITCHEY_DB_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct db;

struct db_options {
    const char *url;
    const char *application_name;
    int connect_timeout_ms;
    int statement_timeout_ms;
    int idle_timeout_s;
    int retries;
    int retry_base_ms;
    int breaker_threshold;
    int breaker_cooldown_ms;
    bool prepared_statements;
};

struct db_stmt {
    const char *name;
    const char *sql;
};

#define DB_STMT(var, text) static const struct db_stmt var = { "pitchey_" #var, text }

enum db_status {
    DB_OK = 0,
    DB_UNAVAILABLE, /* cannot reach the server, circuit open, or timed out */
    DB_FAILED,      /* the server refused the statement; see sqlstate */
};

struct db_error {
    char sqlstate[6];
    char message[256];
    int retry_after_s;
};

/* The statement only reads (or is otherwise safe to run twice), so it may
 * be retried even after it was sent on a connection that then broke. */
#define DB_IDEMPOTENT 1u

struct db_stats {
    uint64_t queries;
    uint64_t connects;
    uint64_t connect_failures;
    uint64_t reconnects;
    uint64_t retries;
    uint64_t query_errors;
    uint64_t timeouts;
    uint64_t unavailable;
    uint64_t idle_closes;
    uint64_t breaker_opens;
    uint64_t breaker_rejects;
};

struct db *db_new(const struct db_options *opts);
void db_free(struct db *db);

/* Runs one statement.  On DB_OK, *res holds the result (PQclear it).  On
 * failure *res is NULL and err says why; err->retry_after_s is set for
 * DB_UNAVAILABLE. */
enum db_status db_query(struct db *db, const struct db_stmt *stmt, int nparams,
                        const char *const *params, unsigned flags, PGresult **res,
                        struct db_error *err) __attribute__((warn_unused_result));

/* Runs when the result of a db_send() statement is in.  r is the result
 * when status is DB_OK, else NULL; it is freed after the call. */
typedef void (*db_done_fn)(void *arg, enum db_status status, PGresult *r);

/* Sends a statement without waiting for its result: for writes no request
 * waits for (the view-count flush), so the worker goes on serving cache
 * hits while Postgres works.  done runs when the result is read: by
 * db_poll() or db_housekeeping() once it has arrived, or first thing in the
 * next db_query() (which waits for it).  One at a time; never retried (a
 * broken connection reports DB_UNAVAILABLE to done).  Returns 0 when sent;
 * -1 when it was not (one in flight, circuit open, no connection could be
 * made), and done will not run. */
int db_send(struct db *db, const struct db_stmt *stmt, int nparams, const char *const *params,
            db_done_fn done, void *arg) __attribute__((warn_unused_result));
/* Reads a db_send() result if it has arrived; never waits. */
void db_poll(struct db *db);
/* Waits for a db_send() result (up to the statement deadline). */
void db_wait(struct db *db);
/* Whether a db_send() statement is in flight. */
bool db_sending(const struct db *db);

/* Time spent waiting on Postgres since the last call (X-Database-Time). */
int64_t db_take_wait_us(struct db *db);
/* Closes the connection once idle_timeout has passed without use. */
void db_housekeeping(struct db *db, int64_t now_us);
bool db_is_connected(const struct db *db);
/* Whether the server sent something while no statement ran (a shutdown
 * notice, an error, EOF): the connection may be gone.  One poll(), no
 * round trip. */
bool db_input_pending(const struct db *db);
/* True while a background connection attempt is in flight: the caller
 * should run housekeeping again soon (milliseconds, not a full tick). */
bool db_probe_pending(const struct db *db);
bool db_circuit_open(const struct db *db);
void db_get_stats(const struct db *db, struct db_stats *out);

#endif
