/* utf8: validation and code point counting.
 *
 * API.md counts field lengths in Unicode code points, and rejects invalid
 * UTF-8 (overlongs, surrogates, values above U+10FFFF) as invalid_json. */
#ifndef PITCHEY_COMMON_UTF8_H
#define PITCHEY_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);
/* Code points in valid UTF-8; the result is meaningless for invalid input. */
size_t utf8_count(const char *s, size_t len);
/* Byte length of the first max code points (for truncating previews). */
size_t utf8_prefix_bytes(const char *s, size_t len, size_t max);

#endif
