/* cache client: libmemcached with a breaker, failing open (see client.h). */
#include "pitchey-build.h"

#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/client.h"
#include "common/breaker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

/* After errors, the handle is rebuilt at most this often: libmemcached can
 * keep a restarted server ejected, or a dead socket, far longer than its
 * retry timeouts promise. */
#define CACHE_RESET_INTERVAL_US 1000000

struct cache {
    memcached_st *mc;
    char *servers;
    int timeout_ms;
    int64_t last_reset;
    bool need_reset;
    char **probe_keys;   /* one key per server, for health probes */
    struct breaker breaker;
    struct cache_stats stats;
    int nservers;
    bool insist; /* calls go out even while the breaker is open */
};

static int add_servers(memcached_st *mc, const char *list)
{
    int n = 0;
    char *copy = xstrdup(list);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        in_port_t port = 11211;
        if (colon) {
            *colon = '\0';
            port = (in_port_t)atoi(colon + 1);
        }
        if (memcached_server_add(mc, tok, port) == MEMCACHED_SUCCESS)
            n++;
        else
            log_error("event=cache_bad_server server=%s", tok);
    }
    free(copy);
    return n;
}

/* libmemcached caches each server's version, so memcached_version() is no
 * probe.  Instead find, once, a key that hashes to each server; a get of
 * those keys touches every server. */
static void find_probe_keys(struct cache *c)
{
    c->probe_keys = xcalloc((size_t)c->nservers, sizeof *c->probe_keys);
    int found = 0;
    char key[64];
    for (int i = 0; i < 100000 && found < c->nservers; i++) {
        int n = snprintf(key, sizeof key, "pitchey:probe:%d", i);
        uint32_t idx = memcached_generate_hash(c->mc, key, (size_t)n);
        if (idx < (uint32_t)c->nservers && c->probe_keys[idx] == NULL) {
            c->probe_keys[idx] = xstrdup(key);
            found++;
        }
    }
}

static void free_handle(struct cache *c)
{
    if (c->mc)
        memcached_free(c->mc);
    c->mc = NULL;
    for (int i = 0; c->probe_keys && i < c->nservers; i++)
        free(c->probe_keys[i]);
    free(c->probe_keys);
    c->probe_keys = NULL;
    c->nservers = 0;
}

static void build_handle(struct cache *c)
{
    c->last_reset = clock_mono_us();
    c->need_reset = false;
    c->mc = memcached_create(NULL);
    if (c->mc == NULL)
        return;
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, (uint64_t)c->timeout_ms);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)c->timeout_ms);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 2);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, 2);
    c->nservers = add_servers(c->mc, c->servers);
    if (c->nservers == 0) {
        memcached_free(c->mc);
        c->mc = NULL;
        return;
    }
    find_probe_keys(c);
}

struct cache *cache_new(const struct cache_options *opts)
{
    struct cache *c = xcalloc(1, sizeof *c);
    breaker_init(&c->breaker, opts->breaker_threshold, opts->breaker_cooldown_ms);
    c->timeout_ms = opts->timeout_ms;
    if (opts->servers == NULL || opts->servers[0] == '\0')
        return c;
    c->servers = xstrdup(opts->servers);
    build_handle(c);
    return c;
}

void cache_free(struct cache *c)
{
    if (c == NULL)
        return;
    free_handle(c);
    free(c->servers);
    free(c);
}

bool cache_enabled(const struct cache *c)
{
    return c && c->servers;
}

void cache_set_insist(struct cache *c, bool on)
{
    if (c)
        c->insist = on;
}

bool cache_bypassing(struct cache *c)
{
    return !cache_enabled(c) || breaker_is_open(&c->breaker, clock_mono_us());
}

/* False when the call must be skipped (disabled or breaker open). */
static bool begin(struct cache *c)
{
    if (!cache_enabled(c))
        return false;
    int64_t now = clock_mono_us();
    if (!c->insist && !breaker_allow(&c->breaker, now)) {
        c->stats.bypassed++;
        return false;
    }
    if (c->need_reset && now - c->last_reset >= CACHE_RESET_INTERVAL_US) {
        free_handle(c);
        build_handle(c);
        c->stats.resets++;
    }
    return c->mc != NULL;
}

/* Maps a libmemcached result, feeding the breaker. */
static enum cache_result finish(struct cache *c, memcached_return_t rc, const char *op)
{
    switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
    case MEMCACHED_END:
        breaker_success(&c->breaker);
        return CACHE_OK;
    case MEMCACHED_NOTFOUND:
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
        breaker_success(&c->breaker);
        return CACHE_NOT_FOUND;
    default:
        break;
    }
    c->stats.errors++;
    c->need_reset = true;
    if (rc == MEMCACHED_TIMEOUT)
        c->stats.timeouts++;
    if (rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_SERVER_MARKED_DEAD ||
        rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE ||
        rc == MEMCACHED_NO_SERVERS)
        c->stats.server_failures++;
    uint64_t opens = c->breaker.opens;
    /* Dead and ejected servers fail in microseconds: only slow failures
     * need the breaker, but counting all keeps a flapping server cheap. */
    breaker_failure(&c->breaker, clock_mono_us());
    if (c->breaker.opens != opens) {
        c->stats.breaker_opens++;
        log_warn("event=cache_breaker_open op=%s reason=\"%s\"", op, memcached_strerror(c->mc, rc));
    } else {
        log_debug("event=cache_error op=%s reason=\"%s\"", op, memcached_strerror(c->mc, rc));
    }
    return CACHE_ERROR;
}

void cache_value_free(struct cache_value *v)
{
    free(v->data);
    v->data = NULL;
    v->len = 0;
}

enum cache_result cache_get(struct cache *c, const char *key, struct cache_value *out)
{
    out->data = NULL;
    out->len = 0;
    out->flags = 0;
    if (!begin(c))
        return CACHE_ERROR;
    c->stats.gets++;
    memcached_return_t rc;
    char *v = memcached_get(c->mc, key, strlen(key), &out->len, &out->flags, &rc);
    if (v) {
        out->data = v;
        breaker_success(&c->breaker);
        return CACHE_OK;
    }
    return finish(c, rc, "get");
}

static enum cache_result get_multi(struct cache *c, const char *group, const char *const *keys,
                                   size_t n, struct cache_value *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i].data = NULL;
        out[i].len = 0;
        out[i].flags = 0;
    }
    if (!begin(c))
        return CACHE_ERROR;
    c->stats.gets++;
    size_t *lens = xmalloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(keys[i]);
    memcached_return_t rc =
        group ? memcached_mget_by_key(c->mc, group, strlen(group), keys, lens, n)
              : memcached_mget(c->mc, keys, lens, n);
    if (rc != MEMCACHED_SUCCESS) {
        free(lens);
        return finish(c, rc, "mget");
    }
    memcached_result_st *res;
    while ((res = memcached_fetch_result(c->mc, NULL, &rc)) != NULL) {
        const char *k = memcached_result_key_value(res);
        size_t klen = memcached_result_key_length(res);
        for (size_t i = 0; i < n; i++) {
            if (out[i].data == NULL && lens[i] == klen && memcmp(keys[i], k, klen) == 0) {
                out[i].len = memcached_result_length(res);
                out[i].data = xstrndup(memcached_result_value(res), out[i].len);
                out[i].flags = memcached_result_flags(res);
                break;
            }
        }
        memcached_result_free(res);
    }
    free(lens);
    /* The fetch loop ends with END/NOTFOUND when all went well. */
    if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_SUCCESS) {
        breaker_success(&c->breaker);
        return CACHE_OK;
    }
    for (size_t i = 0; i < n; i++)
        cache_value_free(&out[i]);
    return finish(c, rc, "mget");
}

enum cache_result cache_get_multi(struct cache *c, const char *const *keys, size_t n,
                                  struct cache_value *out)
{
    return get_multi(c, NULL, keys, n, out);
}

enum cache_result cache_get_multi_by(struct cache *c, const char *group, const char *const *keys,
                                     size_t n, struct cache_value *out)
{
    return get_multi(c, group, keys, n, out);
}

enum cache_result cache_get_by(struct cache *c, const char *group, const char *key,
                               struct cache_value *out)
{
    return get_multi(c, group, &key, 1, out) == CACHE_ERROR ? CACHE_ERROR
           : out->data                                      ? CACHE_OK
                                                            : CACHE_NOT_FOUND;
}

enum cache_result cache_add_by(struct cache *c, const char *group, const char *key,
                               const void *data, size_t len, int ttl_s)
{
    if (!begin(c))
        return CACHE_ERROR;
    c->stats.sets++;
    return finish(c,
                  memcached_add_by_key(c->mc, group, strlen(group), key, strlen(key), data, len,
                                       (time_t)ttl_s, 0),
                  "add");
}

enum cache_result cache_delete_by(struct cache *c, const char *group, const char *key)
{
    if (!begin(c))
        return CACHE_ERROR;
    return finish(c, memcached_delete_by_key(c->mc, group, strlen(group), key, strlen(key), 0),
                  "delete");
}

size_t cache_server_count(struct cache *c)
{
    if (!begin(c))
        return 0;
    return (size_t)c->nservers;
}

/* The group key that lands on server i, or NULL when server i is not in
 * the current distribution (failed and ejected): then nothing can be
 * written there. */
static const char *server_group(struct cache *c, size_t i)
{
    if (c->mc == NULL || i >= (size_t)c->nservers || c->probe_keys[i] == NULL)
        return NULL;
    const char *k = c->probe_keys[i];
    if (memcached_generate_hash(c->mc, k, strlen(k)) != (uint32_t)i)
        return NULL;
    return k;
}

/* The group key that reaches one configured server, after the usual
 * checks; NULL when the call must fail open. */
static const char *on_server(struct cache *c, size_t server)
{
    if (!begin(c))
        return NULL;
    return server_group(c, server);
}

enum cache_result cache_incr_on(struct cache *c, size_t server, const char *key, uint64_t *value)
{
    const char *g = on_server(c, server);
    if (g == NULL)
        return CACHE_ERROR;
    return finish(c, memcached_increment_by_key(c->mc, g, strlen(g), key, strlen(key), 1, value),
                  "incr");
}

enum cache_result cache_add_on(struct cache *c, size_t server, const char *key, const void *data,
                               size_t len, int ttl_s)
{
    const char *g = on_server(c, server);
    if (g == NULL)
        return CACHE_ERROR;
    c->stats.sets++;
    return finish(c, memcached_add_by_key(c->mc, g, strlen(g), key, strlen(key), data, len,
                                          (time_t)ttl_s, 0),
                  "add");
}

enum cache_result cache_set_on(struct cache *c, size_t server, const char *key, const void *data,
                               size_t len, int ttl_s)
{
    const char *g = on_server(c, server);
    if (g == NULL)
        return CACHE_ERROR;
    c->stats.sets++;
    return finish(c, memcached_set_by_key(c->mc, g, strlen(g), key, strlen(key), data, len,
                                          (time_t)ttl_s, 0),
                  "set");
}

enum cache_result cache_delete_on(struct cache *c, size_t server, const char *key)
{
    const char *g = on_server(c, server);
    if (g == NULL)
        return CACHE_ERROR;
    return finish(c, memcached_delete_by_key(c->mc, g, strlen(g), key, strlen(key), 0), "delete");
}




enum cache_result cache_set(struct cache *c, const char *key, const void *data, size_t len,
                            int ttl_s, uint32_t flags)
{
    if (!begin(c))
        return CACHE_ERROR;
    c->stats.sets++;
    return finish(c, memcached_set(c->mc, key, strlen(key), data, len, (time_t)ttl_s, flags),
                  "set");
}

enum cache_result cache_add(struct cache *c, const char *key, const void *data, size_t len,
                            int ttl_s)
{
    if (!begin(c))
        return CACHE_ERROR;
    c->stats.sets++;
    return finish(c, memcached_add(c->mc, key, strlen(key), data, len, (time_t)ttl_s, 0), "add");
}

enum cache_result cache_delete(struct cache *c, const char *key)
{
    if (!begin(c))
        return CACHE_ERROR;
    return finish(c, memcached_delete(c->mc, key, strlen(key), 0), "delete");
}

enum cache_result cache_incr(struct cache *c, const char *key, uint64_t *value)
{
    if (!begin(c))
        return CACHE_ERROR;
    return finish(c, memcached_increment(c->mc, key, strlen(key), 1, value), "incr");
}

enum cache_health cache_ping(struct cache *c)
{
    if (!cache_enabled(c))
        return CACHE_HEALTH_DISABLED;
    if (!begin(c))
        return CACHE_HEALTH_DOWN;
    int up = 0, probed = 0;
    for (int i = 0; i < c->nservers; i++) {
        if (c->probe_keys[i] == NULL)
            continue;
        probed++;
        size_t len;
        uint32_t flags;
        memcached_return_t rc;
        char *v = memcached_get(c->mc, c->probe_keys[i], strlen(c->probe_keys[i]), &len, &flags,
                                &rc);
        free(v);
        if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
            up++;
        else
            log_debug("event=cache_probe_failed server=%d reason=\"%s\"", i,
                     memcached_strerror(c->mc, rc));
    }
    if (up == probed) {
        breaker_success(&c->breaker);
        return CACHE_HEALTH_OK;
    }
    c->need_reset = true;
    return up > 0 ? CACHE_HEALTH_DEGRADED : CACHE_HEALTH_DOWN;
}

const char *cache_health_name(enum cache_health h)
{
    switch (h) {
    case CACHE_HEALTH_OK: return "ok";
    case CACHE_HEALTH_DEGRADED: return "degraded";
    case CACHE_HEALTH_DOWN: return "down";
    case CACHE_HEALTH_DISABLED: return "disabled";
    }
    return "down";
}

void cache_get_stats(const struct cache *c, struct cache_stats *out)
{
    *out = c->stats;
}
