/* query: the query string, split and percent-decoded.
 *
 * API.md: unknown parameters are ignored; a known one that is empty or
 * repeated is invalid_parameter.  query_get() reports exactly that, so the
 * handlers only decide what a valid value is. */
#ifndef PITCHEY_API_QUERY_H
#define PITCHEY_API_QUERY_H

#include <stddef.h>

struct query_param {
    char *name;
    char *value;
    int bad; /* malformed percent-encoding or invalid UTF-8 */
};

struct query {
    struct query_param *params;
    size_t count;
};

enum query_lookup {
    QUERY_ABSENT,
    QUERY_FOUND,
    QUERY_INVALID, /* empty, repeated, or badly encoded */
};

void query_parse(struct query *q, const char *raw);
void query_free(struct query *q);
enum query_lookup query_get(const struct query *q, const char *name, const char **value);
/* Decodes %XX and '+' in place semantics into a new string; NULL if bad. */
char *query_decode(const char *s, size_t len);

#endif
