/* libFuzzer target: the query-string parser (src/api/query.c) and the
 * lookups every handler makes on its result. */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size + 1);
    memcpy(raw, data, size);
    raw[size] = '\0'; /* QUERY_STRING is a C string */
    struct query q;
    query_parse(&q, raw);
    static const char *const names[] = { "limit", "cursor", "sort", "genre", "owner", "q", "format" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v;
        if (query_get(&q, names[i], &v) == QUERY_FOUND && strlen(v) == (size_t)-1)
            abort();
    }
    query_free(&q);
    char *d = query_decode((const char *)data, size);
    free(d);
    free(raw);
    return 0;
}
