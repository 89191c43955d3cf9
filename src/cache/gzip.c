/* gzip: zlib in gzip framing (see gzip.h). */
#include "pitchey-build.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "cache/gzip.h"

int cache_gzip(const void *in, size_t len, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: gzip framing; deflate writes mtime 0 and no name. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t start = out->len;
    size_t bound = deflateBound(&zs, (uLong)len);
    buf_reserve(out, bound + 1);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data + start;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        return -1;
    out->len = start + produced;
    out->data[out->len] = '\0';
    return 0;
}

int cache_gunzip(const void *in, size_t len, size_t max_out, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    size_t start = out->len;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        size_t have = out->len - start;
        if (have >= max_out)
            break;
        size_t chunk = len * 4 + 4096;
        if (chunk > max_out - have)
            chunk = max_out - have;
        buf_reserve(out, chunk + 1);
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        out->len += chunk - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END)
            break;
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)
            break; /* truncated input */
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    out->data[out->len] = '\0';
    return 0;
}
