/* migrate: schema migrations (see migrate.h). */
#include "pitchey-build.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "ctl/migrate.h"

/* Any constant works; it only has to be the same for every pitcheyctl. */
#define MIGRATE_LOCK_KEY "7265626469746368"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* NNN_name.sql: three or more digits, an underscore, .sql at the end. */
static int is_migration(const char *name)
{
    size_t n = strlen(name), d = 0;
    while (name[d] >= '0' && name[d] <= '9')
        d++;
    return d >= 3 && name[d] == '_' && n > 4 && strcmp(name + n - 4, ".sql") == 0;
}

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int exec_ok(PGconn *conn, const char *sql, const char *what)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "pitcheyctl: %s: %s", what, PQerrorMessage(conn));
    PQclear(r);
    return ok ? 0 : -1;
}

static int already_applied(PGconn *conn, const char *version, int *applied)
{
    const char *params[1] = { version };
    PGresult *r = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                               NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pitcheyctl: reading schema_migrations: %s", PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static int apply_one(PGconn *conn, const char *dir, const char *name, int verbose)
{
    char version[256];
    snprintf(version, sizeof version, "%.*s", (int)(strlen(name) - 4), name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct buf sql = BUF_INIT;
    if (read_file(path, &sql) != 0) {
        fprintf(stderr, "pitcheyctl: cannot read %s\n", path);
        buf_free(&sql);
        return -1;
    }
    if (exec_ok(conn, "BEGIN", "begin") != 0) {
        buf_free(&sql);
        return -1;
    }
    int applied = 0;
    if (exec_ok(conn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", "lock") != 0 ||
        already_applied(conn, version, &applied) != 0) {
        exec_ok(conn, "ROLLBACK", "rollback");
        buf_free(&sql);
        return -1;
    }
    if (applied) {
        buf_free(&sql);
        return exec_ok(conn, "COMMIT", "commit") == 0 ? 0 : -1;
    }
    const char *params[1] = { version };
    int rc = exec_ok(conn, sql.data, name);
    if (rc == 0) {
        PGresult *r = PQexecParams(conn, "INSERT INTO schema_migrations (version) VALUES ($1)", 1,
                                   NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "pitcheyctl: recording %s: %s", version, PQerrorMessage(conn));
            rc = -1;
        }
        PQclear(r);
    }
    buf_free(&sql);
    if (rc != 0) {
        exec_ok(conn, "ROLLBACK", "rollback");
        return -1;
    }
    if (exec_ok(conn, "COMMIT", "commit") != 0)
        return -1;
    if (verbose)
        printf("applied %s\n", version);
    return 1;
}

int migrate_run(PGconn *conn, const char *sql_dir, int verbose)
{
    if (exec_ok(conn,
                "SET client_min_messages = warning;"
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "creating schema_migrations") != 0)
        return -1;
    DIR *d = opendir(sql_dir);
    if (d == NULL) {
        fprintf(stderr, "pitcheyctl: cannot open migrations directory %s\n", sql_dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_migration(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = apply_one(conn, sql_dir, names[i], verbose);
        if (rc < 0) {
            count = -1;
            break;
        }
        count += rc;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}
