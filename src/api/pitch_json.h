/* pitch_json: rows of the pitch and user queries as the API's JSON.
 *
 * Every pitch statement selects PITCH_COLUMNS in this order, so one
 * function turns any of them into the contract's pitch object. */
#ifndef PITCHEY_API_PITCH_JSON_H
#define PITCHEY_API_PITCH_JSON_H

#include <json.h>
#include <libpq-fe.h>
#include <stdbool.h>

#define PITCH_COLUMNS                                                                   \
    "p.id, p.owner_id, u.name, p.title, p.logline, p.synopsis, p.genre, p.budget_usd, " \
    "p.status, COALESCE(v.views, 0), p.created_at, p.updated_at, "                      \
    "(extract(epoch FROM p.created_at) * 1000000)::bigint"

enum pitch_column {
    PC_ID, PC_OWNER_ID, PC_OWNER_NAME, PC_TITLE, PC_LOGLINE, PC_SYNOPSIS, PC_GENRE,
    PC_BUDGET, PC_STATUS, PC_VIEWS, PC_CREATED, PC_UPDATED, PC_CREATED_US,
};

struct json_object *pitch_json_from_row(const PGresult *r, int row, bool with_synopsis);

#define USER_COLUMNS "u.id, u.name, u.role, u.bio, u.created_at, u.email"

/* Public view, plus email when own is true. */
struct json_object *user_json_from_row(const PGresult *r, int row, bool own);
/* The RFC 3339 form of a Postgres timestamptz text, as a JSON string. */
struct json_object *json_time(const char *pg_timestamp);

#endif
