/* cursor: keyset cursors (see cursor.h).
 *
 * Layout before base64url: version (1) | sort (1) | key (8, big-endian) |
 * id (8) | query digest (8) | MAC (16).  The MAC is keyed BLAKE2b over the
 * rest with a key derived from the server secret for this purpose only. */
#include "pitchey-build.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/cursor.h"

#define CURSOR_VERSION 1
#define BODY_LEN 26
#define MAC_LEN 16
#define RAW_LEN (BODY_LEN + MAC_LEN)

static void put64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

static void mac_key(const unsigned char secret[SECRET_BYTES], unsigned char out[32])
{
    static const char label[] = "pitchey cursor mac v1";
    crypto_generichash(out, 32, (const unsigned char *)label, sizeof label - 1, secret,
                       SECRET_BYTES);
}

/* Digest of the filters; NUL separators keep ("a","bc") apart from ("ab","c"). */
static void query_digest(const struct cursor_query *q, unsigned char out[8])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)q->owner);
    const char *parts[3] = { q->genre ? q->genre : "", owner, q->q ? q->q : "" };
    unsigned char flags = (unsigned char)((q->genre ? 1 : 0) | (q->q ? 2 : 0));
    crypto_generichash_update(&st, &flags, 1);
    for (int i = 0; i < 3; i++)
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&st, out, 8);
}

void cursor_encode(const unsigned char secret[SECRET_BYTES], const struct cursor_query *q,
                   const struct cursor_pos *pos, char out[CURSOR_TEXT_MAX])
{
    unsigned char raw[RAW_LEN], key[32];
    raw[0] = CURSOR_VERSION;
    raw[1] = (unsigned char)q->sort;
    put64(raw + 2, pos->key);
    put64(raw + 10, pos->id);
    query_digest(q, raw + 18);
    mac_key(secret, key);
    crypto_generichash(raw + BODY_LEN, MAC_LEN, raw, BODY_LEN, key, sizeof key);
    sodium_bin2base64(out, CURSOR_TEXT_MAX, raw, RAW_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(key, sizeof key);
}

int cursor_decode(const unsigned char secret[SECRET_BYTES], const struct cursor_query *q,
                  const char *text, struct cursor_pos *pos)
{
    unsigned char raw[RAW_LEN + 1], key[32], mac[MAC_LEN], digest[8];
    size_t len = 0;
    if (strlen(text) >= CURSOR_TEXT_MAX)
        return -1;
    if (sodium_base642bin(raw, sizeof raw, text, strlen(text), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != RAW_LEN)
        return -1;
    mac_key(secret, key);
    crypto_generichash(mac, MAC_LEN, raw, BODY_LEN, key, sizeof key);
    sodium_memzero(key, sizeof key);
    if (sodium_memcmp(mac, raw + BODY_LEN, MAC_LEN) != 0)
        return -1;
    if (raw[0] != CURSOR_VERSION || raw[1] != (unsigned char)q->sort)
        return -1;
    query_digest(q, digest);
    if (memcmp(digest, raw + 18, 8) != 0)
        return -1;
    pos->key = get64(raw + 2);
    pos->id = get64(raw + 10);
    if (pos->id <= 0)
        return -1;
    return 0;
}
