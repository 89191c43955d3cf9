/* views: pitch view counts, summed in process memory and written in one
 * statement (ids sorted, so two workers never deadlock) every
 * view_flush_ms, once view_flush_batch distinct pitches are pending, and at
 * shutdown.  Counts live in pitch_views, a narrow side table, so a flush
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
/* Adds n (>= 1) views of one pitch. */
void views_add(struct views *v, int64_t pitch_id, int64_t n);
/* Adds the views the nginx fast path counted: "id:n,id:n,..." (ids and
 * counts from 1).  Returns the pairs added, or -1 at the first malformed
 * pair (the pairs before it are kept). */
int views_add_list(struct views *v, const char *list) __attribute__((warn_unused_result));
bool views_batch_full(const struct views *v);
/* Writes the pending counts; 0 on success (or nothing to do). */
int views_flush(struct views *v, struct db *db);
/* Pending distinct pitches, for tests and metrics. */
int views_pending(const struct views *v);

#endif
