/* entry: stored answers (see entry.h).
 *
 * Layout, little-endian:
 *   0  'P' 'E' version flags(bit 0 gzip)
 *   4  status:u16 ntags:u8 0:u8
 *   8  created_ms:i64  16 soft_expiry_ms:i64
 *  24  gens[ntags]:u64
 *      etag_len:u8 etag, etag_gzip_len:u8 etag_gzip, body_len:u32 body */
#include "pitchey-build.h"

#include <sodium.h>
#include <string.h>

#include "cache/entry.h"
#include "cache/gzip.h"
#include "cache/key.h"

#define MAGIC0 'P'
#define MAGIC1 'E'
#define FLAG_GZIP 1u
/* An inflated body larger than this is treated as corrupt. */
#define IDENTITY_MAX (64u << 20)

void cache_entry_etags(const void *body, size_t len, char etag[CACHE_ETAG_MAX],
                       char etag_gzip[CACHE_ETAG_MAX])
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, body, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    memcpy(etag, "\"", 1);
    memcpy(etag + 1, hex, 32);
    memcpy(etag + 33, "\"", 2);
    if (etag_gzip) {
        memcpy(etag_gzip, etag, 33);
        memcpy(etag_gzip + 33, "-gz\"", 5);
    }
}

void cache_entry_prepare(struct cache_entry *e, const void *body, size_t len, struct buf *gz)
{
    cache_entry_etags(body, len, e->etag, e->etag_gzip);
    e->gzip = false;
    e->body = body;
    e->body_len = len;
    if (len > CACHE_GZIP_MIN) {
        buf_reset(gz);
        if (cache_gzip(body, len, gz) == 0) {
            e->gzip = true;
            e->body = gz->data;
            e->body_len = gz->len;
            return;
        }
    }
    e->etag_gzip[0] = '\0';
}

static void put_u64(struct buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    buf_append(b, x, 8);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void cache_entry_encode(const struct cache_entry *e, struct buf *out)
{
    size_t ntags = e->ntags > CACHE_ENTRY_MAX_TAGS ? CACHE_ENTRY_MAX_TAGS : e->ntags;
    unsigned char head[8] = { MAGIC0, MAGIC1, CACHE_FORMAT_VERSION, e->gzip ? FLAG_GZIP : 0,
                              (unsigned char)(e->status & 0xff),
                              (unsigned char)((e->status >> 8) & 0xff), (unsigned char)ntags, 0 };
    buf_append(out, head, sizeof head);
    put_u64(out, (uint64_t)e->created_ms);
    put_u64(out, (uint64_t)e->soft_expiry_ms);
    for (size_t i = 0; i < ntags; i++)
        put_u64(out, e->gens[i]);
    const char *tags[2] = { e->etag, e->gzip ? e->etag_gzip : "" };
    for (int i = 0; i < 2; i++) {
        size_t n = strnlen(tags[i], CACHE_ETAG_MAX - 1);
        buf_append_char(out, (char)n);
        buf_append(out, tags[i], n);
    }
    uint32_t bl = (uint32_t)e->body_len;
    unsigned char l[4] = { (unsigned char)bl, (unsigned char)(bl >> 8),
                           (unsigned char)(bl >> 16), (unsigned char)(bl >> 24) };
    buf_append(out, l, 4);
    buf_append(out, e->body, e->body_len);
}

int cache_entry_decode(const void *data, size_t len, struct cache_entry *e)
{
    const unsigned char *p = data;
    memset(e, 0, sizeof *e);
    if (len < 24 || p[0] != MAGIC0 || p[1] != MAGIC1 || p[2] != CACHE_FORMAT_VERSION ||
        (p[3] & ~FLAG_GZIP) != 0)
        return -1;
    e->gzip = (p[3] & FLAG_GZIP) != 0;
    e->status = p[4] | (p[5] << 8);
    e->ntags = p[6];
    if (e->status < 100 || e->status > 599 || e->ntags > CACHE_ENTRY_MAX_TAGS)
        return -1;
    e->created_ms = (int64_t)get_u64(p + 8);
    e->soft_expiry_ms = (int64_t)get_u64(p + 16);
    size_t off = 24;
    if (len - off < e->ntags * 8)
        return -1;
    for (size_t i = 0; i < e->ntags; i++, off += 8)
        e->gens[i] = get_u64(p + off);
    char *tags[2] = { e->etag, e->etag_gzip };
    for (int i = 0; i < 2; i++) {
        if (off >= len)
            return -1;
        size_t n = p[off++];
        if (n >= CACHE_ETAG_MAX || len - off < n)
            return -1;
        memcpy(tags[i], p + off, n);
        tags[i][n] = '\0';
        off += n;
    }
    if (e->etag[0] == '\0' || (e->gzip && e->etag_gzip[0] == '\0') || len - off < 4)
        return -1;
    uint32_t bl = (uint32_t)p[off] | ((uint32_t)p[off + 1] << 8) | ((uint32_t)p[off + 2] << 16) |
                  ((uint32_t)p[off + 3] << 24);
    off += 4;
    if (len - off != bl)
        return -1;
    e->body = (const char *)p + off;
    e->body_len = bl;
    return 0;
}

int cache_entry_identity(const struct cache_entry *e, struct buf *out)
{
    if (!e->gzip) {
        buf_append(out, e->body, e->body_len);
        return 0;
    }
    return cache_gunzip(e->body, e->body_len, IDENTITY_MAX, out);
}

bool cache_etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL || etag == NULL || etag[0] == '\0')
        return false;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p == '\0')
            break;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"') {
            p += strcspn(p, ",");
            continue;
        }
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            break;
        size_t n = (size_t)(end - p) + 1;
        if (n == elen && memcmp(p, etag, n) == 0)
            return true;
        p = end + 1;
    }
    return false;
}
