/* migrate: applies sql/NNN_*.sql in order, each once, each in its own
 * transaction, recorded in schema_migrations.  An advisory lock serialises
 * concurrent runs (two hosts deploying at once). */
#ifndef PITCHEY_CTL_MIGRATE_H
#define PITCHEY_CTL_MIGRATE_H

#include <libpq-fe.h>

/* Returns the number of migrations applied, or -1 (message on stderr). */
int migrate_run(PGconn *conn, const char *sql_dir, int verbose);

#endif
