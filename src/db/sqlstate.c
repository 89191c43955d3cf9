/* sqlstate: classification of Postgres error codes (see sqlstate.h). */
#include "pitchey-build.h"

#include <string.h>

#include "db/sqlstate.h"

enum sqlstate_kind sqlstate_classify(const char *s)
{
    if (s == NULL || strlen(s) != 5)
        return SQLSTATE_OTHER;
    if (!strcmp(s, "40001") || !strcmp(s, "40P01"))
        return SQLSTATE_ROLLED_BACK;
    if (!strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03"))
        return SQLSTATE_SERVER_GONE;
    if (!strcmp(s, "57014"))
        return SQLSTATE_CANCELED;
    if (!strcmp(s, "23505"))
        return SQLSTATE_UNIQUE;
    if (!strcmp(s, "23503"))
        return SQLSTATE_FOREIGN_KEY;
    if (!strncmp(s, "08", 2))
        return SQLSTATE_CONNECTION;
    if (!strncmp(s, "22", 2))
        return SQLSTATE_BAD_INPUT;
    return SQLSTATE_OTHER;
}

bool sqlstate_retryable(enum sqlstate_kind kind, bool sent)
{
    switch (kind) {
    case SQLSTATE_ROLLED_BACK:
    case SQLSTATE_SERVER_GONE:
        return true;
    case SQLSTATE_CONNECTION:
        return !sent;
    default:
        return false;
    }
}
