/* proto: parsing of client frames and building of server frames (API.md,
 * "Rooms: GET /ws").  Pure functions; see proto.h. */
#include "pitchey-build.h"

#include "rooms/proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"

/* A positive id without sign or leading zeros, at most 2^63-1. */
static bool parse_id(const char *s, int64_t *out)
{
    if (*s < '1' || *s > '9')
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    if (strlen(s) > 19)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

enum proto_room_kind proto_parse_room(const char *name, struct proto_room *out)
{
    struct proto_room r = { ROOM_INVALID, 0 };
    if (strcmp(name, "lobby") == 0)
        r.kind = ROOM_LOBBY;
    else if (strcmp(name, "pitches") == 0)
        r.kind = ROOM_PITCHES;
    else if (strncmp(name, "pitch:", 6) == 0 && parse_id(name + 6, &r.id))
        r.kind = ROOM_PITCH;
    else if (strncmp(name, "user:", 5) == 0 && parse_id(name + 5, &r.id))
        r.kind = ROOM_USER;
    if (out)
        *out = r;
    return r.kind;
}

void proto_request_free(struct proto_request *req)
{
    if (req->root)
        json_object_put(req->root);
    req->root = NULL;
    req->data = NULL;
}

const char *proto_parse_request(const char *text, size_t len, struct proto_request *req,
                                const char **why)
{
    memset(req, 0, sizeof *req);
    const char *jwhy = NULL;
    struct json_object *root = json_parse_strict(text, len, &jwhy);
    if (!root) {
        *why = "the message is not valid JSON";
        return "invalid_json";
    }
    req->root = root;
    if (!json_object_is_type(root, json_type_object)) {
        *why = "a message is a JSON object";
        goto invalid;
    }
    struct json_object *type = NULL;
    if (!json_object_object_get_ex(root, "type", &type) ||
        !json_object_is_type(type, json_type_string)) {
        *why = "\"type\" must be a string";
        goto invalid;
    }
    const char *t = json_object_get_string(type);
    if (strcmp(t, "join") == 0)
        req->type = PROTO_JOIN;
    else if (strcmp(t, "leave") == 0)
        req->type = PROTO_LEAVE;
    else if (strcmp(t, "send") == 0)
        req->type = PROTO_SEND;
    else if (strcmp(t, "ping") == 0)
        req->type = PROTO_PING;
    else {
        *why = "unknown message type";
        goto invalid;
    }
    if (req->type == PROTO_PING)
        return NULL;

    struct json_object *room = NULL;
    if (!json_object_object_get_ex(root, "room", &room) ||
        !json_object_is_type(room, json_type_string)) {
        *why = "\"room\" must be a string";
        goto invalid;
    }
    const char *name = json_object_get_string(room);
    if (strlen(name) > PROTO_ROOM_MAX || proto_parse_room(name, NULL) == ROOM_INVALID) {
        *why = "no such room; rooms are lobby, pitches, pitch:{id} and user:{id}";
        proto_request_free(req);
        return "invalid_room";
    }
    strcpy(req->room, name);

    if (req->type == PROTO_JOIN) {
        struct json_object *since = NULL;
        if (json_object_object_get_ex(root, "since", &since) && since) {
            if (!json_object_is_type(since, json_type_int) ||
                json_object_get_int64(since) < 0) {
                *why = "\"since\" must be a non-negative integer";
                goto invalid;
            }
            /* json-c saturates above INT64_MAX; such a since is simply ahead. */
            req->has_since = true;
            req->since = json_object_get_int64(since);
        }
    } else if (req->type == PROTO_SEND) {
        if (!json_object_object_get_ex(root, "data", &req->data)) {
            *why = "\"data\" is required";
            goto invalid;
        }
    }
    return NULL;

invalid:
    proto_request_free(req);
    return "invalid_message";
}

void proto_append_string(struct buf *b, const char *s)
{
    struct json_object *o = json_object_new_string(s);
    size_t n;
    const char *text = json_text(o, &n);
    buf_append(b, text, n);
    json_object_put(o);
}

void proto_append_user(struct buf *b, const struct proto_user *u)
{
    buf_printf(b, "{\"id\":%" PRId64 ",\"name\":", u->id);
    proto_append_string(b, u->name);
    buf_append_str(b, ",\"role\":");
    proto_append_string(b, u->role);
    buf_append_char(b, '}');
}

void proto_build_error(struct buf *b, const char *code, const char *message)
{
    buf_append_str(b, "{\"type\":\"error\",\"code\":");
    proto_append_string(b, code);
    buf_append_str(b, ",\"message\":");
    proto_append_string(b, message);
    buf_append_char(b, '}');
}

void proto_build_pong(struct buf *b)
{
    buf_append_str(b, "{\"type\":\"pong\"}");
}

void proto_build_message(struct buf *b, const char *room, int64_t seq,
                         const struct proto_user *from, const char *data_json, const char *ts)
{
    buf_append_str(b, "{\"type\":\"message\",\"room\":");
    proto_append_string(b, room);
    buf_printf(b, ",\"seq\":%" PRId64 ",\"from\":", seq);
    proto_append_user(b, from);
    buf_append_str(b, ",\"data\":");
    buf_append_str(b, data_json);
    buf_append_str(b, ",\"ts\":");
    proto_append_string(b, ts);
    buf_append_char(b, '}');
}

void proto_build_presence(struct buf *b, const char *room, bool join,
                          const struct proto_user *u)
{
    buf_append_str(b, "{\"type\":\"presence\",\"room\":");
    proto_append_string(b, room);
    buf_printf(b, ",\"action\":\"%s\",\"user\":", join ? "join" : "leave");
    proto_append_user(b, u);
    buf_append_char(b, '}');
}

void proto_build_event(struct buf *b, const char *room, const char *event, const char *data_json)
{
    buf_append_str(b, "{\"type\":\"event\",\"room\":");
    proto_append_string(b, room);
    buf_append_str(b, ",\"event\":");
    proto_append_string(b, event);
    buf_append_str(b, ",\"data\":");
    buf_append_str(b, data_json);
    buf_append_char(b, '}');
}

void proto_build_joined_begin(struct buf *b, const char *room, int64_t seq)
{
    buf_append_str(b, "{\"type\":\"joined\",\"room\":");
    proto_append_string(b, room);
    buf_printf(b, ",\"seq\":%" PRId64 ",\"members\":[", seq);
}

void proto_build_joined_end(struct buf *b, bool recovered)
{
    buf_printf(b, "],\"recovered\":%s}", recovered ? "true" : "false");
}
