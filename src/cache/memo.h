/* memo: the identity bodies of recently served gzip'd entries, kept in this
 * process and found by their ETag.
 *
 * Entries above CACHE_GZIP_MIN are stored gzip'd; a client that does not
 * take gzip needs the body inflated, and inflating a first page of a list
 * at every hit was 44% of the instructions of a cache hit (callgrind, 300
 * hits of GET /api/pitches).  The ETag is a hash of the identity body, so a
 * body found under an entry's ETag is that entry's body: nothing here can
 * go stale.  Bounded by count and bytes; the least recently used goes
 * first. */
#ifndef PITCHEY_CACHE_MEMO_H
#define PITCHEY_CACHE_MEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct memo;

struct memo *memo_new(size_t max_entries, size_t max_bytes);
void memo_free(struct memo *m);
/* Appends the body kept under etag to out; false when there is none. */
bool memo_get(struct memo *m, const char *etag, struct buf *out);
/* Keeps a copy of body under etag (a body above max_bytes / 4 is not kept). */
void memo_put(struct memo *m, const char *etag, const void *body, size_t len);
size_t memo_bytes(const struct memo *m);

#endif
