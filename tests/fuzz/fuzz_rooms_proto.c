/* libFuzzer target: the rooms message parser (src/rooms/proto.c) on any
 * text frame, and the room names it takes. */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "rooms/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_request req;
    const char *why = NULL;
    const char *code = proto_parse_request((const char *)data, size, &req, &why);
    if (code == NULL) {
        struct proto_room room;
        (void)proto_parse_room(req.room, &room);
        struct buf b = BUF_INIT;
        proto_build_joined_begin(&b, req.room, req.since);
        proto_build_joined_end(&b, true);
        buf_free(&b);
        proto_request_free(&req);
    } else if (why == NULL) {
        abort(); /* an error always says why */
    }
    char *name = malloc(size + 1);
    memcpy(name, data, size);
    name[size] = '\0';
    struct proto_room room;
    (void)proto_parse_room(name, &room);
    struct buf b = BUF_INIT;
    proto_append_string(&b, name);
    buf_free(&b);
    free(name);
    return 0;
}
