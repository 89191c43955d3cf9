/* log: one line per event in key=value form, written with a single write()
 * so lines from concurrent workers sharing a file never interleave.
 *
 * Messages are formatted only when their level is enabled.  Never pass a
 * secret (password, token, connection string with a password) to a log call:
 * lines are meant to be shipped and grepped. */
#ifndef PITCHEY_COMMON_LOG_H
#define PITCHEY_COMMON_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

void log_init(const char *program);
void log_set_level(enum log_level level);
/* Returns 0 and sets *level for "error", "warn", "info" or "debug". */
int log_parse_level(const char *name, enum log_level *level);
bool log_enabled(enum log_level level);
/* The request id goes on every line written while a request is handled. */
void log_set_request_id(const char *request_id);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for any value log_escape() writes into a buffer of this size. */
#define LOG_VALUE_MAX 1024
/* Writes src as one value of a key=value line into dst (dstsize > 8,
 * always NUL-terminated) and returns dst.  A value made only of printable
 * ASCII other than space, '"', '\\' and '=' is written as it is; any other
 * (empty included) goes in double quotes, with '"' and '\\' escaped by a
 * backslash and every byte that is not printable text (control bytes, DEL,
 * bytes that are not part of valid UTF-8, UTF-8 C1 controls) as \xNN.  A
 * value that does not fit ends in "..." inside the quotes.  Use it for every
 * logged value that comes from a request or a peer (path, method, headers,
 * server messages): a line then stays one grep-able line of text. */
const char *log_escape(char *dst, size_t dstsize, const char *src);
/* Escapes as log_escape() into bytes of text without quoting: what
 * log_write() applies to a whole line as a last resort, so that a value a
 * caller forgot to escape still cannot split the line or make it binary.
 * Returns the length written (dst is NUL-terminated). */
size_t log_sanitize_line(char *dst, size_t dstsize, const char *src, size_t len);

#define log_at(lvl, ...)                                                        \
    do {                                                                        \
        if (log_enabled(lvl))                                                   \
            log_write(lvl, __VA_ARGS__);                                        \
    } while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
