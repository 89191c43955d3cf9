/* Fixture for tests/sql/check-constant-sql: every call below must be
 * refused (not compiled; see tests/sql/check). */
#define GOOD_COLUMNS "id, name"
#define COLUMN(c) "u." c

DB_STMT(fine, "SELECT " GOOD_COLUMNS ", " COLUMN("email") " FROM users u WHERE id = $1");

static int run(PGconn *c, const char *sql)
{
    return PQresultStatus(PQexec(c, sql)) == PGRES_COMMAND_OK;
}

void bad_snprintf(PGconn *c, const char *email)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT id FROM users WHERE email = '%s'", email);
    PQexec(c, q);
}

void bad_through_wrapper(PGconn *c, const char *table)
{
    char *q = concat("DELETE FROM ", table);
    run(c, q);
}

void bad_params(PGconn *c, const char *col)
{
    PQexecParams(c, col, 0, NULL, NULL, NULL, NULL, 0);
}

void bad_macro_arg(PGconn *c, const char *col)
{
    PQexec(c, COLUMN(col));
}

static const struct db_stmt handmade = { "x", NULL };

void calls_bad_params(PGconn *c)
{
    bad_params(c, getenv("SORT_COLUMN"));
}

void fine_calls(PGconn *c, bool b)
{
    run(c, "BEGIN");
    PQexec(c, b ? "COMMIT" : "ROLLBACK");
}

/* Token pasting: BAD_PART_##x may name BAD_PART_USER, which is not text. */
#define BAD_PART_FIXED " WHERE true"
#define BAD_PART_USER user_supplied_where
#define BAD_STMT(var, x) DB_STMT(var, "SELECT 1" BAD_PART_##x)
BAD_STMT(pasted, FIXED);
