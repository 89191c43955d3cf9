/* Unit: the /ws wire format (src/rooms/proto.c). */
#include "pitchey-build.h"

#include <string.h>

#include "rooms/proto.h"
#include "unit.h"

START_TEST(room_names)
{
    struct proto_room r;
    ck_assert_int_eq(proto_parse_room("lobby", &r), ROOM_LOBBY);
    ck_assert_int_eq(proto_parse_room("pitches", &r), ROOM_PITCHES);
    ck_assert_int_eq(proto_parse_room("pitch:42", &r), ROOM_PITCH);
    ck_assert_int_eq(r.id, 42);
    ck_assert_int_eq(proto_parse_room("user:9223372036854775807", &r), ROOM_USER);
    ck_assert_int_eq(r.id, INT64_MAX);
    const char *bad[] = { "", "Lobby", "lobby ", "pitch:", "pitch:0", "pitch:042", "pitch:-1",
                          "pitch:1.5", "pitch:9223372036854775808", "user:x", "user:1a",
                          "pitches:1", "room" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(proto_parse_room(bad[i], NULL) == ROOM_INVALID, "%s", bad[i]);
}
END_TEST

static const char *parse(const char *text, struct proto_request *req)
{
    const char *why = NULL;
    const char *code = proto_parse_request(text, strlen(text), req, &why);
    if (code)
        ck_assert_ptr_nonnull(why);
    return code;
}

START_TEST(requests)
{
    struct proto_request q;
    ck_assert_ptr_null(parse("{\"type\":\"ping\"}", &q));
    ck_assert_int_eq(q.type, PROTO_PING);
    proto_request_free(&q);
    ck_assert_ptr_null(parse("{\"type\":\"join\",\"room\":\"lobby\",\"since\":7,\"x\":1}", &q));
    ck_assert_int_eq(q.type, PROTO_JOIN);
    ck_assert_str_eq(q.room, "lobby");
    ck_assert(q.has_since);
    ck_assert_int_eq(q.since, 7);
    proto_request_free(&q);
    ck_assert_ptr_null(parse("{\"type\":\"join\",\"room\":\"pitches\"}", &q));
    ck_assert(!q.has_since);
    proto_request_free(&q);
    ck_assert_ptr_null(parse("{\"type\":\"send\",\"room\":\"lobby\",\"data\":null}", &q));
    ck_assert_int_eq(q.type, PROTO_SEND);
    ck_assert_ptr_null(q.data); /* JSON null is a value */
    proto_request_free(&q);
    ck_assert_ptr_null(parse("{\"type\":\"leave\",\"room\":\"user:3\"}", &q));
    ck_assert_int_eq(q.type, PROTO_LEAVE);
    proto_request_free(&q);
}
END_TEST

START_TEST(request_errors)
{
    struct proto_request q;
    ck_assert_str_eq(parse("", &q), "invalid_json");
    ck_assert_str_eq(parse("{", &q), "invalid_json");
    ck_assert_str_eq(parse("{} {}", &q), "invalid_json");
    ck_assert_str_eq(parse("\"\\u0000\"", &q), "invalid_json");
    ck_assert_str_eq(parse("\"\\ud800\"", &q), "invalid_json");
    ck_assert_str_eq(parse("{\"type\":\"\xff\"}", &q), "invalid_json");
    ck_assert_str_eq(parse("[]", &q), "invalid_message");
    ck_assert_str_eq(parse("{}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":1}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"shout\"}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\"}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\",\"room\":5}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\",\"room\":\"lobby\",\"since\":\"1\"}", &q),
                     "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\",\"room\":\"lobby\",\"since\":-2}", &q),
                     "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\",\"room\":\"lobby\",\"since\":2.0}", &q),
                     "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"send\",\"room\":\"lobby\"}", &q), "invalid_message");
    ck_assert_str_eq(parse("{\"type\":\"join\",\"room\":\"attic\"}", &q), "invalid_room");
    ck_assert_str_eq(parse("{\"type\":\"send\",\"room\":\"pitch:0\",\"data\":1}", &q),
                     "invalid_room");
}
END_TEST

START_TEST(frames)
{
    struct buf b = BUF_INIT;
    struct proto_user u = { 7, "Ada \"the\" Lovelace", "creator" };
    proto_build_message(&b, "lobby", 3, &u, "{\"a\":[1,2]}", "2026-11-25T00:31:12.123Z");
    ck_assert_str_eq(b.data, "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":3,\"from\":"
                             "{\"id\":7,\"name\":\"Ada \\\"the\\\" Lovelace\",\"role\":\"creator\"},"
                             "\"data\":{\"a\":[1,2]},\"ts\":\"2026-11-25T00:31:12.123Z\"}");
    buf_reset(&b);
    proto_build_presence(&b, "pitch:1", false, &u);
    ck_assert(strstr(b.data, "\"action\":\"leave\"") != NULL);
    buf_reset(&b);
    proto_build_joined_begin(&b, "lobby", 9);
    proto_append_user(&b, &u);
    proto_build_joined_end(&b, true);
    ck_assert_str_eq(b.data, "{\"type\":\"joined\",\"room\":\"lobby\",\"seq\":9,\"members\":"
                             "[{\"id\":7,\"name\":\"Ada \\\"the\\\" Lovelace\",\"role\":"
                             "\"creator\"}],\"recovered\":true}");
    buf_reset(&b);
    proto_build_event(&b, "pitches", "pitch.deleted", "{\"id\":4}");
    ck_assert_str_eq(b.data, "{\"type\":\"event\",\"room\":\"pitches\",\"event\":"
                             "\"pitch.deleted\",\"data\":{\"id\":4}}");
    buf_reset(&b);
    proto_build_error(&b, "not_joined", "join first");
    ck_assert_str_eq(b.data,
                     "{\"type\":\"error\",\"code\":\"not_joined\",\"message\":\"join first\"}");
    buf_free(&b);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("rooms_proto");
    TCase *t = tcase_create("proto");
    tcase_add_test(t, room_names);
    tcase_add_test(t, requests);
    tcase_add_test(t, request_errors);
    tcase_add_test(t, frames);
    suite_add_tcase(s, t);
    return s;
}

UNIT_MAIN(proto_suite)
