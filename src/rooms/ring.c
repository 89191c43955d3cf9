/* ring: per-room recent frames under one global byte cap; see ring.h.
 *
 * Entries sit on two lists: their room's (in seq order) and a global one in
 * insertion order.  Since each room appends in seq order, the globally
 * oldest entry is always the head of its own room, so eviction is O(1). */
#include "pitchey-build.h"

#include "rooms/ring.h"

#include "common/xalloc.h"

struct entry {
    struct frame *frame;
    struct ring *ring;
    struct entry *prev, *next;   /* in the room */
    struct entry *gprev, *gnext; /* global, oldest first */
};

struct ring {
    struct entry *head, *tail;
    size_t count;
};

static struct entry *g_head, *g_tail;
static size_t g_bytes, g_cap = 16u << 20;
static uint64_t g_evictions;

static size_t entry_bytes(const struct entry *e)
{
    return e->frame->len + sizeof *e;
}

/* Removes the head of its ring (e must be r->head). */
static void drop_head(struct ring *r)
{
    struct entry *e = r->head;
    r->head = e->next;
    if (r->head)
        r->head->prev = NULL;
    else
        r->tail = NULL;
    r->count--;
    if (e->gprev)
        e->gprev->gnext = e->gnext;
    else
        g_head = e->gnext;
    if (e->gnext)
        e->gnext->gprev = e->gprev;
    else
        g_tail = e->gprev;
    g_bytes -= entry_bytes(e);
    frame_unref(e->frame);
    free(e);
}

struct ring *ring_new(void)
{
    return xcalloc(1, sizeof(struct ring));
}

void ring_free(struct ring *r)
{
    if (!r)
        return;
    while (r->head)
        drop_head(r);
    free(r);
}

void ring_push(struct ring *r, struct frame *f, size_t history)
{
    if (r->tail && f->seq <= r->tail->frame->seq)
        return; /* already there */
    if (r->tail && f->seq != r->tail->frame->seq + 1)
        while (r->head)
            drop_head(r);
    if (history == 0)
        return;
    struct entry *e = xcalloc(1, sizeof *e);
    e->frame = frame_ref(f);
    e->ring = r;
    e->prev = r->tail;
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
    r->count++;
    e->gprev = g_tail;
    if (g_tail)
        g_tail->gnext = e;
    else
        g_head = e;
    g_tail = e;
    g_bytes += entry_bytes(e);
    while (r->count > history)
        drop_head(r);
    while (g_bytes > g_cap && g_head) {
        drop_head(g_head->ring);
        g_evictions++;
    }
}

bool ring_covers(const struct ring *r, int64_t from, int64_t to)
{
    if (to <= from)
        return true;
    return r->head && r->head->frame->seq <= from + 1 && r->tail->frame->seq >= to;
}

void ring_each(struct ring *r, int64_t from, int64_t to, void (*fn)(struct frame *, void *),
               void *arg)
{
    for (struct entry *e = r->head; e; e = e->next)
        if (e->frame->seq > from && e->frame->seq <= to)
            fn(e->frame, arg);
}

size_t ring_count(const struct ring *r)
{
    return r->count;
}

void ring_set_cap(size_t bytes)
{
    g_cap = bytes;
}

size_t ring_total_bytes(void)
{
    return g_bytes;
}

uint64_t ring_evictions(void)
{
    return g_evictions;
}
