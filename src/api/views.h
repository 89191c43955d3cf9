/* views: pitch view counts, summed in process memory and written in one
 * statement every view_flush_ms, once view_flush_batch distinct pitches are
 * pending, and at shutdown.  One worker of the pool flushes at a time (an
 * advisory lock that nobody waits for), so flushes can never deadlock and
 * never hold a worker longer than one statement.  Counts live in pitch_views, a narrow side table, so a flush
 * never rewrites a pitch row or its full-text index.  A failed flush keeps
 * its counts for the next one. */
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

/* Writes the pending counts: 0 written (or nothing to do); 1 not now,
 * another worker is flushing or was a few ms ago (the counts stay pending,
 * nothing waited); -1 the database failed (the counts stay pending). */
int views_flush(struct views *v, struct db *db);
/* Flushes that found another worker flushing, for tests and metrics. */
uint64_t views_busy_count(const struct views *v);
/* Pending distinct pitches, for tests and metrics. */
int views_pending(const struct views *v);

#endif
