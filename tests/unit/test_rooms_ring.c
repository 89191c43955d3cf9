/* Unit: the replay ring with its global byte cap (src/rooms/ring.c). */
#include "pitchey-build.h"

#include <stdio.h>
#include <string.h>

#include "rooms/ring.h"
#include "unit.h"

static void push(struct ring *r, int64_t seq, size_t len, size_t history)
{
    char text[4096];
    memset(text, 'x', len);
    struct frame *f = frame_new(text, len, seq);
    ring_push(r, f, history);
    frame_unref(f);
}

static void collect(struct frame *f, void *arg)
{
    int64_t *seqs = arg;
    seqs[++seqs[0]] = f->seq;
}

START_TEST(keeps_history_contiguous)
{
    ring_set_cap(1 << 20);
    struct ring *r = ring_new();
    ck_assert(ring_covers(r, 5, 5));
    ck_assert(!ring_covers(r, 0, 1));
    for (int64_t s = 1; s <= 10; s++)
        push(r, s, 10, 4);
    ck_assert_int_eq(ring_count(r), 4);
    ck_assert(ring_covers(r, 6, 10));
    ck_assert(ring_covers(r, 8, 10));
    ck_assert(!ring_covers(r, 5, 10));
    ck_assert(!ring_covers(r, 6, 11));
    int64_t seqs[16] = { 0 };
    ring_each(r, 7, 9, collect, seqs);
    ck_assert_int_eq(seqs[0], 2);
    ck_assert_int_eq(seqs[1], 8);
    ck_assert_int_eq(seqs[2], 9);
    push(r, 10, 10, 4); /* a repeat is ignored */
    ck_assert_int_eq(ring_count(r), 4);
    push(r, 13, 10, 4); /* a gap starts over */
    ck_assert_int_eq(ring_count(r), 1);
    ck_assert(!ring_covers(r, 10, 13));
    ck_assert(ring_covers(r, 12, 13));
    ring_free(r);
    ck_assert_int_eq(ring_total_bytes(), 0);
}
END_TEST

START_TEST(global_cap_evicts_oldest_first)
{
    struct ring *a = ring_new(), *b = ring_new();
    push(a, 1, 1000, 100);
    size_t one = ring_total_bytes();
    ring_set_cap(one * 3);
    push(b, 1, 1000, 100);
    push(a, 2, 1000, 100);
    ck_assert_int_eq(ring_total_bytes(), one * 3);
    uint64_t ev = ring_evictions();
    push(b, 2, 1000, 100); /* a's seq 1 is the oldest overall */
    ck_assert_int_eq(ring_evictions(), ev + 1);
    ck_assert_int_le(ring_total_bytes(), one * 3);
    ck_assert_int_eq(ring_count(a), 1);
    ck_assert(ring_covers(a, 1, 2));
    ck_assert(!ring_covers(a, 0, 2));
    ck_assert(ring_covers(b, 0, 2));
    ring_set_cap(0);
    push(b, 3, 10, 100);
    ck_assert_int_eq(ring_count(b), 0);
    ring_free(a);
    ring_free(b);
    ck_assert_int_eq(ring_total_bytes(), 0);
}
END_TEST

static Suite *ring_suite(void)
{
    Suite *s = suite_create("rooms_ring");
    TCase *t = tcase_create("ring");
    tcase_add_test(t, keeps_history_contiguous);
    tcase_add_test(t, global_cap_evicts_oldest_first);
    suite_add_tcase(s, t);
    return s;
}

UNIT_MAIN(ring_suite)
