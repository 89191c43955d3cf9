/* rooms_probe: the rooms daemon's headline figures for the dashboard and
 * pitcheyctl top, read from its own GET /metrics on [rooms] listen (the
 * front server does not publish it; the daemon allows the same addresses
 * as /api/metrics).  Bounded by a timeout: a daemon that is down or hung
 * costs at most that, and reads as {"up": false}. */
#ifndef PITCHEY_METRICS_ROOMS_PROBE_H
#define PITCHEY_METRICS_ROOMS_PROBE_H

#include "metrics/expose.h"

/* listen: "host:port" ([rooms] listen; a wildcard host means loopback).
 * Returns 0 with out->up set, or -1 (out->up false). */
int metrics_rooms_fetch(const char *listen, int timeout_ms, struct metrics_rooms *out);
/* Reads the figures from Prometheus text; -1 when none is there. */
int metrics_rooms_parse(const char *text, struct metrics_rooms *out);

#endif
