/* fastpath: what the nginx fast path (conf/nginx/pitchey_fastpath.lua)
 * reports to the pool.
 *
 * nginx answers cache hits without a worker, so once a second one nginx
 * worker sends a FastCGI request carrying PITCHEY_FASTPATH_REPORT:
 *     "hits=<n> not_modified=<n> views=<id>:<n>,<id>:<n>,..."
 * (deltas since its last report; views= may be empty).  Only a front server
 * can set such a parameter: a client's headers arrive as HTTP_*.  The views
 * join this worker's batch for Postgres (API.md: every read counts one), and
 * the hits are kept here for the metrics, so the pool's hit ratio counts
 * the answers nginx gave too. */
#ifndef PITCHEY_API_FASTPATH_H
#define PITCHEY_API_FASTPATH_H

#include <stdint.h>

#include "api/views.h"

/* Totals of the reports this worker received. */
struct fastpath_stats {
    uint64_t reports;
    uint64_t hits;          /* answered by nginx from the cache (304s included) */
    uint64_t not_modified;  /* ... of which 304s */
    uint64_t views;         /* views handed to this worker's batch */
};

/* Applies one report: views into v, counts into the stats.  0, or -1 when
 * the report is malformed (then nothing at all is applied). */
int fastpath_apply_report(const char *report, struct views *v) __attribute__((warn_unused_result));
void fastpath_get_stats(struct fastpath_stats *out);

#endif
