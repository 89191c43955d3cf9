/* gzip: whole-buffer gzip and gunzip with zlib, for cached bodies.
 *
 * Compression is deterministic (no file name, mtime 0), so the same body
 * always gives the same bytes and the same ETag on every host. */
#ifndef PITCHEY_CACHE_GZIP_H
#define PITCHEY_CACHE_GZIP_H

#include <stddef.h>

#include "common/buf.h"

/* Appends the gzip form of in to out; 0, or -1 (out unchanged in length). */
int cache_gzip(const void *in, size_t len, struct buf *out) __attribute__((warn_unused_result));
/* Appends the inflated form of a gzip member to out; -1 on corrupt input
 * or above max_out bytes. */
int cache_gunzip(const void *in, size_t len, size_t max_out, struct buf *out)
    __attribute__((warn_unused_result));

#endif
