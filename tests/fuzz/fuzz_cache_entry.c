/* libFuzzer target: the cache entry decoder (src/cache/entry.c): a value
 * read from memcached is never trusted. */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/entry.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cache_entry e;
    if (cache_entry_decode(data, size, &e) == 0) {
        if (e.body_len > size || e.ntags > CACHE_ENTRY_MAX_TAGS)
            abort();
        struct buf out = BUF_INIT;
        if (cache_entry_identity(&e, &out) == 0 && out.len > 0 && out.data == NULL)
            abort();
        buf_free(&out);
        (void)cache_etag_matches("\"x\", W/\"y\", *", e.etag);
        /* What decodes encodes to a value that decodes the same. */
        struct buf again = BUF_INIT;
        cache_entry_encode(&e, &again);
        struct cache_entry e2;
        if (cache_entry_decode(again.data, again.len, &e2) != 0 || e2.status != e.status ||
            e2.body_len != e.body_len || e2.ntags != e.ntags || e2.gzip != e.gzip ||
            strcmp(e2.etag, e.etag) != 0 || memcmp(e2.body, e.body, e.body_len) != 0)
            abort();
        buf_free(&again);
    }
    /* If-None-Match parsing takes header text. */
    char *inm = malloc(size + 1);
    memcpy(inm, data, size);
    inm[size] = '\0';
    (void)cache_etag_matches(inm, "\"0123456789abcdef0123456789abcdef\"");
    free(inm);
    return 0;
}
