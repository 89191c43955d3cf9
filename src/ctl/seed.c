/* seed: `pitcheyctl seed-demo`, deterministic demo data.
 *
 * The same --users/--pitches always give the same people and pitches
 * (a fixed PRNG seeded per row), loaded with COPY in one transaction.  Demo
 * accounts live under @demo.pitchey.example and are replaced on every run,
 * so running it twice leaves one demo set.  Every demo account's password
 * is "pitchey-demo". */
#include "pitchey-build.h"

#include <getopt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/views.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "ctl/ctl.h"

#define DEMO_DOMAIN "demo.pitchey.example"
#define DEMO_PASSWORD "pitchey-demo"

static const char *const first_names[] = {
    "Ada", "Grace", "Alan", "Katherine", "Orson", "Agnes", "Akira", "Chantal", "Satyajit",
    "Lina", "Ousmane", "Jane", "Wong", "Claire", "Federico", "Ida", "Spike", "Kathryn",
    "Bong", "Mira", "Hayao", "Alice", "Jordan", "Greta", "Pedro", "Chloé", "Céline", "Abbas",
};
static const char *const last_names[] = {
    "Lovelace", "Hopper", "Turing", "Johnson", "Welles", "Varda", "Kurosawa", "Akerman",
    "Ray", "Wertmüller", "Sembène", "Campion", "Kar-wai", "Denis", "Fellini", "Lupino", "Lee",
    "Bigelow", "Joon-ho", "Nair", "Miyazaki", "Guy", "Peele", "Gerwig", "Almodóvar", "Zhao",
    "Sciamma", "Kiarostami",
};
static const char *const roles[] = { "creator", "creator", "investor", "producer" };
static const char *const genres[] = {
    "action", "animation", "comedy", "documentary", "drama", "fantasy",
    "horror", "romance", "sci-fi", "thriller", "other",
};
static const char *const adjectives[] = {
    "Last", "Silent", "Broken", "Hidden", "Midnight", "Electric", "Forgotten", "Crimson",
    "Endless", "Paper", "Glass", "Northern", "Hollow", "Golden", "Restless", "Quiet",
};
static const char *const nouns[] = {
    "Compiler", "Lighthouse", "Orchard", "Signal", "Harbor", "Archive", "Carnival", "Frontier",
    "Machine", "River", "Garden", "Comet", "Kingdom", "Station", "Letter", "Mirror",
};
static const char *const places[] = {
    "Lagos", "a drowned city", "the Arctic Circle", "1970s Naples", "a Martian colony",
    "the Mekong delta", "a Scottish island", "Mexico City", "a night train to Kyiv",
    "the Atacama desert", "an abandoned mall", "a floating casino",
};
static const char *const heroes[] = {
    "a retired engineer", "a teenage hacker", "an exiled chef", "a disgraced detective",
    "a wedding photographer", "a lighthouse keeper", "a failed astronaut", "a stubborn twin",
    "a small-town mayor", "an android nanny", "a jazz pianist", "a grieving widower",
};
static const char *const incitements[] = {
    "finds a message hidden in old code", "inherits a debt to the wrong people",
    "wakes up with someone else's memories", "witnesses a crime no one believes",
    "is offered one impossible job", "discovers the town has been erased from every map",
    "receives letters from the future", "loses everything in a single night",
};
static const char *const goals[] = {
    "rebuild the machine", "find the missing heir", "win back a stolen recipe",
    "get the whole family across the border", "expose a billion-dollar lie",
    "finish the song", "bring the crew home", "break an ancient curse",
};
static const char *const stakes[] = {
    "the storm makes landfall", "the election is called", "the last ferry leaves",
    "the signal fades for good", "the truth is buried again", "the festival ends",
    "their own memory runs out", "the season turns",
};
static const char *const beats[] = {
    "What begins as a favour turns into a chase across borders.",
    "Old allies return with new agendas.",
    "Every answer costs something that cannot be bought back.",
    "A rival with the same goal forces an uneasy partnership.",
    "The past refuses to stay quiet.",
    "Humour and heartbreak sit side by side until the final act.",
    "The closer the goal, the less it looks like the one they set out for.",
    "A single choice in the second act changes who they are.",
};

#define PICK(arr, r) (arr[(r) % (sizeof(arr) / sizeof(arr[0]))])

/* splitmix64: tiny, good enough, and identical on every machine. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* COPY text format: backslash, tab and newline must be escaped. */
static void copy_field(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '\t' || *s == '\n')
            buf_append_char(b, '\\');
        buf_append_char(b, *s == '\t' ? 't' : *s == '\n' ? 'n' : *s);
    }
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "pitcheyctl: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

static int copy_rows(PGconn *c, const char *sql, struct buf *rows)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "pitcheyctl: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (PQputCopyData(c, rows->data, (int)rows->len) != 1 || PQputCopyEnd(c, NULL) != 1) {
        fprintf(stderr, "pitcheyctl: %s", PQerrorMessage(c));
        return -1;
    }
    r = PQgetResult(c);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "pitcheyctl: %s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return ok ? 0 : -1;
}

static void progress(const char *what, long done, long total)
{
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r%s: %ld/%ld", what, done, total);
    if (done == total && isatty(STDERR_FILENO))
        fputc('\n', stderr);
}

static void user_rows(long users, const char *hash, struct buf *b)
{
    for (long i = 1; i <= users; i++) {
        uint64_t s = (uint64_t)i * 7919;
        uint64_t r1 = rng_next(&s), r2 = rng_next(&s);
        char email[96], name[160], bio[256];
        snprintf(email, sizeof email, "demo%05ld@" DEMO_DOMAIN, i);
        snprintf(name, sizeof name, "%s %s", PICK(first_names, r1), PICK(last_names, r2));
        const char *role = PICK(roles, i - 1);
        snprintf(bio, sizeof bio, "%s %s based in %s.",
                 strcmp(role, "creator") == 0 ? "Writer and director" :
                 strcmp(role, "investor") == 0 ? "Film financier" : "Independent producer",
                 r1 % 2 ? "mostly" : "occasionally", PICK(places, r2 >> 8));
        copy_field(b, email);
        buf_append_char(b, '\t');
        copy_field(b, hash);
        buf_append_char(b, '\t');
        copy_field(b, name);
        buf_append_char(b, '\t');
        copy_field(b, role);
        buf_append_char(b, '\t');
        copy_field(b, bio);
        buf_append_char(b, '\n');
        if (i % 1000 == 0 || i == users)
            progress("users", i, users);
    }
}

static void pitch_row(long i, const long *owners, long nowners, struct buf *b)
{
    uint64_t s = (uint64_t)i * 104729 + 17;
    uint64_t r[10];
    for (int k = 0; k < 10; k++)
        r[k] = rng_next(&s);
    char title[200], logline[600], synopsis[2000];
    switch (r[0] % 4) {
    case 0: snprintf(title, sizeof title, "The %s %s", PICK(adjectives, r[1]), PICK(nouns, r[2])); break;
    case 1: snprintf(title, sizeof title, "%s of %s", PICK(nouns, r[2]), PICK(places, r[3])); break;
    case 2: snprintf(title, sizeof title, "%s %s", PICK(adjectives, r[1]), PICK(nouns, r[2])); break;
    default: snprintf(title, sizeof title, "A %s in %s", PICK(nouns, r[2]), PICK(places, r[3])); break;
    }
    const char *hero = PICK(heroes, r[4]);
    snprintf(logline, sizeof logline, "When %s %s, %s must %s before %s.", hero,
             PICK(incitements, r[5]), r[4] % 3 == 0 ? "they" : "the unlikely hero",
             PICK(goals, r[6]), PICK(stakes, r[7]));
    snprintf(synopsis, sizeof synopsis,
             "Set in %s, this %s follows %s. %s %s %s",
             PICK(places, r[3]), PICK(genres, r[8]), hero, PICK(beats, r[9]),
             PICK(beats, r[9] >> 8), PICK(beats, r[9] >> 16));
    long owner = owners[r[1] % (uint64_t)nowners];
    char budget[32];
    if (r[2] % 5 == 0)
        snprintf(budget, sizeof budget, "\\N");
    else
        snprintf(budget, sizeof budget, "%llu", (unsigned long long)((r[2] % 400 + 1) * 250000));
    const char *status = r[3] % 10 == 0 ? "draft" : "published";
    /* Spread over the last 90 days (relative to the load, so lists look fresh). */
    long minutes_ago = (long)(r[5] % 129600);
    buf_printf(b, "%ld\t", owner);
    copy_field(b, title);
    buf_append_char(b, '\t');
    copy_field(b, logline);
    buf_append_char(b, '\t');
    copy_field(b, synopsis);
    buf_printf(b, "\t%s\t%s\t%s\t%ld\n", PICK(genres, r[8]), budget, status, minutes_ago);
}

int ctl_seed_demo(const struct config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "users", required_argument, NULL, 'u' },
        { "pitches", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    long users = 50, pitches = 500;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "u:p:", longopts, NULL)) != -1) {
        char *end;
        long v = strtol(optarg ? optarg : "", &end, 10);
        if (*end != '\0' || v < 1 || v > 10000000) {
            fprintf(stderr, "pitcheyctl seed-demo: --%s needs a number from 1 to 10000000\n",
                    opt == 'u' ? "users" : "pitches");
            return 2;
        }
        if (opt == 'u')
            users = v;
        else if (opt == 'p')
            pitches = v;
        else
            return 2;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, DEMO_PASSWORD, strlen(DEMO_PASSWORD),
                          (unsigned long long)cfg->auth.hash_opslimit,
                          (size_t)cfg->auth.hash_memlimit) != 0) {
        fprintf(stderr, "pitcheyctl: cannot hash the demo password\n");
        return 1;
    }
    PGconn *c = ctl_connect(cfg);
    if (c == NULL)
        return 1;
    int rc = 1;
    struct buf rows = BUF_INIT;
    long *owners = NULL;
    PGresult *r = NULL;
    /* The view flushers' lock: the delete below rewrites pitch_views in bulk. */
    if (exec_ok(c, "BEGIN") != 0 ||
        exec_ok(c, "SELECT pg_advisory_xact_lock(" VIEWS_FLUSH_LOCK_KEY ")") != 0 ||
        exec_ok(c, "DELETE FROM users WHERE email LIKE '%@" DEMO_DOMAIN "'") != 0)
        goto out;
    user_rows(users, hash, &rows);
    if (copy_rows(c, "COPY users (email, password_hash, name, role, bio) FROM STDIN", &rows) != 0)
        goto out;
    r = PQexec(c, "SELECT id FROM users WHERE email LIKE '%@" DEMO_DOMAIN "'"
                  " AND role = 'creator' ORDER BY email");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        fprintf(stderr, "pitcheyctl: no demo creators: %s", PQerrorMessage(c));
        goto out;
    }
    long nowners = PQntuples(r);
    owners = xmalloc((size_t)nowners * sizeof *owners);
    for (long i = 0; i < nowners; i++)
        owners[i] = strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
    buf_reset(&rows);
    /* A staging table keeps created_at relative to now in SQL. */
    if (exec_ok(c, "CREATE TEMP TABLE seed_pitches (owner_id bigint, title text, logline text,"
                   " synopsis text, genre text, budget_usd bigint, status text,"
                   " minutes_ago int) ON COMMIT DROP") != 0)
        goto out;
    for (long i = 1; i <= pitches; i++) {
        pitch_row(i, owners, nowners, &rows);
        if (i % 1000 == 0 || i == pitches)
            progress("pitches", i, pitches);
    }
    if (copy_rows(c, "COPY seed_pitches FROM STDIN", &rows) != 0)
        goto out;
    if (exec_ok(c, "WITH p AS (INSERT INTO pitches (owner_id, title, logline, synopsis, genre,"
                   "  budget_usd, status, created_at, updated_at)"
                   " SELECT owner_id, title, logline, synopsis, genre, budget_usd, status,"
                   "  now() - make_interval(mins => minutes_ago),"
                   "  now() - make_interval(mins => minutes_ago)"
                   " FROM seed_pitches RETURNING id, title, logline)"
                   " INSERT INTO pitch_views (pitch_id, views)"
                   " SELECT id, abs(hashtext(title || logline)) % 5000 FROM p") != 0 ||
        exec_ok(c, "UPDATE cache_epoch SET epoch = epoch + 1") != 0 ||
        exec_ok(c, "COMMIT") != 0)
        goto out;
    /* Fresh statistics, so the planner knows the tables' new sizes at once
     * rather than at autovacuum's next round (sort=popular took 20 ms with
     * the stale estimates, 0.8 ms after). */
    if (exec_ok(c, "ANALYZE users, pitches, pitch_views") != 0)
        goto out;
    printf("seed-demo: %ld users (password \"%s\"), %ld pitches\n", users, DEMO_PASSWORD,
           pitches);
    rc = 0;
out:
    PQclear(r);
    free(owners);
    buf_free(&rows);
    PQfinish(c);
    return rc;
}
