/* libFuzzer target: the cursor decoder (src/api/cursor.c).  Whatever the
 * text, decoding never crashes, and only a cursor the service signed for
 * this very query decodes. */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "api/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char secret[SECRET_BYTES] = "fuzzing-secret-0123456789abcdef";
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct cursor_query qs[] = {
        { CURSOR_SORT_NEW, NULL, 0, NULL },
        { CURSOR_SORT_POPULAR, "drama", 7, "lighthouse" },
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        struct cursor_pos pos;
        if (cursor_decode(secret, &qs[i], text, &pos) == 0) {
            /* It decoded: it must be what encoding that position gives. */
            char again[CURSOR_TEXT_MAX];
            cursor_encode(secret, &qs[i], &pos, again);
            if (strcmp(again, text) != 0)
                abort();
        }
    }
    /* Round trip of positions taken from the input (ids are positive: a
     * cursor with another id is refused by design). */
    struct cursor_pos pos, back;
    if (size >= 16 && (memcpy(&pos.key, data, 8), memcpy(&pos.id, data + 8, 8), pos.id > 0)) {
        char enc[CURSOR_TEXT_MAX];
        cursor_encode(secret, &qs[1], &pos, enc);
        if (cursor_decode(secret, &qs[1], enc, &back) != 0 || back.key != pos.key ||
            back.id != pos.id)
            abort();
        if (cursor_decode(secret, &qs[0], enc, &back) == 0)
            abort(); /* bound to its query */
    }
    free(text);
    return 0;
}
