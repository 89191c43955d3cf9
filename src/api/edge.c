/* edge: the edge cache seen by handlers (see edge.h).
 *
 * A lookup is one multi-get of the entry, the generations of its tags and
 * its coalescing lock.  An entry is used only when every generation it
 * recorded is still current; so a write that bumped a tag after its commit
 * is never answered from an older entry (read your writes).  When a bump
 * cannot reach every memcached server, the cache epoch in Postgres is
 * bumped; every worker reads it twice a second and puts it in every entry key,
 * which turns the whole cache over within about a second.  Tag keys carry no
 * epoch, so a bump made by a worker already on the new epoch still reaches
 * the workers that are not yet.
 *
 * Tags have a copy on every server and an entry is checked against the
 * copy on its own server (tags.h), so workers that disagree for a moment
 * about which servers are up (one ejected a server, another already re-added
 * it) still see each other's bumps; a bump that cannot reach every server
 * is what bumps the epoch.
 *
 * Past its soft TTL an entry is answered STALE; the worker that wins its
 * lock recomputes it after the answer was sent (edge_after_response), by
 * running the route again in process as an internal HEAD request that
 * forces a miss (HEAD: the handler builds the same answer and counts no
 * view).  Writes queue the default first pages of the lists they touched
 * for the same treatment (warming). */
#include "pitchey-build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/edge.h"
#include "cache/entry.h"
#include "cache/key.h"
#include "cache/lock.h"
#include "cache/memo.h"
#include "cache/session.h"
#include "cache/tags.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/wakeup.h"

#define JSON_TYPE "application/json; charset=utf-8"
/* Twice a second, so the bound of API.md (1 s) holds with a tick to spare. */
#define EPOCH_POLL_US 500000
#define MAX_PENDING 8
#define PENDING_PATH_MAX 256
/* A waiter for another worker's entry sleeps on the key's wake-up bucket
 * (common/wakeup.h), so a store on this host wakes it at once; it looks
 * again at least this often, for stores made on other hosts. */
#define WAIT_STEP_US 2000
/* How long after memcached trouble a worker reads the epoch at every
 * lookup: longer than libmemcached takes to retry a dead server (retry 1 s,
 * dead 2 s), and at least the cache breaker's cool-down plus 2 s. */
#define CAREFUL_US 5000000

DB_STMT(edge_epoch_read, "SELECT epoch FROM cache_epoch WHERE id = 1");
DB_STMT(edge_epoch_bump, "UPDATE cache_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch");

enum pending_kind { PENDING_REFRESH, PENDING_WARM };

/* An internal request (run_internal) recomputes an entry in process:
 * REFRESH for an expired entry whose lock this worker already holds, or
 * for pitcheyctl warm (always recomputes); WARM after a write (skips what
 * a reader already recomputed, and what another worker is recomputing). */
enum internal_kind { INTERNAL_NONE, INTERNAL_REFRESH, INTERNAL_WARM };

static struct {
    uint64_t epoch;           /* 0: not known yet */
    int64_t epoch_read_us;
    uint64_t epoch_published; /* last value copied into memcached */
    enum internal_kind internal; /* what the running internal request is */
    bool stored;              /* ... and its answer was stored */
    struct {
        enum pending_kind kind;
        char path[PENDING_PATH_MAX];
    } pending[MAX_PENDING];
    size_t npending;
    struct edge_stats stats;
    struct memo *memo;        /* identity bodies of gzip'd entries, by ETag */
    bool cache_trouble;       /* bypassed memcached since the last lookup */
    uint64_t errors_seen;     /* the client's lost-server count at the last lookup */
    int64_t careful_until_us; /* until then, read the epoch at every lookup */
    struct wakeup *wake;      /* NULL: no runtime dir, waiters poll */
    bool wake_tried;
} S;

/* Identity bodies kept in process: 32 of them, 2 MiB at most. */
#define MEMO_ENTRIES 32
#define MEMO_BYTES (2u << 20)

static struct memo *memo(void)
{
    if (S.memo == NULL)
        S.memo = memo_new(MEMO_ENTRIES, MEMO_BYTES);
    return S.memo;
}

/* The identity body of e into out: from the memo when a gzip'd entry was
 * inflated before. */
static int identity_body(const struct cache_entry *e, struct buf *out)
{
    if (!e->gzip)
        return cache_entry_identity(e, out);
    if (memo_get(memo(), e->etag, out))
        return 0;
    size_t before = out->len;
    if (cache_entry_identity(e, out) != 0)
        return -1;
    memo_put(memo(), e->etag, out->data + before, out->len - before);
    return 0;
}

/* ------------------------------------------------------------ wake-ups */

static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static struct wakeup *wake_table(struct app *app)
{
    if (!S.wake_tried) {
        S.wake_tried = true;
        char path[4096];
        snprintf(path, sizeof path, "%s/edge.wake", app->cfg.api.runtime_dir);
        S.wake = wakeup_open(path);
        if (S.wake == NULL)
            log_warn("event=edge_wakeup_unavailable path=%s (coalesced waits poll)", path);
    }
    return S.wake;
}

/* Whoever stored an entry or gave its lock up: waiters look again now. */
static void wake_waiters(struct app *app, const char *key)
{
    struct wakeup *w = wake_table(app);
    if (w)
        wakeup_signal(w, key_hash(key));
}

/* Sleeps until a store for key on this host, or WAIT_STEP_US (bounded by
 * the time left); ticket was taken before the last look. */
static void wait_for_store(struct app *app, const char *key, uint32_t ticket, int64_t left_us)
{
    int step = left_us < WAIT_STEP_US ? (int)left_us : WAIT_STEP_US;
    if (step <= 0)
        return;
    struct wakeup *w = wake_table(app);
    if (w)
        (void)wakeup_wait(w, key_hash(key), ticket, step);
    else
        clock_sleep_ms((step + 999) / 1000);
}

/* ------------------------------------------------------------------ epoch */

static uint64_t parse_u64(const char *s)
{
    return s ? strtoull(s, NULL, 10) : 0;
}

/* The copy in memcached is "<epoch> <wall ms of the Postgres read>"
 * (doc/cache-format.md).  It is written after every read, not only on a
 * change: the nginx fast path trusts a copy only while that read is under a
 * second old, which is how long a worker trusts its own. */
static void publish_epoch(struct app *app, int64_t read_wall_ms)
{
    if (S.epoch == 0 || cache_bypassing(app->cache))
        return;
    /* At most every 100 ms unless the epoch moved: the careful reads after
     * an outage come at every lookup, and the fast path polls the copy
     * every 100 ms anyway. */
    static int64_t last_ms;
    if (S.epoch == S.epoch_published && read_wall_ms - last_ms < 100)
        return;
    last_ms = read_wall_ms;
    char key[CACHE_KEY_MAX + 1], text[48];
    cache_key_epoch(key, app->cfg.cache.prefix);
    int n = snprintf(text, sizeof text, "%" PRIu64 " %" PRId64, S.epoch, read_wall_ms);
    if (cache_set(app->cache, key, text, (size_t)n, 0, 0) == CACHE_OK)
        S.epoch_published = S.epoch;
}

static void set_epoch(struct app *app, uint64_t epoch, int64_t read_wall_ms)
{
    if (epoch != S.epoch && S.epoch != 0)
        log_info("event=cache_epoch old=%" PRIu64 " new=%" PRIu64, S.epoch, epoch);
    if (epoch > S.epoch || S.epoch == 0)
        S.epoch = epoch;
    /* Only what Postgres said now: a worker still behind must not publish. */
    if (S.epoch == epoch)
        publish_epoch(app, read_wall_ms);
}

static bool read_epoch(struct app *app)
{
    PGresult *r = NULL;
    struct db_error err;
    S.epoch_read_us = clock_mono_us();
    int64_t read_wall_ms = clock_wall_us() / 1000;
    if (db_query(app->db, &edge_epoch_read, 0, NULL, DB_IDEMPOTENT, &r, &err) != DB_OK) {
        PQclear(r);
        return false;
    }
    if (PQntuples(r) == 1)
        set_epoch(app, parse_u64(PQgetvalue(r, 0, 0)), read_wall_ms);
    PQclear(r);
    return true;
}

/* The epoch for keys; with Postgres unreachable at start, the copy kept in
 * memcached (so a fresh worker can still serve stale-if-error). */
static bool ensure_epoch(struct app *app)
{
    if (S.epoch != 0)
        return true;
    if (read_epoch(app) && S.epoch != 0)
        return true;
    char key[CACHE_KEY_MAX + 1];
    cache_key_epoch(key, app->cfg.cache.prefix);
    struct cache_value v;
    if (cache_get(app->cache, key, &v) == CACHE_OK)
        S.epoch = parse_u64(v.data);
    cache_value_free(&v);
    return S.epoch != 0;
}

/* Tells the nginx fast path, on every server it can reach, that epochs
 * below `epoch` are retired: "<prefix>:v<format>:epoch:<old>" exists for a
 * while (doc/cache-format.md).  nginx fetches the marker of its epoch with
 * every entry, so it stops answering from an entry this bump outdated before
 * the write that caused the bump has answered. */
static void retire_epochs_below(struct app *app, uint64_t epoch)
{
    char key[CACHE_KEY_MAX + 1];
    cache_key_epoch(key, app->cfg.cache.prefix);
    size_t len = strlen(key);
    snprintf(key + len, sizeof key - len, ":%" PRIu64, epoch - 1);
    size_t n = cache_server_count(app->cache);
    for (size_t i = 0; i < n; i++)
        (void)cache_set_on(app->cache, i, key, "1", 1, 10);
}

static void bump_epoch(struct app *app, const char *why)
{
    PGresult *r = NULL;
    struct db_error err;
    if (db_query(app->db, &edge_epoch_bump, 0, NULL, DB_IDEMPOTENT, &r, &err) != DB_OK) {
        log_warn("event=cache_epoch_bump_failed why=%s", why);
        PQclear(r);
        return;
    }
    S.stats.epoch_bumps++;
    if (PQntuples(r) == 1) {
        uint64_t epoch = parse_u64(PQgetvalue(r, 0, 0));
        set_epoch(app, epoch, clock_wall_us() / 1000);
        if (epoch > 1)
            retire_epochs_below(app, epoch);
    }
    PQclear(r);
    log_info("event=cache_epoch_bump why=%s epoch=%" PRIu64, why, S.epoch);
}

/* ------------------------------------------------------------------ helpers */

static int hard_ttl(const struct app *app, int status)
{
    if (status == 404)
        return app->cfg.cache.negative_ttl_s;
    return app->cfg.cache.ttl_s + app->cfg.cache.grace_s;
}

static int tag_ttl(const struct app *app)
{
    return 2 * (app->cfg.cache.ttl_s + app->cfg.cache.grace_s) + 60;
}

static void cache_headers(struct app *app, struct response *res, int status, const char *etag)
{
    if (etag && etag[0])
        response_header(res, "ETag", "%s", etag);
    if (status == 404)
        response_header(res, "Cache-Control", "public, max-age=%d",
                        app->cfg.cache.negative_ttl_s);
    else
        response_header(res, "Cache-Control", "%s", app->cfg.cache.cache_control);
    response_header(res, "Vary", "Accept-Encoding");
}

static void release_lock(struct app *app, struct edge_ctx *ctx)
{
    if (!ctx->locked)
        return;
    char lock_key[CACHE_KEY_MAX + 1];
    cache_key_build(lock_key, app->cfg.cache.prefix, ctx->epoch, CACHE_KEY_LOCK, ctx->route_key);
    cache_lock_release(app->cache, ctx->key, lock_key);
    ctx->locked = false;
    wake_waiters(app, ctx->key);
}

static void to_bypass(struct edge_ctx *ctx)
{
    ctx->bypass = true;
    ctx->locked = false;
}

/* Answers from a valid entry; false when its body cannot be produced. */
static bool serve(struct app *app, struct request *req, const struct cache_entry *e,
                  const char *status_name, struct response *res)
{
    bool gz = e->gzip && request_accepts_gzip(req);
    const char *etag = gz ? e->etag_gzip : e->etag;
    /* Only a representation can match (RFC 9110 13.1.2): a cached 404
     * answers 404 whatever If-None-Match says, "*" included. */
    if (req->if_none_match && e->status == 200 &&
        (cache_etag_matches(req->if_none_match, e->etag) ||
         (e->gzip && cache_etag_matches(req->if_none_match, e->etag_gzip)))) {
        response_empty(res, 304);
        S.stats.not_modified++;
    } else {
        buf_reset(&res->body);
        if (gz) {
            buf_append(&res->body, e->body, e->body_len);
        } else if (identity_body(e, &res->body) != 0) {
            buf_reset(&res->body);
            return false;
        }
        res->status = e->status;
        res->content_type = JSON_TYPE;
        if (e->status >= 400)
            res->error_code = e->status == 404 ? "not_found" : "cached_error";
        if (gz)
            response_header(res, "Content-Encoding", "gzip");
    }
    cache_headers(app, res, e->status, etag);
    res->cache_status = status_name;
    return true;
}

/* Queues base + arg for after the answer. */
static void queue_path(enum pending_kind kind, const char *base, const char *arg)
{
    char path[PENDING_PATH_MAX];
    snprintf(path, sizeof path, "%s%s", base, arg);
    for (size_t i = 0; i < S.npending; i++)
        if (strcmp(S.pending[i].path, path) == 0)
            return;
    if (S.npending < MAX_PENDING) {
        memcpy(S.pending[S.npending].path, path, sizeof path);
        S.pending[S.npending++].kind = kind;
    }
}

/* The request's path and query again (percent-encoded), for a refresh;
 * false when it does not fit. */
static bool request_uri(const struct request *req, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b = BUF_INIT;
    buf_append_str(&b, req->path);
    for (size_t i = 0; i < req->query.count; i++) {
        const struct query_param *p = &req->query.params[i];
        if (p->bad || p->name == NULL)
            continue;
        buf_append_char(&b, b.len == strlen(req->path) ? '?' : '&');
        for (int part = 0; part < 2; part++) {
            const char *v = part == 0 ? p->name : (p->value ? p->value : "");
            if (part == 1)
                buf_append_char(&b, '=');
            for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' ||
                    *c == '~') {
                    buf_append_char(&b, (char)*c);
                } else {
                    buf_append_char(&b, '%');
                    buf_append_char(&b, hex[*c >> 4]);
                    buf_append_char(&b, hex[*c & 15]);
                }
            }
        }
    }
    bool ok = b.len < len;
    if (ok)
        memcpy(out, b.data, b.len + 1);
    buf_free(&b);
    return ok;
}

/* -------------------------------------------------------------- interface */

enum edge_outcome edge_begin(struct app *app, struct request *req, struct edge_ctx *ctx,
                             const char *route_key, const char *const *tags, size_t ntags,
                             struct auth_user *caller, struct response *res)
{
    bool anonymous = caller == NULL;
    memset(ctx, 0, sizeof *ctx);
    if (ntags > EDGE_MAX_TAGS)
        ntags = EDGE_MAX_TAGS;
    for (size_t i = 0; i < ntags; i++)
        ctx->tags[i] = tags[i];
    ctx->ntags = ntags;
    ctx->anonymous = anonymous;
    snprintf(ctx->route_key, sizeof ctx->route_key, "%s", route_key);
    res->cache_status = "BYPASS";

    /* Housekeeping stops polling the epoch while the worker is idle (so its
     * Postgres connection can close); the first request after that reads
     * it before trusting any entry. */
    if (S.epoch != 0 && clock_mono_us() - S.epoch_read_us > 2 * EPOCH_POLL_US)
        (void)read_epoch(app);
    if (cache_bypassing(app->cache) || !ensure_epoch(app)) {
        S.cache_trouble = true;
        to_bypass(ctx);
        return EDGE_MISS;
    }
    /* After a memcached server was lost (refused, dead, or the breaker
     * open), other workers may still fail to reach a server this one
     * reaches again (libmemcached retries a dead server after seconds, not
     * at once), so their bumps land only in the epoch.  For a while this
     * worker reads the epoch before every lookup instead of twice a second:
     * one Postgres round trip per cached request, for a few seconds after
     * an outage, buys read-your-writes with no window.  A lone timeout does
     * not count: it is not an outage, and the epoch's 1-second bound holds
     * for it as for everyone. */
    struct cache_stats cst;
    cache_get_stats(app->cache, &cst);
    int64_t now_us = clock_mono_us();
    uint64_t lost = cst.server_failures + cst.breaker_opens;
    if (S.cache_trouble || lost != S.errors_seen) {
        S.errors_seen = lost;
        S.cache_trouble = false;
        int64_t careful = (int64_t)app->cfg.cache.breaker_cooldown_ms * 1000 + 2000000;
        S.careful_until_us = now_us + (careful > CAREFUL_US ? careful : CAREFUL_US);
    }
    if (now_us < S.careful_until_us) {
        S.stats.careful_epoch_reads++;
        (void)read_epoch(app);
    }
    ctx->epoch = S.epoch;
    const char *prefix = app->cfg.cache.prefix;
    char tag_keys[EDGE_MAX_TAGS][CACHE_KEY_MAX + 1];
    char lock_key[CACHE_KEY_MAX + 1];
    char session_key[CACHE_KEY_MAX + 1];
    const char *keys[EDGE_MAX_TAGS + 3];
    cache_key_build(ctx->key, prefix, ctx->epoch, CACHE_KEY_ENTRY, route_key);
    cache_key_build(lock_key, prefix, ctx->epoch, CACHE_KEY_LOCK, route_key);
    size_t nkeys = 0;
    keys[nkeys++] = ctx->key;
    for (size_t i = 0; i < ntags; i++) {
        cache_key_build(tag_keys[i], prefix, ctx->epoch, CACHE_KEY_TAG, tags[i]);
        keys[nkeys++] = tag_keys[i];
    }
    size_t lock_idx = nkeys;
    keys[nkeys++] = lock_key;
    /* The caller's session rides along: every server keeps a copy. */
    size_t session_idx = 0;
    if (caller && caller->pending) {
        cache_session_key(session_key, prefix, caller->token_hash);
        session_idx = nkeys;
        keys[nkeys++] = session_key;
    }

    int64_t wait_start = 0;
    int64_t wait_us = (int64_t)app->cfg.cache.lock_wait_ms * 1000;
    bool waiting = false;
    uint64_t hash = key_hash(ctx->key);
    struct wakeup *wake = wake_table(app);
    for (;;) {
        struct cache_value vals[EDGE_MAX_TAGS + 3];
        /* Taken before looking, so a store between the look and the wait
         * is not missed. */
        uint32_t ticket = wake ? wakeup_ticket(wake, hash) : 0;
        /* In a forced refresh only the generations matter. */
        bool refresh = S.internal == INTERNAL_REFRESH;
        size_t first = refresh ? 1 : 0;
        size_t count = refresh ? ntags : nkeys;
        memset(vals, 0, sizeof vals);
        if (count > 0 &&
            cache_get_multi_by(app->cache, ctx->key, keys + first, count, vals + first) ==
                CACHE_ERROR) {
            /* A waiter whose poll failed once (a slow moment) keeps waiting
             * for the winner, unless the cache is now bypassed. */
            int64_t left = wait_start + wait_us - clock_mono_us();
            if (waiting && !cache_bypassing(app->cache) && left > 0) {
                wait_for_store(app, ctx->key, ticket, left);
                continue;
            }
            to_bypass(ctx);
            return EDGE_MISS;
        }
        bool tags_whole = true, failed = false;
        for (size_t i = 0; i < ntags; i++) {
            if (cache_tag_parse(&vals[1 + i], &ctx->gens[i]))
                continue;
            tags_whole = false;
            if (cache_tag_create(app->cache, ctx->key, tag_keys[i], tag_ttl(app),
                                 &ctx->gens[i]) !=
                CACHE_OK)
                failed = true;
        }
        ctx->have_gens = !failed;
        bool lock_held = vals[lock_idx].data != NULL;
        struct cache_session cs;
        if (session_idx && caller->pending && vals[session_idx].data &&
            cache_session_parse(vals[session_idx].data, vals[session_idx].len, &cs) == 0) {
            caller->pending = false;
            caller->id = cs.user_id;
            snprintf(caller->name, sizeof caller->name, "%s", cs.name);
            snprintf(caller->role, sizeof caller->role, "%s", cs.role);
        }
        struct cache_entry e;
        bool usable = !refresh && tags_whole && vals[0].data &&
                      cache_entry_decode(vals[0].data, vals[0].len, &e) == 0 &&
                      cache_tags_match(e.gens, e.ntags, ctx->gens, ntags) &&
                      (e.status != 404 || anonymous);
        if (failed) {
            for (size_t i = 0; i < nkeys; i++)
                cache_value_free(&vals[i]);
            to_bypass(ctx);
            return EDGE_MISS;
        }
        if (usable && caller && caller->pending &&
            auth_settle(app, res, caller) != AUTH_OK) {
            /* Not in this server's copy, and unknown, expired or revoked
             * (or not checkable): res holds the answer. */
            for (size_t i = 0; i < nkeys; i++)
                cache_value_free(&vals[i]);
            return EDGE_SERVED;
        }
        if (usable && S.internal == INTERNAL_WARM) {
            /* A reader recomputed it already; an expired one is redone. */
            bool fresh = clock_wall_us() / 1000 < e.soft_expiry_ms;
            if (fresh) {
                for (size_t i = 0; i < nkeys; i++)
                    cache_value_free(&vals[i]);
                S.stats.warm_skips++;
                return EDGE_SERVED;
            }
            usable = false;
        }
        if (usable) {
            int64_t now_ms = clock_wall_us() / 1000;
            bool fresh = now_ms < e.soft_expiry_ms;
            bool ok;
            if (fresh) {
                ok = serve(app, req, &e, "HIT", res);
                if (ok)
                    S.stats.hits++;
            } else {
                /* Expired: everyone answers STALE; the worker that wins the
                 * lock recomputes after its answer is out, unless Postgres
                 * is unreachable (stale-if-error: nothing to refresh from). */
                if (!db_circuit_open(app->db) &&
                    cache_lock_acquire(app->cache, ctx->key, lock_key, app->cfg.cache.lock_ms) ==
                        CACHE_OK) {
                    char path[PENDING_PATH_MAX];
                    if (request_uri(req, path, sizeof path)) {
                        queue_path(PENDING_REFRESH, path, "");
                        ctx->refresh = true;
                    } else {
                        cache_lock_release(app->cache, ctx->key, lock_key);
                    }
                }
                ok = serve(app, req, &e, "STALE", res);
                if (ok)
                    S.stats.stale++;
            }
            for (size_t i = 0; i < nkeys; i++)
                cache_value_free(&vals[i]);
            if (ok) {
                if (waiting)
                    S.stats.lock_waits++;
                return EDGE_SERVED;
            }
            S.stats.misses++;
            return EDGE_MISS;
        }
        for (size_t i = 0; i < nkeys; i++)
            cache_value_free(&vals[i]);
        if (refresh) {
            /* This worker holds the lock (or pitcheyctl warm runs): the
             * entry stored ends any wait on it. */
            ctx->locked = true;
            S.stats.misses++;
            return EDGE_MISS;
        }
        if (S.internal == INTERNAL_WARM) {
            /* Recompute only under the lock, so readers that miss meanwhile
             * wait for this entry instead of querying too; a lock held by
             * someone else means it is being recomputed already. */
            if (!lock_held && cache_lock_acquire(app->cache, ctx->key, lock_key,
                                                 app->cfg.cache.lock_ms) == CACHE_OK) {
                ctx->locked = true;
                S.stats.misses++;
                return EDGE_MISS;
            }
            S.stats.warm_skips++;
            return EDGE_SERVED;
        }

        if (!waiting) {
            /* Miss: take the lock and query, or wait for whoever holds it. */
            enum cache_result lr = lock_held ? CACHE_NOT_FOUND
                                             : cache_lock_acquire(app->cache, ctx->key, lock_key,
                                                                  app->cfg.cache.lock_ms);
            if (lr == CACHE_OK) {
                ctx->locked = true;
                S.stats.misses++;
                return EDGE_MISS;
            }
            if (lr == CACHE_ERROR) {
                to_bypass(ctx);
                return EDGE_MISS;
            }
            waiting = true;
            wait_start = clock_mono_us();
        } else if (!lock_held || clock_mono_us() - wait_start >= wait_us) {
            /* The winner gave up or took too long: query ourselves. */
            S.stats.lock_waits++;
            S.stats.lock_fallbacks++;
            S.stats.misses++;
            return EDGE_MISS;
        }
        if (wait_us <= 0) {
            S.stats.misses++;
            return EDGE_MISS;
        }
        wait_for_store(app, ctx->key, ticket, wait_start + wait_us - clock_mono_us());
    }
}

void edge_finish(struct app *app, struct request *req, struct edge_ctx *ctx,
                 struct response *res)
{
    if (ctx->bypass || !cache_enabled(app->cache)) {
        S.stats.bypass++;
        edge_private(res);
        return;
    }
    bool storable = res->status == 200 ||
                    (res->status == 404 && ctx->anonymous && app->cfg.cache.negative_ttl_s > 0);
    if (!storable) {
        release_lock(app, ctx);
        if (res->status == 404) {
            /* Seen with a token: a token may unlock a draft. */
            edge_private(res);
            return;
        }
        response_header(res, "Cache-Control", "no-store");
        res->cache_status = "MISS";
        return;
    }

    struct cache_entry e;
    struct buf gz = BUF_INIT, wire = BUF_INIT;
    memset(&e, 0, sizeof e);
    e.status = res->status;
    e.created_ms = clock_wall_us() / 1000;
    e.soft_expiry_ms = e.created_ms +
                       (int64_t)(res->status == 404 ? app->cfg.cache.negative_ttl_s
                                                    : app->cfg.cache.ttl_s) * 1000;
    e.ntags = ctx->ntags;
    memcpy(e.gens, ctx->gens, sizeof ctx->gens);
    cache_entry_prepare(&e, res->body.data ? res->body.data : "", res->body.len, &gz);
    bool stored = false;
    /* Without the generations read before the query the entry could hide
     * a write: answer it, do not keep it. */
    if (ctx->have_gens && ctx->epoch == S.epoch) {
        cache_entry_encode(&e, &wire);
        stored = cache_set(app->cache, ctx->key, wire.data, wire.len,
                           hard_ttl(app, res->status), 0) == CACHE_OK;
    }
    if (stored) {
        S.stats.stores++;
        S.stored = true;
    }
    if (ctx->locked)
        release_lock(app, ctx); /* wakes the waiters */
    else if (stored)
        wake_waiters(app, ctx->key);

    bool gzip_out = e.gzip && request_accepts_gzip(req);
    const char *etag = gzip_out ? e.etag_gzip : e.etag;
    if (req->if_none_match && res->status == 200 &&
        (cache_etag_matches(req->if_none_match, e.etag) ||
         (e.gzip && cache_etag_matches(req->if_none_match, e.etag_gzip)))) {
        int status = res->status;
        response_empty(res, 304);
        S.stats.not_modified++;
        cache_headers(app, res, status, etag);
    } else {
        if (gzip_out) {
            buf_reset(&res->body);
            buf_append(&res->body, gz.data, gz.len);
            response_header(res, "Content-Encoding", "gzip");
        } else if (e.gzip && stored) {
            /* The next identity hit of this entry needs no inflate. */
            memo_put(memo(), e.etag, res->body.data, res->body.len);
        }
        cache_headers(app, res, res->status, etag);
    }
    res->cache_status = "MISS";
    buf_free(&gz);
    buf_free(&wire);
}

void edge_private_after_begin(struct app *app, struct edge_ctx *ctx, struct response *res)
{
    /* Not stored: let waiters for this key stop waiting at once. */
    release_lock(app, ctx);
    edge_private(res);
}

void edge_private(struct response *res)
{
    response_header(res, "Cache-Control", "private, no-store");
    res->cache_status = "BYPASS";
}

void edge_invalidate(struct app *app, const char *const *tags, size_t ntags)
{
    bool failed = false;
    if (!cache_enabled(app->cache))
        return; /* no cache, nothing to forget */
    /* Bumps are tried even while this worker's breaker is open: memcached
     * may be back for the readers already, and a bump recorded only in
     * the epoch leaves them serving the old entry until their next epoch
     * read.  A first failure while the breaker is open ends the attempt
     * (a hung server would cost a timeout per call): the epoch covers the
     * rest. */
    bool was_open = cache_bypassing(app->cache);
    cache_set_insist(app->cache, true);
    for (size_t i = 0; i < ntags; i++) {
        char key[CACHE_KEY_MAX + 1];
        cache_key_build(key, app->cfg.cache.prefix, S.epoch, CACHE_KEY_TAG, tags[i]);
        /* One more try when memcached was fine a moment ago: a lone timeout
         * on a busy machine would otherwise move the whole cache to a new
         * epoch and leave readers a window until their next epoch read.
         * (A second increment of a server that got the first is harmless:
         * any change invalidates.) */
        if (cache_tag_bump(app->cache, key, tag_ttl(app)) != CACHE_OK &&
            (was_open || cache_tag_bump(app->cache, key, tag_ttl(app)) != CACHE_OK)) {
            failed = true;
            if (was_open)
                break;
        } else {
            S.stats.invalidations++;
        }
    }
    cache_set_insist(app->cache, false);
    if (failed)
        bump_epoch(app, "tag_bump_failed");
    /* Warm the default first pages of the lists, the pages nearly every
     * visitor asks for.  Items and profiles are not warmed: they are
     * recomputed by their first reader (coalesced), which costs the same
     * query, and only when somebody reads them; warming them after every
     * write cost three queries per write that few reads used (bench/run,
     * mixed). */
    for (size_t i = 0; i < ntags; i++) {
        if (strcmp(tags[i], "pitches") == 0) {
            queue_path(PENDING_WARM, "/api/pitches", "");
            queue_path(PENDING_WARM, "/api/pitches?sort=popular", "");
        }
    }
}

/* Runs path through the router as an internal HEAD request of the given
 * kind, which stores its answer.  Returns the status (0 when a warm found
 * nothing to do). */
static int run_internal(struct app *app, enum internal_kind kind, const char *path,
                        bool *stored)
{
    char uri[PENDING_PATH_MAX + 16];
    snprintf(uri, sizeof uri, "REQUEST_URI=%s", path);
    char method[] = "REQUEST_METHOD=HEAD", addr[] = "REMOTE_ADDR=127.0.0.1";
    char *envp[] = { method, uri, addr, NULL };
    struct request req;
    struct response res;
    request_init(&req, envp);
    response_init(&res);
    S.internal = kind;
    S.stored = false;
    dispatch_request(app, &req, &res);
    S.internal = INTERNAL_NONE;
    if (stored)
        *stored = S.stored;
    int status = res.status;
    log_debug("event=cache_recompute path=%s status=%d stored=%d", path, status, (int)S.stored);
    response_free(&res);
    request_free(&req);
    return status;
}

int edge_warm_path(struct app *app, const char *path, bool *stored)
{
    int status = run_internal(app, INTERNAL_REFRESH, path, stored);
    S.stats.warms++;
    return status;
}

void edge_after_response(struct app *app, struct request *req, struct response *res)
{
    (void)req;
    (void)res;
    if (S.npending == 0)
        return;
    /* Copy first: the internal requests may queue more. */
    __typeof__(S.pending) pending;
    size_t n = S.npending;
    memcpy(pending, S.pending, sizeof pending);
    S.npending = 0;
    if (db_circuit_open(app->db) || cache_bypassing(app->cache))
        return;
    for (size_t i = 0; i < n; i++) {
        (void)run_internal(app,
                           pending[i].kind == PENDING_REFRESH ? INTERNAL_REFRESH : INTERNAL_WARM,
                           pending[i].path, NULL);
        if (pending[i].kind == PENDING_REFRESH)
            S.stats.refreshes++;
        else
            S.stats.warms++;
    }
    (void)db_take_wait_us(app->db);
}

void edge_housekeeping(struct app *app, int64_t now_us)
{
    if (!cache_enabled(app->cache))
        return;
    /* Only while requests come: an idle worker must let its connection go
     * after [database] idle_timeout; edge_begin() catches up. */
    /* A worker that just started counts as busy: its first requests find
     * the epoch read already and hits need no database. */
    int64_t last = app->last_request_us > app->started_us ? app->last_request_us : app->started_us;
    bool busy = now_us - last < (int64_t)app->cfg.database.idle_timeout_s * 1000000;
    if (busy && now_us - S.epoch_read_us >= EPOCH_POLL_US)
        (void)read_epoch(app);
}

void edge_get_stats(const struct app *app, struct edge_stats *out)
{
    *out = S.stats;
    if (app && app->cache) {
        struct cache_stats cs;
        cache_get_stats(app->cache, &cs);
        out->memcached_errors = cs.errors;
    }
}

uint64_t edge_epoch(void)
{
    return S.epoch;
}
