/* jsonutil: strict JSON parsing on top of json-c.
 *
 * json-c is lenient where API.md is not: it accepts \u0000, turns unpaired
 * surrogates into replacement characters and stops quietly before trailing
 * data, and keeps the last of duplicate keys.  json_parse_strict() checks
 * those, so a body is either exactly one valid JSON value, with unique keys
 * in every object, or invalid_json. */
#ifndef PITCHEY_COMMON_JSONUTIL_H
#define PITCHEY_COMMON_JSONUTIL_H

#include <json.h>
#include <stddef.h>

/* Returns a new reference, or NULL when the text is not one strict JSON
 * value in valid UTF-8 (then *why says why, for logs). */
struct json_object *json_parse_strict(const char *text, size_t len, const char **why);
/* Serialises without escaping '/', as compact as json-c allows. */
const char *json_text(struct json_object *obj, size_t *len);

#endif
