/* sqlstate: what a Postgres error code means for the caller.
 *
 * Only some failures may be retried: a transaction the server rolled back
 * for us (serialization failure, deadlock), a server going away before it
 * ran anything (57P01-57P03), and a connection failure before the
 * statement was sent.  Everything else is final. */
#ifndef PITCHEY_DB_SQLSTATE_H
#define PITCHEY_DB_SQLSTATE_H

#include <stdbool.h>

enum sqlstate_kind {
    SQLSTATE_OTHER,
    SQLSTATE_ROLLED_BACK,    /* 40001, 40P01: safe to run again */
    SQLSTATE_SERVER_GONE,    /* 57P01, 57P02, 57P03: nothing ran */
    SQLSTATE_CONNECTION,     /* class 08 */
    SQLSTATE_CANCELED,       /* 57014: statement_timeout */
    SQLSTATE_UNIQUE,         /* 23505 */
    SQLSTATE_FOREIGN_KEY,    /* 23503 */
    SQLSTATE_BAD_INPUT,      /* class 22: data exception */
};

enum sqlstate_kind sqlstate_classify(const char *sqlstate);
/* sent: the statement reached the server (its outcome may be unknown). */
bool sqlstate_retryable(enum sqlstate_kind kind, bool sent);

#endif
