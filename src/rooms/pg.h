/* pg: one asynchronous Postgres connection inside the lws event loop.
 *
 * libpq runs non-blocking; a dup() of PQsocket() is adopted into lws as a
 * raw file (lws closes what it adopts, libpq closes its own).  Queries are
 * queued and sent one at a time, so they run and complete in FIFO order
 * (a later query's snapshot sees everything an earlier one saw).  A lost
 * connection fails the query in flight and the queued ones (callback with
 * NULL), then reconnects with backoff; on_connect runs after each connect. */
#ifndef PITCHEY_ROOMS_PG_H
#define PITCHEY_ROOMS_PG_H

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdbool.h>

struct pg;

struct pg_handlers {
    void (*on_connect)(struct pg *pg, void *arg);
    void (*on_disconnect)(struct pg *pg, void *arg);
    void (*on_notify)(struct pg *pg, const char *channel, const char *payload, void *arg);
};

/* res: the last result of the query (check PQresultStatus), or NULL when
 * the connection was lost or never there.  Owned by pg: do not PQclear. */
typedef void (*pg_result_fn)(PGresult *res, void *arg);

/* The protocol entry lws needs for adopted sockets (add to the vhost). */
extern const struct lws_protocols pg_protocol;

/* conninfo: a URL or key=value string; name becomes application_name. */
struct pg *pg_new(struct lws_context *ctx, struct lws_vhost *vh, const char *conninfo,
                  const char *name, const struct pg_handlers *h, void *arg);
/* Starts connecting (and reconnecting after losses). */
void pg_start(struct pg *pg);
/* Stops reconnecting; the connection stays up until pg_free(). */
void pg_free(struct pg *pg);
bool pg_connected(const struct pg *pg);
/* Queues a query; params are copied.  With nparams 0 the text may hold
 * several statements.  Returns -1 (and does not call fn) when the
 * connection is down and not connecting. */
int pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params,
             pg_result_fn fn, void *arg) __attribute__((warn_unused_result));
/* Queries waiting or in flight. */
int pg_pending(const struct pg *pg);
/* Closes the connection as if it had been cut (tests and fault handling). */
void pg_reset(struct pg *pg);

#endif
