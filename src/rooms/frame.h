/* frame: one server-to-client WebSocket text message, shared.
 *
 * A message fanned out to fifty members is built once: every member's send
 * queue and the room's ring hold a reference.  The buffer keeps LWS_PRE
 * bytes in front of the payload, as lws_write() needs. */
#ifndef PITCHEY_ROOMS_FRAME_H
#define PITCHEY_ROOMS_FRAME_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
    int refs;
    int64_t seq; /* room seq for messages, 0 otherwise */
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len + 1 */
};

/* A new frame with one reference holding a copy of text. */
struct frame *frame_new(const char *text, size_t len, int64_t seq);
struct frame *frame_ref(struct frame *f);
void frame_unref(struct frame *f);
static inline unsigned char *frame_payload(struct frame *f)
{
    return f->buf + LWS_PRE;
}

#endif
