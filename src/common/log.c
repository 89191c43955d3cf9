/* log: key=value lines on stderr (see log.h). */
#include "pitchey-build.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/proc.h"

static const char *log_program = "pitchey";
static enum log_level log_level = LOG_LEVEL_INFO;
static char log_request_id[80];

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *program)
{
    log_program = program;
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

int log_parse_level(const char *name, enum log_level *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

bool log_enabled(enum log_level level)
{
    return level <= log_level;
}

void log_set_request_id(const char *request_id)
{
    if (request_id == NULL)
        log_request_id[0] = '\0';
    else
        snprintf(log_request_id, sizeof log_request_id, "%s", request_id);
}

/* Length of the valid UTF-8 sequence of a printable code point at s (at
 * most n bytes), or 0 when s does not start one (invalid, overlong,
 * surrogate, above U+10FFFF, or a C1 control). */
static size_t utf8_printable_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
        cp == 0x2029)
        return 0;
    return len;
}

static bool plain_byte(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* Appends the escaped form of src[0..len) to dst at *pos, keeping room
 * for `reserve` bytes and the NUL.  quote: also escape '"' and '\\'.
 * Returns false when something did not fit. */
static bool escape_into(char *dst, size_t dstsize, size_t *pos, size_t reserve,
                        const char *src, size_t len, bool quote)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = *pos;
    size_t limit = dstsize - 1 - reserve;
    bool fit = true;
    while (i < len) {
        unsigned char c = s[i];
        char tmp[4];
        size_t tn = 0, take = 1;
        const char *out = tmp;
        if (c >= 0x80) {
            size_t u = utf8_printable_len(s + i, len - i);
            if (u > 0) {
                out = (const char *)s + i;
                tn = take = u;
            }
        } else if (c >= ' ' && c < 0x7f) {
            if (quote && (c == '"' || c == '\\')) {
                tmp[tn++] = '\\';
            }
            tmp[tn++] = (char)c;
        }
        if (tn == 0) {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[c >> 4];
            tmp[3] = hex[c & 15];
            tn = 4;
        }
        if (o + tn > limit) {
            fit = false;
            break;
        }
        memcpy(dst + o, out, tn);
        o += tn;
        i += take;
    }
    *pos = o;
    dst[o] = '\0';
    return fit;
}

const char *log_escape(char *dst, size_t dstsize, const char *src)
{
    if (src == NULL)
        src = "";
    size_t len = strlen(src);
    bool plain = len > 0;
    for (size_t i = 0; plain && i < len; i++)
        plain = plain_byte((unsigned char)src[i]);
    if (plain && len < dstsize) {
        memcpy(dst, src, len + 1);
        return dst;
    }
    size_t pos = 0;
    dst[pos++] = '"';
    if (!escape_into(dst, dstsize, &pos, 4, src, len, true)) {
        memcpy(dst + pos, "...", 3);
        pos += 3;
    }
    dst[pos++] = '"';
    dst[pos] = '\0';
    return dst;
}

size_t log_sanitize_line(char *dst, size_t dstsize, const char *src, size_t len)
{
    size_t pos = 0;
    (void)escape_into(dst, dstsize, &pos, 0, src, len, false);
    return pos;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[4096];
    char ts[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_wall_us(), ts);
    int n = snprintf(line, sizeof line, "ts=%s level=%s prog=%s pid=%d ", ts,
                     level_names[level], log_program, (int)proc_pid());
    if (log_request_id[0] && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "request_id=%s ", log_request_id);
    if (n > 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    /* The last resort: whatever a caller passed unescaped, the line stays
     * one line of text (see log_sanitize_line()). */
    char out[sizeof line + 1];
    size_t len = log_sanitize_line(out, sizeof out - 1, line, (size_t)n);
    out[len++] = '\n';
    /* One write() per line: O_APPEND files and pipes keep lines whole. */
    ssize_t w = write(STDERR_FILENO, out, len);
    (void)w;
}
