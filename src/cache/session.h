/* session: bearer-token sessions cached in memcached.
 *
 * A token seen valid in Postgres is remembered for [cache] session_ttl
 * seconds (never past its expiry), under the keyed hash of the token (the
 * token itself is never stored), so cached routes answer requests that
 * carry a token without Postgres.  Logout deletes the entry after revoking
 * the session; if memcached cannot be reached then, the entry ends with its
 * TTL, which is the bound API.md gives for revocation.
 *
 * Every server keeps a copy, so the edge cache fetches a caller's session
 * in the same multi-get as the entry it is about to serve: checking a token
 * on a cached route costs no extra round trip. */
#ifndef PITCHEY_CACHE_SESSION_H
#define PITCHEY_CACHE_SESSION_H

#include <stdint.h>

#include "cache/client.h"

struct cache_session {
    int64_t user_id;
    char role[16];
    char name[401];
};

/* token_hash: the "\\x" + hex form of the keyed token hash. */
enum cache_result cache_session_get(struct cache *c, const char *prefix, const char *token_hash,
                                    struct cache_session *out) __attribute__((warn_unused_result));
void cache_session_put(struct cache *c, const char *prefix, const char *token_hash,
                       const struct cache_session *s, int ttl_s);
enum cache_result cache_session_forget(struct cache *c, const char *prefix,
                                       const char *token_hash);
/* The memcached key of a session (CACHE_KEY_MAX + 1 bytes). */
void cache_session_key(char *out, const char *prefix, const char *token_hash);
/* Parses "uid\nrole\nname"; 0 or -1 (exposed for tests). */
int cache_session_parse(const char *text, size_t len, struct cache_session *out);

#endif
