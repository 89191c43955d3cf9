/* pitch_json: query rows to JSON (see pitch_json.h). */
#include "pitchey-build.h"

#include <stdlib.h>

#include "api/pitch_json.h"
#include "common/clock.h"

struct json_object *json_time(const char *pg)
{
    int64_t us;
    char out[CLOCK_RFC3339_LEN];
    if (clock_parse_pg_timestamp(pg, &us) != 0)
        return json_object_new_string(pg);
    clock_format_rfc3339(us, out);
    return json_object_new_string(out);
}

static struct json_object *int_col(const PGresult *r, int row, int col)
{
    return json_object_new_int64(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

static struct json_object *str_col(const PGresult *r, int row, int col)
{
    return json_object_new_string_len(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

struct json_object *pitch_json_from_row(const PGresult *r, int row, bool with_synopsis)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", int_col(r, row, PC_ID));
    struct json_object *owner = json_object_new_object();
    json_object_object_add(owner, "id", int_col(r, row, PC_OWNER_ID));
    json_object_object_add(owner, "name", str_col(r, row, PC_OWNER_NAME));
    json_object_object_add(o, "owner", owner);
    json_object_object_add(o, "title", str_col(r, row, PC_TITLE));
    json_object_object_add(o, "logline", str_col(r, row, PC_LOGLINE));
    if (with_synopsis)
        json_object_object_add(o, "synopsis", str_col(r, row, PC_SYNOPSIS));
    json_object_object_add(o, "genre", str_col(r, row, PC_GENRE));
    json_object_object_add(o, "budget_usd",
                           PQgetisnull(r, row, PC_BUDGET) ? NULL : int_col(r, row, PC_BUDGET));
    json_object_object_add(o, "status", str_col(r, row, PC_STATUS));
    json_object_object_add(o, "views", int_col(r, row, PC_VIEWS));
    json_object_object_add(o, "created_at", json_time(PQgetvalue(r, row, PC_CREATED)));
    json_object_object_add(o, "updated_at", json_time(PQgetvalue(r, row, PC_UPDATED)));
    return o;
}

struct json_object *user_json_from_row(const PGresult *r, int row, bool own)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", int_col(r, row, 0));
    json_object_object_add(o, "name", str_col(r, row, 1));
    json_object_object_add(o, "role", str_col(r, row, 2));
    json_object_object_add(o, "bio", str_col(r, row, 3));
    json_object_object_add(o, "created_at", json_time(PQgetvalue(r, row, 4)));
    if (own)
        json_object_object_add(o, "email", str_col(r, row, 5));
    return o;
}
