/* metrics: counters and the fan-out histogram; see metrics.h. */
#include "pitchey-build.h"

#include "rooms/metrics.h"

#include <string.h>

#include "rooms/ring.h"

static const char *const drop_reasons[] = { "slow_reader", "rate_limited", "too_many_rooms",
                                            "too_large", "unauthorized", "revoked", "idle",
                                            "origin", "invalid_utf8", "join_backlog",
                                            "visibility" };
#define NDROPS (sizeof drop_reasons / sizeof drop_reasons[0])
static const char *const error_codes[] = { "invalid_json", "invalid_message", "invalid_room",
                                           "unauthorized", "forbidden", "not_found",
                                           "not_joined", "too_many_rooms", "rate_limited",
                                           "unavailable" };
#define NERRORS (sizeof error_codes / sizeof error_codes[0])
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,   0.25,   0.5,   1,    2.5,   5 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static struct {
    int connections, rooms, members;
    unsigned long long in, out, events, reconnects;
    unsigned long long drops[NDROPS];
    unsigned long long errors[NERRORS];
    unsigned long long hist[NBUCKETS + 1];
    unsigned long long hist_count;
    double hist_sum;
    double lag;
} m;

void metrics_gauge_connections(int n)
{
    m.connections = n;
}
void metrics_gauge_rooms(int n)
{
    m.rooms = n;
}
void metrics_gauge_members(int n)
{
    m.members = n;
}
void metrics_count_in(void)
{
    m.in++;
}
void metrics_count_out(void)
{
    m.out++;
}
void metrics_count_event(void)
{
    m.events++;
}
void metrics_count_backplane_reconnect(void)
{
    m.reconnects++;
}

void metrics_count_error(const char *code)
{
    for (size_t i = 0; i < NERRORS; i++)
        if (strcmp(error_codes[i], code) == 0)
            m.errors[i]++;
}

void metrics_count_drop(const char *reason)
{
    for (size_t i = 0; i < NDROPS; i++)
        if (strcmp(drop_reasons[i], reason) == 0)
            m.drops[i]++;
}

void metrics_observe_fanout(double s)
{
    size_t i = 0;
    while (i < NBUCKETS && s > buckets[i])
        i++;
    m.hist[i]++;
    m.hist_count++;
    m.hist_sum += s;
    m.lag = s;
}

void metrics_render(struct buf *b)
{
    buf_printf(b,
               "# HELP pitchey_rooms_connections Open WebSocket connections.\n"
               "# TYPE pitchey_rooms_connections gauge\n"
               "pitchey_rooms_connections %d\n"
               "# HELP pitchey_rooms_rooms Rooms with members on this node.\n"
               "# TYPE pitchey_rooms_rooms gauge\n"
               "pitchey_rooms_rooms %d\n"
               "# HELP pitchey_rooms_members Room memberships on this node.\n"
               "# TYPE pitchey_rooms_members gauge\n"
               "pitchey_rooms_members %d\n"
               "# HELP pitchey_rooms_messages_in_total Messages accepted from clients.\n"
               "# TYPE pitchey_rooms_messages_in_total counter\n"
               "pitchey_rooms_messages_in_total %llu\n"
               "# HELP pitchey_rooms_messages_out_total Frames written to clients.\n"
               "# TYPE pitchey_rooms_messages_out_total counter\n"
               "pitchey_rooms_messages_out_total %llu\n"
               "# HELP pitchey_rooms_events_total API events delivered.\n"
               "# TYPE pitchey_rooms_events_total counter\n"
               "pitchey_rooms_events_total %llu\n"
               "# HELP pitchey_rooms_backplane_reconnects_total Listener connections lost.\n"
               "# TYPE pitchey_rooms_backplane_reconnects_total counter\n"
               "pitchey_rooms_backplane_reconnects_total %llu\n"
               "# HELP pitchey_rooms_backplane_lag_seconds Commit to fan-out, last message.\n"
               "# TYPE pitchey_rooms_backplane_lag_seconds gauge\n"
               "pitchey_rooms_backplane_lag_seconds %.6f\n"
               "# HELP pitchey_rooms_ring_bytes Bytes held for replay.\n"
               "# TYPE pitchey_rooms_ring_bytes gauge\n"
               "pitchey_rooms_ring_bytes %zu\n",
               m.connections, m.rooms, m.members, m.in, m.out, m.events, m.reconnects, m.lag,
               ring_total_bytes());
    buf_append_str(b, "# HELP pitchey_rooms_drops_total Connections closed or requests "
                      "refused, by reason.\n# TYPE pitchey_rooms_drops_total counter\n");
    for (size_t i = 0; i < NDROPS; i++)
        buf_printf(b, "pitchey_rooms_drops_total{reason=\"%s\"} %llu\n", drop_reasons[i],
                   m.drops[i]);
    buf_append_str(b, "# HELP pitchey_rooms_errors_total Error messages sent, by code.\n"
                      "# TYPE pitchey_rooms_errors_total counter\n");
    for (size_t i = 0; i < NERRORS; i++)
        buf_printf(b, "pitchey_rooms_errors_total{code=\"%s\"} %llu\n", error_codes[i],
                   m.errors[i]);
    buf_append_str(b, "# HELP pitchey_rooms_fanout_seconds Commit to fan-out latency.\n"
                      "# TYPE pitchey_rooms_fanout_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m.hist[i];
        buf_printf(b, "pitchey_rooms_fanout_seconds_bucket{le=\"%g\"} %llu\n", buckets[i], cum);
    }
    cum += m.hist[NBUCKETS];
    buf_printf(b,
               "pitchey_rooms_fanout_seconds_bucket{le=\"+Inf\"} %llu\n"
               "pitchey_rooms_fanout_seconds_sum %.6f\n"
               "pitchey_rooms_fanout_seconds_count %llu\n",
               cum, m.hist_sum, m.hist_count);
}
