/* jsonutil: strict JSON parsing (see jsonutil.h). */
#include "pitchey-build.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static long read_u16(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* The only characters JSON allows outside string literals. */
#define OUTSIDE_STRINGS "{}[],: \t\r\n0123456789+-.eEtruefalsn"

/* Walks string literals and checks their \u escapes: no NUL, and every
 * surrogate properly paired.  Other syntax is left to json-c.  Counts the
 * object keys written in the text (a string followed by ':') into *keys. */
static bool escapes_ok(const char *s, size_t len, size_t *keys)
{
    const char *p = s, *end = s + len;
    bool in_string = false;
    *keys = 0;
    while (p < end) {
        char c = *p;
        if (!in_string) {
            if (c == '"')
                in_string = true;
            else if (!strchr(OUTSIDE_STRINGS, c))
                return false; /* single quotes, NaN, comments: json-c is lenient */
            p++;
            continue;
        }
        if (c == '"') {
            in_string = false;
            p++;
            const char *q = p;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                q++;
            if (q < end && *q == ':')
                (*keys)++;
            continue;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        if (p + 1 >= end)
            return false;
        if (p[1] != 'u') {
            p += 2;
            continue;
        }
        long u = read_u16(p + 2, end);
        if (u < 0)
            return false;
        p += 6;
        if (u == 0)
            return false;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return false; /* low surrogate without a high one */
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return false;
            long lo = read_u16(p + 2, end);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return false;
            p += 6;
        }
    }
    return true;
}

/* Keys json-c kept, in obj and everything below it.  json-c keeps the last
 * of duplicate keys, so fewer kept than written means a duplicate.  Depth
 * is bounded by the tokener's own limit (JSON_TOKENER_DEFAULT_DEPTH). */
static size_t kept_keys(struct json_object *obj)
{
    size_t n = 0;
    if (json_object_is_type(obj, json_type_object)) {
        json_object_object_foreach(obj, k, v)
        {
            (void)k;
            n += 1 + kept_keys(v);
        }
    } else if (json_object_is_type(obj, json_type_array)) {
        size_t len = json_object_array_length(obj);
        for (size_t i = 0; i < len; i++)
            n += kept_keys(json_object_array_get_idx(obj, i));
    }
    return n;
}

struct json_object *json_parse_strict(const char *text, size_t len, const char **why)
{
    *why = NULL;
    if (!utf8_valid(text, len)) {
        *why = "invalid UTF-8";
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        *why = "NUL byte";
        return NULL;
    }
    size_t keys;
    if (!escapes_ok(text, len, &keys)) {
        *why = "bad \\u escape or character";
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (obj == NULL || jerr != json_tokener_success) {
        json_object_put(obj);
        *why = jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr);
        return NULL;
    }
    while (used < len && isspace((unsigned char)text[used]))
        used++;
    if (used != len) {
        json_object_put(obj);
        *why = "trailing data";
        return NULL;
    }
    if (kept_keys(obj) != keys) {
        /* Two parsers could read such a body two ways: refuse it. */
        json_object_put(obj);
        *why = "duplicate key";
        return NULL;
    }
    return obj;
}

const char *json_text(struct json_object *obj, size_t *len)
{
    return json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
