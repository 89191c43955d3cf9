/* Unit: the backplane's NOTIFY dispatch through its handler table
 * (src/rooms/backplane.c), with a fake table and no Postgres. */
#include "pitchey-build.h"

#include <string.h>

#include "rooms/backplane.h"
#include "rooms/daemon.h"
#include "unit.h"

struct rooms_daemon daemon_state; /* main.c's, for the module */

static struct {
    int message, presence, event, resync, republish, stop, revoked, poll;
    char room[80];
    int64_t node, user_id;
    bool join;
    char name[64], role[32], hex[80];
} seen;

static void f_message(const char *room)
{
    seen.message++;
    snprintf(seen.room, sizeof seen.room, "%s", room);
}

static void f_presence(int64_t node, const char *room, bool join, const struct proto_user *u)
{
    seen.presence++;
    seen.node = node;
    snprintf(seen.room, sizeof seen.room, "%s", room);
    seen.join = join;
    seen.user_id = u->id;
    snprintf(seen.name, sizeof seen.name, "%s", u->name);
    snprintf(seen.role, sizeof seen.role, "%s", u->role);
}

static void f_event(const char *kind, int64_t pitch_id, int64_t owner_id, bool published,
                    const char *data_json)
{
    (void)kind, (void)pitch_id, (void)owner_id, (void)published, (void)data_json;
    seen.event++;
}

static void f_resync(void) { seen.resync++; }
static void f_republish(void) { seen.republish++; }
static void f_stop(void) { seen.stop++; }
static void f_poll(void) { seen.poll++; }

static void f_revoked(const char *hex)
{
    seen.revoked++;
    snprintf(seen.hex, sizeof seen.hex, "%s", hex);
}

static const struct backplane_handlers fake = { f_message, f_presence, f_event, f_resync,
                                                f_republish, f_stop, f_revoked, f_poll };

static void setup(void)
{
    memset(&seen, 0, sizeof seen);
    backplane_set_handlers(&fake);
}

START_TEST(messages_and_revocations)
{
    setup();
    backplane_dispatch_notify("pitchey_rooms", "pitch:42");
    ck_assert_int_eq(seen.message, 1);
    ck_assert_str_eq(seen.room, "pitch:42");
    backplane_dispatch_notify("pitchey_revoke", "\\xabcd");
    ck_assert_int_eq(seen.revoked, 1);
    ck_assert_str_eq(seen.hex, "\\xabcd");
    backplane_dispatch_notify("somebody_else", "x");
    ck_assert_int_eq(seen.message + seen.revoked + seen.presence, 2);
    /* Events need the outbox (Postgres): a NOTIFY alone delivers nothing. */
    backplane_dispatch_notify("pitchey_events", "7");
    ck_assert_int_eq(seen.event, 0);
}
END_TEST

START_TEST(presence_payloads)
{
    setup();
    backplane_dispatch_notify("pitchey_presence",
                              "{\"node\": 9007199254740991, \"room\": \"lobby\", \"action\": "
                              "\"join\", \"user\": {\"id\": 7, \"name\": \"Ada \\u00e9\", "
                              "\"role\": \"investor\"}}");
    ck_assert_int_eq(seen.presence, 1);
    ck_assert_int_eq(seen.node, INT64_C(9007199254740991));
    ck_assert_str_eq(seen.room, "lobby");
    ck_assert(seen.join);
    ck_assert_int_eq(seen.user_id, 7);
    ck_assert_str_eq(seen.name, "Ada \xc3\xa9");
    ck_assert_str_eq(seen.role, "investor");
    backplane_dispatch_notify("pitchey_presence",
                              "{\"node\": 3, \"room\": \"pitch:1\", \"action\": \"leave\", "
                              "\"user\": {\"id\": 8, \"name\": \"B\", \"role\": \"creator\"}}");
    ck_assert_int_eq(seen.presence, 2);
    ck_assert(!seen.join);
    ck_assert_int_eq(seen.user_id, 8);
    /* No user, not JSON, not an object: ignored. */
    backplane_dispatch_notify("pitchey_presence", "{\"node\": 3, \"room\": \"lobby\"}");
    backplane_dispatch_notify("pitchey_presence", "{not json");
    backplane_dispatch_notify("pitchey_presence", "");
    ck_assert_int_eq(seen.presence, 2);
}
END_TEST

static Suite *backplane_suite(void)
{
    Suite *s = suite_create("rooms_backplane");
    TCase *t = tcase_create("dispatch");
    tcase_add_test(t, messages_and_revocations);
    tcase_add_test(t, presence_payloads);
    suite_add_tcase(s, t);
    return s;
}

UNIT_MAIN(backplane_suite)
