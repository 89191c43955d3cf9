/* key: memcached keys of the edge cache.
 *
 * Every key is "<prefix>:v<format>:e<epoch>:<kind>:<name>": the format
 * version retires every entry when the entry layout changes, the epoch (from
 * Postgres, see edge.c) turns the whole cache over when an invalidation could
 * not be recorded.  memcached keys are at most 250 bytes without spaces or
 * control characters: a name that is too long or holds any other byte is
 * replaced by "#" + 32 hex digits of its BLAKE2b-128. */
#ifndef PITCHEY_CACHE_KEY_H
#define PITCHEY_CACHE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_KEY_MAX 250
#define CACHE_FORMAT_VERSION 1
/* Longest prefix used as is; a longer one is cut (it comes from the config). */
#define CACHE_PREFIX_MAX 64

enum cache_key_kind {
    CACHE_KEY_ENTRY = 'r',  /* a cached answer, name = route key */
    CACHE_KEY_TAG = 't',    /* a tag's generation, name = tag */
    CACHE_KEY_LOCK = 'l',   /* the coalescing lock of an entry, name = route key */
    CACHE_KEY_SESSION = 's', /* a cached session, name = token hash; no epoch */
};

/* Writes the key into out (CACHE_KEY_MAX + 1 bytes); never fails. */
void cache_key_build(char *out, const char *prefix, uint64_t epoch, enum cache_key_kind kind,
                     const char *name);
/* The key that holds the last epoch seen in Postgres (no epoch inside). */
void cache_key_epoch(char *out, const char *prefix);
/* True when every byte is printable ASCII other than space. */
bool cache_key_safe(const char *s, size_t len);

#endif
