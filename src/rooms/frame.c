/* frame: refcounted server frames; see frame.h. */
#include "pitchey-build.h"

#include "rooms/frame.h"

#include <string.h>

#include "common/xalloc.h"

struct frame *frame_new(const char *text, size_t len, int64_t seq)
{
    struct frame *f = xmalloc(sizeof *f + LWS_PRE + len + 1);
    f->refs = 1;
    f->seq = seq;
    f->len = len;
    memcpy(f->buf + LWS_PRE, text, len);
    f->buf[LWS_PRE + len] = '\0';
    return f;
}

struct frame *frame_ref(struct frame *f)
{
    f->refs++;
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}
