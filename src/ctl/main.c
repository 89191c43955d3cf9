/* pitcheyctl: the operator's tool.
 *
 * Subcommands: init-secret, migrate, check-config; more join as the
 * service grows.  Each connects to Postgres with the same settings as the
 * daemons, so a config that works here works there. */
#include "pitchey-build.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/secret.h"
#include "ctl/ctl.h"
#include "ctl/migrate.h"
#include "ctl/warm.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pitcheyctl [--config PATH] COMMAND [ARGS]\n"
            "commands:\n"
            "  check-config               load the settings and the secret, report problems\n"
            "  get SECTION.NAME           print one setting's effective value (e.g. api.workers)\n"
            "  init-secret                create the server secret file if it is missing\n"
            "  migrate                    apply the SQL migrations not yet applied\n"
            "  seed-demo [--users N] [--pitches M]\n"
            "                             replace the demo data (password pitchey-demo)\n"
            "  warm [PATH...]             recompute cached answers of these API paths, or the\n"
            "                             first pages of every list (both sorts, each genre)\n"
            "environment: PITCHEY_DATABASE_URL, PITCHEY_MEMCACHED_SERVERS override the file;\n"
            "PITCHEY_SQL_DIR overrides the migrations directory (%s).\n",
            PITCHEY_SQL_DIR);
}

PGconn *ctl_connect(const struct config *cfg)
{
    const char *keys[] = { "dbname", "application_name", "options", NULL };
    const char *vals[] = { cfg->database.url, "pitcheyctl", "-c TimeZone=UTC", NULL };
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pitcheyctl: cannot connect to the database: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static int cmd_init_secret(const struct config *cfg)
{
    char err[512];
    int rc = secret_create(cfg->auth.secret_file, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pitcheyctl: %s\n", err);
        return 1;
    }
    printf("%s: %s\n", cfg->auth.secret_file, rc == 1 ? "created" : "already present");
    return 0;
}

static int cmd_migrate(const struct config *cfg)
{
    const char *dir = getenv("PITCHEY_SQL_DIR");
    if (dir == NULL || *dir == '\0')
        dir = PITCHEY_SQL_DIR;
    PGconn *conn = ctl_connect(cfg);
    if (conn == NULL)
        return 1;
    int n = migrate_run(conn, dir, 1);
    PQfinish(conn);
    if (n < 0)
        return 1;
    printf("migrations: %d applied\n", n);
    return 0;
}

/* get SECTION.NAME: the effective value (file, defaults and environment
 * overrides applied), for scripts such as pitchey-pool that size the pool
 * from [api] workers. */
static int cmd_get(const struct config *cfg, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pitcheyctl get SECTION.NAME\n");
        return 2;
    }
    const char *dot = strchr(argv[1], '.');
    for (size_t i = 0; dot && i < config_option_count(); i++) {
        const struct config_option *o = config_option_at(i);
        if (strlen(o->section) != (size_t)(dot - argv[1]) ||
            strncmp(o->section, argv[1], (size_t)(dot - argv[1])) != 0 ||
            strcmp(o->name, dot + 1) != 0)
            continue;
        const char *base = (const char *)cfg + o->offset;
        switch (o->type) {
        case CONFIG_STRING: {
            const char *v = *(char *const *)(const void *)base;
            printf("%s\n", v ? v : "");
            break;
        }
        case CONFIG_INT: printf("%d\n", *(const int *)(const void *)base); break;
        case CONFIG_LONG: printf("%ld\n", *(const long *)(const void *)base); break;
        case CONFIG_BOOL: printf("%s\n", *(const bool *)(const void *)base ? "yes" : "no"); break;
        }
        return 0;
    }
    fprintf(stderr, "pitcheyctl: no setting %s (expected SECTION.NAME, e.g. api.workers)\n", argv[1]);
    return 2;
}

static int cmd_check_config(const struct config *cfg, const char *path)
{
    char err[512];
    unsigned char secret[SECRET_BYTES];
    enum log_level level;
    int bad = 0;
    if (log_parse_level(cfg->log.level, &level) != 0) {
        fprintf(stderr, "%s: [log] level: expected error, warn, info or debug\n", path);
        bad = 1;
    }
    if (secret_load(cfg->auth.secret_file, secret, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        bad = 1;
    }
    sodium_memzero(secret, sizeof secret);
    if (!bad)
        printf("%s: OK\n", path);
    return bad;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL;
    int opt;
    /* "+": stop at the command, its options are its own. */
    while ((opt = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("pitcheyctl %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "pitcheyctl: libsodium init failed\n");
        return 1;
    }
    log_init("pitcheyctl");
    const char *path = config_path ? config_path : config_default_path();
    struct config cfg;
    char err[512];
    if (config_load(&cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "pitcheyctl: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    const char *cmd = argv[optind];
    int rc;
    if (strcmp(cmd, "init-secret") == 0)
        rc = cmd_init_secret(&cfg);
    else if (strcmp(cmd, "migrate") == 0)
        rc = cmd_migrate(&cfg);
    else if (strcmp(cmd, "check-config") == 0)
        rc = cmd_check_config(&cfg, path);
    else if (strcmp(cmd, "get") == 0)
        rc = cmd_get(&cfg, argc - optind, argv + optind);
    else if (strcmp(cmd, "seed-demo") == 0)
        rc = ctl_seed_demo(&cfg, argc - optind, argv + optind);
    else if (strcmp(cmd, "warm") == 0)
        rc = ctl_warm(&cfg, argc - optind, argv + optind);
    else {
        fprintf(stderr, "pitcheyctl: unknown command %s\n", cmd);
        usage(stderr);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
