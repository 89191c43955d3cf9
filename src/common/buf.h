/* buf: a growable byte buffer, always NUL-terminated for convenience.
 *
 * The buffer owns its memory; buf_free() releases it and leaves an empty,
 * reusable buffer.  Binary data (gzip bodies) is fine: len is authoritative. */
#ifndef PITCHEY_COMMON_BUF_H
#define PITCHEY_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Hands the memory to the caller (NUL-terminated) and empties the buffer. */
char *buf_steal(struct buf *b, size_t *len);

#endif
