/* expose: a metrics snapshot as Prometheus text (exposition format 0.0.4)
 * and as JSON (the dashboard's and pitcheyctl top's), the same figures in
 * both; JSON adds p50/p95/p99 per route estimated from the buckets.
 *
 * Names follow Prometheus' conventions: a pitchey_ prefix, base units
 * (seconds, bytes), _total on counters. */
#ifndef PITCHEY_METRICS_EXPOSE_H
#define PITCHEY_METRICS_EXPOSE_H

#include <stdbool.h>

#include "common/buf.h"
#include "metrics/segment.h"

/* The rooms daemon's headline figures (from its own /metrics). */
struct metrics_rooms {
    bool up;
    double connections;
    double rooms;
    double members;
    double messages_in;
    double messages_out;
    double events;
    double lag_seconds;
};

void metrics_expose_text(const struct metrics_snapshot *s, struct buf *out);
/* rooms: NULL to leave it out, else "rooms": {...} (or {"up": false}). */
void metrics_expose_json(const struct metrics_snapshot *s, const struct metrics_rooms *rooms,
                         struct buf *out);

#endif
