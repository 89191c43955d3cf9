/* proto: the /ws wire format of API.md, without any I/O.
 *
 * Client frames are parsed strictly (json_parse_strict) into a struct
 * proto_request; room names are checked against the four kinds; server
 * frames are built as JSON text.  Everything here is pure, so the unit test
 * covers it without a server. */
#ifndef PITCHEY_ROOMS_PROTO_H
#define PITCHEY_ROOMS_PROTO_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define PROTO_ROOM_MAX 64

enum proto_room_kind { ROOM_INVALID = 0, ROOM_LOBBY, ROOM_PITCHES, ROOM_PITCH, ROOM_USER };

struct proto_room {
    enum proto_room_kind kind;
    int64_t id; /* pitch or user id */
};

/* Parses a room name; canonical only ("pitch:42", never "pitch:042").
 * Returns the kind, ROOM_INVALID for anything else. */
enum proto_room_kind proto_parse_room(const char *name, struct proto_room *out);

enum proto_type { PROTO_JOIN = 1, PROTO_LEAVE, PROTO_SEND, PROTO_PING };

struct proto_request {
    enum proto_type type;
    char room[PROTO_ROOM_MAX + 1]; /* raw name (checked by the caller) */
    bool has_since;
    int64_t since;
    struct json_object *data; /* send: borrowed from root */
    struct json_object *root; /* owned: json_object_put() through proto_request_free() */
};

/* Returns NULL on success, or the error code of API.md ("invalid_json",
 * "invalid_message", "invalid_room") with a human message in *why.  On
 * success the caller frees req with proto_request_free(). */
const char *proto_parse_request(const char *text, size_t len, struct proto_request *req,
                                const char **why);
void proto_request_free(struct proto_request *req);

struct proto_user {
    int64_t id;
    const char *name;
    const char *role;
};

/* Appends a JSON string literal. */
void proto_append_string(struct buf *b, const char *s);
void proto_append_user(struct buf *b, const struct proto_user *u);

void proto_build_error(struct buf *b, const char *code, const char *message);
void proto_build_pong(struct buf *b);
/* data_json: JSON text (as stored). */
void proto_build_message(struct buf *b, const char *room, int64_t seq,
                         const struct proto_user *from, const char *data_json, const char *ts);
void proto_build_presence(struct buf *b, const char *room, bool join,
                          const struct proto_user *u);
void proto_build_event(struct buf *b, const char *room, const char *event, const char *data_json);
/* joined without the members' closing: call proto_build_joined_begin, then
 * proto_append_user per member with commas, then proto_build_joined_end. */
void proto_build_joined_begin(struct buf *b, const char *room, int64_t seq);
void proto_build_joined_end(struct buf *b, bool recovered);

#endif
