/* views: batched view counts (see views.h). */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "api/views.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* Far more distinct pitches than a flush interval ever sees; beyond it a
 * long database outage drops the oldest counts rather than grow forever. */
#define VIEWS_MAX_PENDING 65536

struct view_count {
    int64_t id;
    int64_t n;
};

struct views {
    struct view_count *items;
    int count, cap, batch;
    int64_t retry_at_us; /* after a busy flush: not before this */
    uint64_t busy;       /* flushes that found another flusher */
};

/* One flusher at a time, pool-wide, and nobody waits for it.  Sorting the
 * ids does not make an UPDATE ... FROM lock rows in that order (a hash join
 * visits them in table order), so two workers flushing overlapping ids could
 * deadlock, and each deadlock held both for deadlock_timeout.  Instead the
 * statement first tries a transaction-level advisory lock; only its holder
 * updates, so at most one multi-row updater of pitch_views exists and no
 * cycle of row locks can form.  A worker that finds the lock taken changes
 * nothing and keeps its counts for a later try (a few ms later, with jitter).
 * The first column says whether the lock was taken. */
DB_STMT(views_flush_stmt,
        "WITH go AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(" VIEWS_FLUSH_LOCK_KEY ") AS ok),"
        " d AS (SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS n),"
        " u AS (UPDATE pitch_views v SET views = v.views + d.n FROM d"
        "       WHERE v.pitch_id = d.id AND (SELECT ok FROM go) RETURNING 1)"
        " SELECT (SELECT ok FROM go), (SELECT count(*) FROM u)");

struct views *views_new(int batch)
{
    struct views *v = xcalloc(1, sizeof *v);
    v->batch = batch > 0 ? batch : 256;
    return v;
}

void views_free(struct views *v)
{
    if (v == NULL)
        return;
    free(v->items);
    free(v);
}

void views_count(struct views *v, int64_t id)
{
    views_add(v, id, 1);
}

void views_add(struct views *v, int64_t id, int64_t n)
{
    /* Linear scan: a flush interval holds a few hundred ids at most. */
    for (int i = 0; i < v->count; i++) {
        if (v->items[i].id == id) {
            v->items[i].n += n;
            return;
        }
    }
    if (v->count >= VIEWS_MAX_PENDING)
        return;
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->items = xrealloc(v->items, (size_t)v->cap * sizeof *v->items);
    }
    v->items[v->count].id = id;
    v->items[v->count].n = n;
    v->count++;
}

bool views_batch_full(const struct views *v)
{
    return v->count >= v->batch;
}

int views_pending(const struct views *v)
{
    return v->count;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct view_count *)a)->id, y = ((const struct view_count *)b)->id;
    return x < y ? -1 : x > y;
}

int views_flush(struct views *v, struct db *db)
{
    if (v->count == 0)
        return 0;
    int64_t now = clock_mono_us();
    if (now < v->retry_at_us)
        return 1;
    qsort(v->items, (size_t)v->count, sizeof *v->items, by_id);
    struct buf ids = BUF_INIT, ns = BUF_INIT;
    buf_append_char(&ids, '{');
    buf_append_char(&ns, '{');
    for (int i = 0; i < v->count; i++) {
        buf_printf(&ids, "%s%lld", i ? "," : "", (long long)v->items[i].id);
        buf_printf(&ns, "%s%lld", i ? "," : "", (long long)v->items[i].n);
    }
    buf_append_char(&ids, '}');
    buf_append_char(&ns, '}');
    const char *params[2] = { ids.data, ns.data };
    PGresult *r = NULL;
    struct db_error err;
    enum db_status st = db_query(db, &views_flush_stmt, 2, params, 0, &r, &err);
    bool got_lock = st == DB_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    buf_free(&ids);
    buf_free(&ns);
    if (st != DB_OK) {
        log_warn("event=views_flush_failed pending=%d", v->count);
        return -1;
    }
    if (!got_lock) {
        /* Another worker is flushing: try again in 5-15 ms. */
        v->busy++;
        v->retry_at_us = now + 5000 + (int64_t)randombytes_uniform(10000);
        return 1;
    }
    log_debug("event=views_flushed pitches=%d", v->count);
    v->count = 0;
    v->retry_at_us = 0;
    return 0;
}

uint64_t views_busy_count(const struct views *v)
{
    return v->busy;
}
