/* key: memcached keys of the edge cache (see key.h). */
#include "pitchey-build.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cache/key.h"

bool cache_key_safe(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

/* The prefix cut to CACHE_PREFIX_MAX and to its safe leading part. */
static int prefix_len(const char *prefix)
{
    size_t n = 0;
    while (prefix[n] && n < CACHE_PREFIX_MAX && cache_key_safe(prefix + n, 1))
        n++;
    return (int)n;
}

void cache_key_build(char *out, const char *prefix, uint64_t epoch, enum cache_key_kind kind,
                     const char *name)
{
    int pl = prefix_len(prefix);
    int head;
    if (kind == CACHE_KEY_TAG || kind == CACHE_KEY_SESSION)
        head = snprintf(out, CACHE_KEY_MAX + 1, "%.*s:v%d:%c:", pl, prefix, CACHE_FORMAT_VERSION,
                        (char)kind);
    else
        head = snprintf(out, CACHE_KEY_MAX + 1, "%.*s:v%d:e%llu:%c:", pl, prefix,
                        CACHE_FORMAT_VERSION, (unsigned long long)epoch, (char)kind);
    size_t nlen = strlen(name);
    if ((size_t)head + nlen <= CACHE_KEY_MAX && cache_key_safe(name, nlen) && name[0] != '#') {
        memcpy(out + head, name, nlen + 1);
        return;
    }
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)name, nlen, NULL, 0);
    out[head] = '#';
    sodium_bin2hex(out + head + 1, CACHE_KEY_MAX + 1 - (size_t)head - 1, h, sizeof h);
}

void cache_key_epoch(char *out, const char *prefix)
{
    snprintf(out, CACHE_KEY_MAX + 1, "%.*s:v%d:epoch", prefix_len(prefix), prefix,
             CACHE_FORMAT_VERSION);
}
