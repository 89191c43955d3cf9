/* app: everything one worker process owns for its whole life.
 *
 * One struct app per process, created by main() and handed to every
 * handler.  Nothing in it is shared between processes; pool-wide state
 * lives in Postgres, memcached or the shared metrics segment. */
#ifndef PITCHEY_API_APP_H
#define PITCHEY_API_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/request.h"
#include "api/response.h"
#include "cache/client.h"
#include "common/config.h"
#include "common/secret.h"
#include "db/db.h"

struct views;

struct app {
    struct config cfg;
    struct db *db;
    struct cache *cache;
    struct views *views;
    unsigned char secret[SECRET_BYTES];
    pid_t pid;
    int64_t started_us;
    uint64_t requests;
    int64_t last_request_us; /* monotonic time the last request started */
};

typedef void (*handler_fn)(struct app *app, struct request *req, struct response *res);

/* Route flags. */
#define ROUTE_CACHEABLE 1u   /* X-Cache-Status on every answer */

/* Runs one request through routing and its handler; never fails. */
void dispatch_request(struct app *app, struct request *req, struct response *res);
/* Adds the headers every /api answer carries; call right before writing. */
void dispatch_finish_headers(struct app *app, struct request *req, struct response *res,
                             int64_t db_us);
/* Maps a database failure to the contract's error. */
void app_db_error(struct app *app, struct response *res, enum db_status st,
                  const struct db_error *err);

#endif
