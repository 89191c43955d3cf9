/* ring: the recent messages of each room, for fast `since` replay.
 *
 * Each room keeps at most `history` frames, contiguous in seq; all rings
 * together keep at most ring_set_cap() bytes, the globally oldest frame
 * going first.  A replay the ring cannot cover entirely is read from
 * Postgres instead (ring_covers()). */
#ifndef PITCHEY_ROOMS_RING_H
#define PITCHEY_ROOMS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/frame.h"

struct ring;

struct ring *ring_new(void);
/* Drops every frame. */
void ring_free(struct ring *r);
/* Takes a new reference to f (f->seq set).  A seq that does not follow the
 * last one empties the ring first, so it stays contiguous. */
void ring_push(struct ring *r, struct frame *f, size_t history);
/* True when every seq in (from, to] is in the ring (or the range is empty). */
bool ring_covers(const struct ring *r, int64_t from, int64_t to);
/* Calls fn for the frames with seq in (from, to], in order. */
void ring_each(struct ring *r, int64_t from, int64_t to, void (*fn)(struct frame *, void *),
               void *arg);
size_t ring_count(const struct ring *r);

void ring_set_cap(size_t bytes);
size_t ring_total_bytes(void);
/* Frames dropped to respect the byte cap, since start. */
uint64_t ring_evictions(void);

#endif
