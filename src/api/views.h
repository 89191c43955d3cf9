/* views: pitch view counts, summed in process memory and written in one
 * statement every view_flush_ms, once view_flush_batch distinct pitches are
 * pending, and at shutdown.  The statement is sent without waiting for its
 * result (db_send), so a flush never holds a worker; its result comes back
 * through db_poll(), db_housekeeping() or the next db_query().  One worker
 * of the pool flushes at a time (an advisory lock that nobody waits for), so
 * flushes can never deadlock.  Counts live in pitch_views, a narrow side
 * table, so a flush never rewrites a pitch row or its full-text index.  A
 * flush that fails or finds another flusher keeps its counts for the next. */
#ifndef PITCHEY_API_VIEWS_H
#define PITCHEY_API_VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

struct views;

struct views *views_new(int batch);
void views_free(struct views *v);
void views_count(struct views *v, int64_t pitch_id);
/* Adds n (>= 1) views of one pitch (the nginx fast path's, api/fastpath.h). */
void views_add(struct views *v, int64_t pitch_id, int64_t n);
bool views_batch_full(const struct views *v);
/* The advisory lock key that serialises flushes (also taken by pitcheyctl
 * seed-demo, which rewrites pitch_views in bulk). */
#define VIEWS_FLUSH_LOCK_KEY "7305110001"

/* Sends the pending counts: 0 sent (or nothing to do); 1 not now (a
 * flush of this process is in flight, or the last one found another worker
 * flushing or failed a moment ago); -1 it could not be sent.  Counts are
 * never dropped on the way: a flush that does not go through puts them
 * back.  Call db_wait() before views_free() while one may be in flight. */
int views_flush(struct views *v, struct db *db);
/* Whether a flush of this process awaits its result. */
bool views_in_flight(const struct views *v);
/* Flushes that found another worker flushing, for tests and metrics. */
uint64_t views_busy_count(const struct views *v);
/* Pending distinct pitches, for tests and metrics. */
int views_pending(const struct views *v);

#endif
