/* views: batched view counts (see views.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/views.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* Far more distinct pitches than a flush interval ever sees; beyond it a
 * long database outage drops further new ids rather than grow forever. */
#define VIEWS_MAX_PENDING 65536

struct view_count {
    int64_t id;
    int64_t n;
};

/* Pending counts: an array (what a flush sends) and an open-addressing
 * index into it by id, so counting a view costs a hash probe, not a scan
 * of a few thousand ids. */
struct view_set {
    struct view_count *items;
    int count, cap;
    int32_t *index;   /* slot -> item + 1; 0 empty */
    size_t index_cap; /* a power of two, at least twice cap */
};

struct views {
    struct view_set pending;
    struct view_count *sent; /* the batch in flight (db_send) */
    int nsent;
    int batch;
    int64_t retry_at_us; /* after a busy or failed flush: not before this */
    uint64_t busy;       /* flushes that found another flusher */
};

/* One flusher at a time, pool-wide, and nobody waits for it.  Sorting the
 * ids does not make an UPDATE ... FROM lock rows in that order (a hash join
 * visits them in table order), so two workers flushing overlapping ids could
 * deadlock, and each deadlock held both for deadlock_timeout.  Instead the
 * statement first tries a transaction-level advisory lock; only its holder
 * updates, so at most one multi-row updater of pitch_views exists and no
 * cycle of row locks can form.  A worker that finds the lock taken changes
 * nothing and keeps its counts for a later try.  The first column says
 * whether the lock was taken.  The statement is sent without waiting for
 * its result (db_send): the worker goes on serving while Postgres works. */
DB_STMT(views_flush_stmt,
        "WITH go AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(" VIEWS_FLUSH_LOCK_KEY ") AS ok),"
        " d AS (SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS n),"
        " u AS (UPDATE pitch_views v SET views = v.views + d.n FROM d"
        "       WHERE v.pitch_id = d.id AND (SELECT ok FROM go) RETURNING 1)"
        " SELECT (SELECT ok FROM go), (SELECT count(*) FROM u)");

static uint64_t mix(int64_t id)
{
    uint64_t z = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return z ^ (z >> 29);
}

static void set_reindex(struct view_set *s)
{
    memset(s->index, 0, s->index_cap * sizeof *s->index);
    for (int i = 0; i < s->count; i++) {
        size_t mask = s->index_cap - 1, h = mix(s->items[i].id) & mask;
        while (s->index[h] != 0)
            h = (h + 1) & mask;
        s->index[h] = i + 1;
    }
}

/* Adds n views of id; false when the set is full (the views are lost). */
static bool set_add(struct view_set *s, int64_t id, int64_t n)
{
    if (s->index_cap) {
        size_t mask = s->index_cap - 1;
        for (size_t h = mix(id) & mask; s->index[h] != 0; h = (h + 1) & mask) {
            struct view_count *c = &s->items[s->index[h] - 1];
            if (c->id == id) {
                c->n += n;
                return true;
            }
        }
    }
    if (s->count >= VIEWS_MAX_PENDING)
        return false;
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = xrealloc(s->items, (size_t)s->cap * sizeof *s->items);
        s->index_cap = (size_t)s->cap * 2;
        free(s->index);
        s->index = xcalloc(s->index_cap, sizeof *s->index);
        set_reindex(s);
    }
    s->items[s->count].id = id;
    s->items[s->count].n = n;
    s->count++;
    size_t mask = s->index_cap - 1, h = mix(id) & mask;
    while (s->index[h] != 0)
        h = (h + 1) & mask;
    s->index[h] = s->count;
    return true;
}

static void set_clear(struct view_set *s)
{
    s->count = 0;
    if (s->index)
        memset(s->index, 0, s->index_cap * sizeof *s->index);
}

struct views *views_new(int batch)
{
    struct views *v = xcalloc(1, sizeof *v);
    v->batch = batch > 0 ? batch : 2048;
    return v;
}

void views_free(struct views *v)
{
    if (v == NULL)
        return;
    free(v->pending.items);
    free(v->pending.index);
    free(v->sent);
    free(v);
}

void views_count(struct views *v, int64_t id)
{
    views_add(v, id, 1);
}

void views_add(struct views *v, int64_t id, int64_t n)
{
    (void)set_add(&v->pending, id, n);
}

bool views_batch_full(const struct views *v)
{
    return v->pending.count >= v->batch;
}

int views_pending(const struct views *v)
{
    return v->pending.count + v->nsent;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct view_count *)a)->id, y = ((const struct view_count *)b)->id;
    return x < y ? -1 : x > y;
}

/* The batch in flight goes back among the pending counts. */
static void take_back(struct views *v)
{
    for (int i = 0; i < v->nsent; i++)
        (void)set_add(&v->pending, v->sent[i].id, v->sent[i].n);
    v->nsent = 0;
}

static void flush_done(void *arg, enum db_status st, PGresult *r)
{
    struct views *v = arg;
    bool got_lock = st == DB_OK && r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    int64_t now = clock_mono_us();
    if (got_lock) {
        log_debug("event=views_flushed pitches=%d", v->nsent);
        v->nsent = 0;
        v->retry_at_us = 0;
        return;
    }
    if (st == DB_OK) {
        /* Another worker was flushing: try again in 5-15 ms. */
        v->busy++;
        v->retry_at_us = now + 5000 + (int64_t)randombytes_uniform(10000);
    } else {
        log_warn("event=views_flush_failed pending=%d", v->nsent + v->pending.count);
        v->retry_at_us = now + 250000;
    }
    take_back(v);
}

int views_flush(struct views *v, struct db *db)
{
    if (v->nsent > 0)
        return 1; /* one in flight */
    if (v->pending.count == 0)
        return 0;
    if (clock_mono_us() < v->retry_at_us)
        return 1;
    /* The pending set becomes the batch in flight. */
    int n = v->pending.count;
    free(v->sent);
    v->sent = xmalloc((size_t)n * sizeof *v->sent);
    memcpy(v->sent, v->pending.items, (size_t)n * sizeof *v->sent);
    v->nsent = n;
    set_clear(&v->pending);
    qsort(v->sent, (size_t)n, sizeof *v->sent, by_id);
    struct buf ids = BUF_INIT, ns = BUF_INIT;
    buf_append_char(&ids, '{');
    buf_append_char(&ns, '{');
    for (int i = 0; i < n; i++) {
        buf_printf(&ids, "%s%lld", i ? "," : "", (long long)v->sent[i].id);
        buf_printf(&ns, "%s%lld", i ? "," : "", (long long)v->sent[i].n);
    }
    buf_append_char(&ids, '}');
    buf_append_char(&ns, '}');
    const char *params[2] = { ids.data, ns.data };
    int rc = db_send(db, &views_flush_stmt, 2, params, flush_done, v);
    buf_free(&ids);
    buf_free(&ns);
    if (rc != 0) {
        take_back(v);
        v->retry_at_us = clock_mono_us() + 250000;
        return -1;
    }
    return 0;
}

bool views_in_flight(const struct views *v)
{
    return v->nsent > 0;
}

uint64_t views_busy_count(const struct views *v)
{
    return v->busy;
}
