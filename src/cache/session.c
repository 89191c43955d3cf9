/* session: cached sessions (see session.h).  Value: "uid\nrole\nname". */
#include "pitchey-build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/key.h"
#include "cache/session.h"
#include "common/buf.h"

void cache_session_key(char *out, const char *prefix, const char *token_hash)
{
    /* Skip the bytea "\x": the key is the hex digits. */
    if (token_hash[0] == '\\' && token_hash[1] == 'x')
        token_hash += 2;
    /* Not in the epoch: revocation deletes by this one key. */
    cache_key_build(out, prefix, 0, CACHE_KEY_SESSION, token_hash);
}

int cache_session_parse(const char *text, size_t len, struct cache_session *out)
{
    memset(out, 0, sizeof *out);
    const char *end = text + len;
    const char *nl1 = memchr(text, '\n', len);
    if (nl1 == NULL)
        return -1;
    const char *nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1));
    if (nl2 == NULL)
        return -1;
    char *stop;
    long long uid = strtoll(text, &stop, 10);
    if (stop != nl1 || uid <= 0)
        return -1;
    size_t rl = (size_t)(nl2 - nl1 - 1), nlen = (size_t)(end - nl2 - 1);
    if (rl == 0 || rl >= sizeof out->role || nlen == 0 || nlen >= sizeof out->name)
        return -1;
    out->user_id = uid;
    memcpy(out->role, nl1 + 1, rl);
    memcpy(out->name, nl2 + 1, nlen);
    return 0;
}

enum cache_result cache_session_get(struct cache *c, const char *prefix, const char *token_hash,
                                    struct cache_session *out)
{
    char key[CACHE_KEY_MAX + 1];
    cache_session_key(key, prefix, token_hash);
    struct cache_value v;
    enum cache_result r = cache_get(c, key, &v);
    if (r == CACHE_OK && cache_session_parse(v.data, v.len, out) != 0)
        r = CACHE_NOT_FOUND;
    cache_value_free(&v);
    return r;
}

void cache_session_put(struct cache *c, const char *prefix, const char *token_hash,
                       const struct cache_session *s, int ttl_s)
{
    if (ttl_s <= 0)
        return;
    char key[CACHE_KEY_MAX + 1];
    cache_session_key(key, prefix, token_hash);
    struct buf b = BUF_INIT;
    buf_printf(&b, "%" PRId64 "\n%s\n%s", s->user_id, s->role, s->name);
    /* A copy on every server: the edge cache fetches it in the same
     * multi-get as an entry, from whichever server holds the entry. */
    size_t n = cache_server_count(c);
    for (size_t i = 0; i < n; i++)
        (void)cache_set_on(c, i, key, b.data, b.len, ttl_s);
    buf_free(&b);
}

enum cache_result cache_session_forget(struct cache *c, const char *prefix, const char *token_hash)
{
    char key[CACHE_KEY_MAX + 1];
    cache_session_key(key, prefix, token_hash);
    /* Every copy; one that cannot be reached ends with its TTL, the bound
     * API.md gives for revocation while a server is unreachable. */
    enum cache_result worst = CACHE_OK;
    size_t n = cache_server_count(c);
    if (n == 0)
        return CACHE_ERROR;
    for (size_t i = 0; i < n; i++)
        if (cache_delete_on(c, i, key) == CACHE_ERROR)
            worst = CACHE_ERROR;
    return worst;
}
