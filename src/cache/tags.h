/* tags: generation numbers for grouped invalidation.
 *
 * Every memcached server keeps its own copy of every tag, and an entry is
 * checked against the copy on its own server (fetched in the entry's
 * multi-get, by the entry's key).  A bump increments the copy on every
 * server, so read-your-writes holds even while workers disagree about which
 * servers are up (a server ejected by some and already re-added by
 * others): wherever an entry lives, the bump reached it, or the bump
 * failed and the caller bumps the epoch.
 *
 * Each tag ("pitches", "pitch:42", "user:7") has a decimal counter in
 * memcached.  An entry records the generations of its tags as read before
 * its query; it is valid only while every one of them still has that value.
 * A write bumps (increments) the tags it touched after its commit.  A tag
 * that does not exist is created with a random 64-bit value through add, so
 * an evicted and recreated tag never matches an old entry, and a missing
 * tag never validates anything. */
#ifndef PITCHEY_CACHE_TAGS_H
#define PITCHEY_CACHE_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/client.h"

/* Parses a stored generation (decimal, as incr keeps it). */
bool cache_tag_parse(const struct cache_value *v, uint64_t *gen);
/* A fresh random generation, never 0, below 2^63 (incr has room). */
uint64_t cache_tag_random(void);
/* Ensures the tag's copy on group's server exists and returns its
 * generation: add of a random value, or, when another worker created it
 * first, a get. */
enum cache_result cache_tag_create(struct cache *c, const char *group, const char *key, int ttl_s,
                                   uint64_t *gen)
    __attribute__((warn_unused_result));
/* Invalidates every entry that depends on the tag: incr on every server, or
 * add of a new random value where the tag is missing.  CACHE_ERROR when a
 * server could not record it (then the caller must bump the epoch). */
enum cache_result cache_tag_bump(struct cache *c, const char *key, int ttl_s)
    __attribute__((warn_unused_result));
/* True when the entry's generations equal the current ones, pairwise. */
bool cache_tags_match(const uint64_t *stored, size_t nstored, const uint64_t *current,
                      size_t ncurrent);

#endif
