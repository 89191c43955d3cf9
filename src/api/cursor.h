/* cursor: the opaque, signed keyset position of GET /api/pitches.
 *
 * A cursor carries the sort, the last row's sort key at full database
 * precision (created_at in microseconds, or views) and id, and a digest of
 * the filters (genre, owner, q).  It is signed with the server secret, so a
 * client cannot forge positions, and a cursor from another query (other
 * sort or filters) is rejected; limit is not bound. */
#ifndef PITCHEY_API_CURSOR_H
#define PITCHEY_API_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "common/secret.h"

#define CURSOR_TEXT_MAX 96

enum cursor_sort { CURSOR_SORT_NEW = 1, CURSOR_SORT_POPULAR = 2 };

struct cursor_query {
    enum cursor_sort sort;
    const char *genre; /* NULL: all */
    int64_t owner;     /* 0: all */
    const char *q;     /* NULL: none */
};

struct cursor_pos {
    int64_t key;       /* created_at (us since epoch) or views */
    int64_t id;
};

void cursor_encode(const unsigned char secret[SECRET_BYTES], const struct cursor_query *q,
                   const struct cursor_pos *pos, char out[CURSOR_TEXT_MAX]);
/* 0 on success; -1 for anything malformed, forged or bound to another
 * query. */
int cursor_decode(const unsigned char secret[SECRET_BYTES], const struct cursor_query *q,
                  const char *text, struct cursor_pos *pos);

#endif
