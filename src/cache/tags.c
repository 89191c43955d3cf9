/* tags: tag generations in memcached (see tags.h). */
#include "pitchey-build.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tags.h"

bool cache_tag_parse(const struct cache_value *v, uint64_t *gen)
{
    if (v->data == NULL || v->len == 0 || v->len > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        char ch = v->data[i];
        if (ch == ' ' || ch == '\r' || ch == '\n') /* incr may pad */
            break;
        if (ch < '0' || ch > '9')
            return false;
        unsigned d = (unsigned)(ch - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *gen = x;
    return true;
}

uint64_t cache_tag_random(void)
{
    uint64_t g = 0;
    while (g == 0) {
        randombytes_buf(&g, sizeof g);
        g &= INT64_MAX;
    }
    return g;
}

static int random_text(char text[24], uint64_t *gen)
{
    uint64_t g = cache_tag_random();
    if (gen)
        *gen = g;
    return snprintf(text, 24, "%" PRIu64, g);
}

enum cache_result cache_tag_create(struct cache *c, const char *group, const char *key, int ttl_s,
                                   uint64_t *gen)
{
    char text[24];
    uint64_t g;
    int n = random_text(text, &g);
    enum cache_result r = cache_add_by(c, group, key, text, (size_t)n, ttl_s);
    if (r == CACHE_OK)
        *gen = g;
    if (r != CACHE_NOT_FOUND)
        return r;
    /* Someone else created it between our read and our add. */
    struct cache_value v;
    r = cache_get_by(c, group, key, &v);
    if (r == CACHE_OK && !cache_tag_parse(&v, gen))
        r = CACHE_ERROR;
    cache_value_free(&v);
    return r == CACHE_NOT_FOUND ? CACHE_ERROR : r;
}

static enum cache_result bump_one(struct cache *c, size_t server, const char *key, int ttl_s)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        uint64_t v;
        enum cache_result r = cache_incr_on(c, server, key, &v);
        if (r != CACHE_NOT_FOUND)
            return r;
        /* Missing: a new random value invalidates as well; if another
         * worker adds it first, increment that one. */
        char text[24];
        int n = random_text(text, NULL);
        r = cache_add_on(c, server, key, text, (size_t)n, ttl_s);
        if (r != CACHE_NOT_FOUND)
            return r;
    }
    return CACHE_ERROR;
}

enum cache_result cache_tag_bump(struct cache *c, const char *key, int ttl_s)
{
    size_t n = cache_server_count(c);
    if (n == 0)
        return CACHE_ERROR;
    enum cache_result result = CACHE_OK;
    for (size_t i = 0; i < n; i++)
        if (bump_one(c, i, key, ttl_s) != CACHE_OK)
            result = CACHE_ERROR; /* go on: the others must still learn it */
    return result;
}

bool cache_tags_match(const uint64_t *stored, size_t nstored, const uint64_t *current,
                      size_t ncurrent)
{
    if (nstored != ncurrent)
        return false;
    for (size_t i = 0; i < nstored; i++)
        if (stored[i] != current[i])
            return false;
    return true;
}
