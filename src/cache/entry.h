/* entry: one cached answer as stored in memcached.
 *
 * A small binary header (magic, format version, status, encoding, created,
 * soft expiry, the generations of the tags it depends on, its two ETags)
 * followed by the body.  Bodies above CACHE_GZIP_MIN are stored gzip'd, once;
 * the identity form is inflated only for clients that do not take gzip.
 * Decoding never trusts the bytes: a short, foreign or corrupt value is
 * simply not an entry (a miss). */
#ifndef PITCHEY_CACHE_ENTRY_H
#define PITCHEY_CACHE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CACHE_ENTRY_MAX_TAGS 8
#define CACHE_GZIP_MIN 1024
/* "\"" + 32 hex + "-gz" + "\"" + NUL */
#define CACHE_ETAG_MAX 40

struct cache_entry {
    int status;
    bool gzip;                 /* body is gzip'd */
    int64_t created_ms;        /* wall clock, Unix ms */
    int64_t soft_expiry_ms;    /* after this the entry is STALE */
    size_t ntags;
    uint64_t gens[CACHE_ENTRY_MAX_TAGS];
    char etag[CACHE_ETAG_MAX];      /* of the identity body, quoted */
    char etag_gzip[CACHE_ETAG_MAX]; /* of the gzip body; "" when not gzip'd */
    const char *body;          /* borrowed: into the caller's body or the decoded value */
    size_t body_len;
};

/* Strong ETags of an identity body: "\"<hex>\"" and "\"<hex>-gz\"". */
void cache_entry_etags(const void *body, size_t len, char etag[CACHE_ETAG_MAX],
                       char etag_gzip[CACHE_ETAG_MAX]);
/* Fills e from an identity body: ETags, and the gzip form into gz (which
 * e->body then points into) when len > CACHE_GZIP_MIN. */
void cache_entry_prepare(struct cache_entry *e, const void *body, size_t len, struct buf *gz);
/* Serialises e (header + body) into out. */
void cache_entry_encode(const struct cache_entry *e, struct buf *out);
/* Parses a stored value; e->body points into data.  0, or -1 if it is not
 * a well-formed entry of this format version. */
int cache_entry_decode(const void *data, size_t len, struct cache_entry *e)
    __attribute__((warn_unused_result));
/* The identity body into out (inflating a gzip'd one); 0 or -1. */
int cache_entry_identity(const struct cache_entry *e, struct buf *out)
    __attribute__((warn_unused_result));
/* If-None-Match against an ETag: "*", lists, and W/ (weak comparison, as
 * RFC 9110 asks for If-None-Match). */
bool cache_etag_matches(const char *if_none_match, const char *etag);

#endif
