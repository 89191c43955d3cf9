/* cache client: one libmemcached handle per process, failing open.
 *
 * Consistent (ketama) hashing over the configured servers, short timeouts,
 * dead servers ejected and retried by libmemcached.  A hung server (accepts,
 * never answers) is not ejected by libmemcached, so a per-process circuit
 * breaker bypasses the cache for a while after repeated failures.  No call
 * here ever turns into a client-visible error: callers treat every failure
 * as a miss and answer from Postgres with BYPASS. */
#ifndef PITCHEY_CACHE_CLIENT_H
#define PITCHEY_CACHE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

struct cache_options {
    const char *servers;     /* "host:port,host:port"; empty disables */
    int timeout_ms;
    int breaker_threshold;
    int breaker_cooldown_ms;
};

enum cache_result {
    CACHE_OK,        /* found / stored */
    CACHE_NOT_FOUND, /* miss, or not stored because of add/cas semantics */
    CACHE_ERROR,     /* unreachable, timed out, bypassed: fail open */
};

struct cache_value {
    char *data;      /* malloc'd, NUL-terminated; NULL when absent */
    size_t len;
    uint32_t flags;
};

struct cache_stats {
    uint64_t gets;
    uint64_t sets;
    uint64_t errors;
    uint64_t timeouts;
    uint64_t server_failures; /* a server refused, dead or disabled (not a timeout) */
    uint64_t bypassed;   /* calls skipped while the breaker was open */
    uint64_t breaker_opens;
    uint64_t resets;     /* handle rebuilt after errors */
};

struct cache *cache_new(const struct cache_options *opts);
void cache_free(struct cache *c);
bool cache_enabled(const struct cache *c);
/* True while calls are being skipped (breaker open) or no server works. */
bool cache_bypassing(struct cache *c);
/* While on, calls are made even when the breaker is open (a write's tag
 * bumps: a missed bump costs correctness, a tried one a millisecond; a
 * success closes the breaker). */
void cache_set_insist(struct cache *c, bool on);

enum cache_result cache_get(struct cache *c, const char *key, struct cache_value *out);
/* Fetches n keys in one round trip; out[i].data stays NULL for misses.
 * Returns CACHE_ERROR when the round trip failed as a whole. */
enum cache_result cache_get_multi(struct cache *c, const char *const *keys, size_t n,
                                  struct cache_value *out);
/* The same, from the server that group hashes to (memcached's "by key"
 * calls): what is stored next to an entry is fetched with it in one trip. */
enum cache_result cache_get_multi_by(struct cache *c, const char *group, const char *const *keys,
                                     size_t n, struct cache_value *out);
enum cache_result cache_get_by(struct cache *c, const char *group, const char *key,
                               struct cache_value *out);
enum cache_result cache_add_by(struct cache *c, const char *group, const char *key,
                               const void *data, size_t len, int ttl_s);
enum cache_result cache_delete_by(struct cache *c, const char *group, const char *key);
/* Configured servers (0 while the cache is bypassed). */
size_t cache_server_count(struct cache *c);
/* incr and add on the server at that position of the configured list;
 * CACHE_ERROR when it is not reachable or not in the distribution. */
enum cache_result cache_incr_on(struct cache *c, size_t server, const char *key, uint64_t *value);
enum cache_result cache_add_on(struct cache *c, size_t server, const char *key, const void *data,
                               size_t len, int ttl_s);
enum cache_result cache_set_on(struct cache *c, size_t server, const char *key, const void *data,
                               size_t len, int ttl_s);
enum cache_result cache_delete_on(struct cache *c, size_t server, const char *key);
enum cache_result cache_set(struct cache *c, const char *key, const void *data, size_t len,
                            int ttl_s, uint32_t flags);
/* Stores only if absent (locks, new tags). */
enum cache_result cache_add(struct cache *c, const char *key, const void *data, size_t len,
                            int ttl_s);
enum cache_result cache_delete(struct cache *c, const char *key);
/* Increments a decimal counter; CACHE_NOT_FOUND when the key is absent. */
enum cache_result cache_incr(struct cache *c, const char *key, uint64_t *value);
void cache_value_free(struct cache_value *v);

enum cache_health {
    CACHE_HEALTH_OK,
    CACHE_HEALTH_DEGRADED, /* some servers answer */
    CACHE_HEALTH_DOWN,
    CACHE_HEALTH_DISABLED,
};
enum cache_health cache_ping(struct cache *c);
const char *cache_health_name(enum cache_health h);
void cache_get_stats(const struct cache *c, struct cache_stats *out);

#endif
