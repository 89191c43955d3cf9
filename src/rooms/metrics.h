/* metrics: the daemon's own figures, served as Prometheus text (0.0.4) on
 * GET /metrics of its listening port (the front servers publish only /ws).
 * Plain counters: the daemon is one thread. */
#ifndef PITCHEY_ROOMS_METRICS_H
#define PITCHEY_ROOMS_METRICS_H

#include "common/buf.h"

void metrics_gauge_connections(int n);
void metrics_gauge_rooms(int n);
void metrics_gauge_members(int n);
void metrics_count_in(void);
void metrics_count_out(void);
void metrics_count_event(void);
void metrics_count_error(const char *code);
/* reason: slow_reader, rate_limited, too_many_rooms, too_large,
 * unauthorized, revoked, idle, origin, invalid_utf8, join_backlog, visibility. */
void metrics_count_drop(const char *reason);
void metrics_count_backplane_reconnect(void);
/* Seconds from a message's commit to its fan-out here; also the lag gauge. */
void metrics_observe_fanout(double seconds);
void metrics_render(struct buf *out);

#endif
