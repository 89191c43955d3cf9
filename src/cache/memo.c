/* memo: identity bodies by ETag (see memo.h). */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/entry.h"
#include "cache/memo.h"
#include "common/xalloc.h"

struct memo_slot {
    char etag[CACHE_ETAG_MAX];
    char *body;
    size_t len;
    uint64_t used; /* tick of the last get or put */
};

struct memo {
    struct memo_slot *slots;
    size_t nslots, max_bytes, bytes;
    uint64_t tick;
};

struct memo *memo_new(size_t max_entries, size_t max_bytes)
{
    struct memo *m = xcalloc(1, sizeof *m);
    m->nslots = max_entries ? max_entries : 1;
    m->slots = xcalloc(m->nslots, sizeof *m->slots);
    m->max_bytes = max_bytes;
    return m;
}

void memo_free(struct memo *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nslots; i++)
        free(m->slots[i].body);
    free(m->slots);
    free(m);
}

/* A linear scan: the table holds a few dozen bodies at most. */
static struct memo_slot *find(struct memo *m, const char *etag)
{
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].body && strcmp(m->slots[i].etag, etag) == 0)
            return &m->slots[i];
    return NULL;
}

bool memo_get(struct memo *m, const char *etag, struct buf *out)
{
    if (m == NULL || etag == NULL || etag[0] == '\0')
        return false;
    struct memo_slot *s = find(m, etag);
    if (s == NULL)
        return false;
    s->used = ++m->tick;
    buf_append(out, s->body, s->len);
    return true;
}

static void drop(struct memo *m, struct memo_slot *s)
{
    m->bytes -= s->len;
    free(s->body);
    s->body = NULL;
    s->len = 0;
    s->etag[0] = '\0';
}

void memo_put(struct memo *m, const char *etag, const void *body, size_t len)
{
    if (m == NULL || etag == NULL || etag[0] == '\0' || strlen(etag) >= CACHE_ETAG_MAX ||
        len > m->max_bytes / 4 || find(m, etag) != NULL)
        return;
    /* Room in bytes first, then a slot: empty, else least recently used. */
    while (m->bytes + len > m->max_bytes) {
        struct memo_slot *lru = NULL;
        for (size_t i = 0; i < m->nslots; i++)
            if (m->slots[i].body && (lru == NULL || m->slots[i].used < lru->used))
                lru = &m->slots[i];
        if (lru == NULL)
            return;
        drop(m, lru);
    }
    struct memo_slot *victim = NULL;
    for (size_t i = 0; i < m->nslots; i++) {
        struct memo_slot *s = &m->slots[i];
        if (s->body == NULL) {
            victim = s;
            break;
        }
        if (victim == NULL || s->used < victim->used)
            victim = s;
    }
    if (victim == NULL)
        return;
    if (victim->body)
        drop(m, victim);
    victim->body = xmalloc(len ? len : 1);
    memcpy(victim->body, body, len);
    victim->len = len;
    memcpy(victim->etag, etag, strlen(etag) + 1);
    victim->used = ++m->tick;
    m->bytes += len;
}

size_t memo_bytes(const struct memo *m)
{
    return m ? m->bytes : 0;
}
