/* config: the option table and its INI loader (see config.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/xalloc.h"

#define OPT(sec, key, type, field, def, min, max, help)                                     \
    { #sec, #key, type, offsetof(struct config, sec.field), def, min, max, help }

static const struct config_option options[] = {
    OPT(database, url, CONFIG_STRING, url, "postgresql:///pitchey", 0, 0,
        "libpq connection string or URI (env PITCHEY_DATABASE_URL)"),
    OPT(database, connect_timeout_ms, CONFIG_INT, connect_timeout_ms, "2000", 50, 60000,
        "budget for one connection attempt"),
    OPT(database, statement_timeout_ms, CONFIG_INT, statement_timeout_ms, "5000", 50, 600000,
        "server statement_timeout; the client gives up 1 s later"),
    OPT(database, idle_timeout, CONFIG_INT, idle_timeout_s, "60", 1, 86400,
        "close a connection unused for this many seconds"),
    OPT(database, retries, CONFIG_INT, retries, "3", 1, 10, "tries for a retryable failure"),
    OPT(database, retry_base_ms, CONFIG_INT, retry_base_ms, "100", 1, 10000,
        "first backoff delay, doubled each try, with jitter"),
    OPT(database, breaker_threshold, CONFIG_INT, breaker_threshold, "3", 1, 1000,
        "consecutive connection failures that open the circuit"),
    OPT(database, breaker_cooldown_ms, CONFIG_INT, breaker_cooldown_ms, "250", 10, 600000,
        "while the circuit is open, time between background connection probes"),
    OPT(database, prepared_statements, CONFIG_BOOL, prepared_statements, "yes", 0, 0,
        "turn off for PgBouncer in transaction mode"),

    OPT(cache, servers, CONFIG_STRING, servers, "127.0.0.1:11211", 0, 0,
        "memcached servers, host:port comma list (env PITCHEY_MEMCACHED_SERVERS); empty disables"),
    OPT(cache, prefix, CONFIG_STRING, prefix, "pitchey", 0, 0, "key prefix"),
    OPT(cache, ttl, CONFIG_INT, ttl_s, "300", 1, 86400, "soft TTL of cached answers"),
    OPT(cache, grace, CONFIG_INT, grace_s, "3600", 0, 604800,
        "how long past the TTL a stale answer may be served"),
    OPT(cache, negative_ttl, CONFIG_INT, negative_ttl_s, "5", 0, 300,
        "TTL of cached anonymous 404s"),
    OPT(cache, timeout_ms, CONFIG_INT, timeout_ms, "50", 1, 10000,
        "memcached connect and poll timeout"),
    OPT(cache, session_ttl, CONFIG_INT, session_ttl_s, "60", 1, 3600,
        "how long a session lookup is cached"),
    OPT(cache, breaker_threshold, CONFIG_INT, breaker_threshold, "3", 1, 1000,
        "consecutive memcached timeouts that bypass the cache"),
    OPT(cache, breaker_cooldown_ms, CONFIG_INT, breaker_cooldown_ms, "3000", 50, 600000,
        "how long the cache is bypassed after that"),
    OPT(cache, lock_ms, CONFIG_INT, lock_ms, "2000", 10, 60000,
        "lifetime of a refresh lock (request coalescing)"),
    OPT(cache, lock_wait_ms, CONFIG_INT, lock_wait_ms, "500", 0, 10000,
        "how long a miss waits for another worker's refresh"),
    OPT(cache, cache_control, CONFIG_STRING, cache_control, "public, max-age=60, s-maxage=300", 0,
        0, "Cache-Control of shared cacheable answers"),

    OPT(http, max_body, CONFIG_LONG, max_body, "1048576", 1024, 1073741824L,
        "largest accepted request body in bytes"),
    OPT(http, cors_origins, CONFIG_STRING, cors_origins, "", 0, 0,
        "origins allowed by CORS, space or comma separated"),

    OPT(api, workers, CONFIG_INT, workers, "4", 1, 1024, "FastCGI processes in the pool"),
    OPT(api, max_requests, CONFIG_INT, max_requests, "0", 0, INT_MAX,
        "a worker exits after about this many requests (0: never)"),
    OPT(api, max_rss_mb, CONFIG_INT, max_rss_mb, "128", 0, 1048576,
        "a worker above this resident memory (MiB) exits after its request (0: no limit)"),
    OPT(api, housekeeping_ms, CONFIG_INT, housekeeping_ms, "250", 10, 10000,
        "how often idle housekeeping runs"),
    OPT(api, view_flush_ms, CONFIG_INT, view_flush_ms, "1000", 10, 600000,
        "how often view counts are written"),
    OPT(api, view_flush_batch, CONFIG_INT, view_flush_batch, "2048", 1, 65536,
        "distinct pitches that force an early view flush"),
    OPT(api, runtime_dir, CONFIG_STRING, runtime_dir, "/run/pitchey", 0, 0,
        "directory of the shared metrics segment and lock files"),

    OPT(auth, secret_file, CONFIG_STRING, secret_file, "/etc/pitchey/secret", 0, 0,
        "32-byte server secret for token hashes and cursor signatures"),
    OPT(auth, token_ttl, CONFIG_INT, token_ttl_s, "2592000", 60, INT_MAX,
        "token lifetime in seconds"),
    OPT(auth, login_max_failures, CONFIG_INT, login_max_failures, "10", 1, 10000,
        "failed logins per email and address before 429"),
    OPT(auth, login_window, CONFIG_INT, login_window_s, "900", 1, 86400,
        "window of the login limit in seconds"),
    OPT(auth, hash_concurrency, CONFIG_INT, hash_concurrency, "0", 0, 1024,
        "password hashes at once across the pool (0: half the workers)"),
    OPT(auth, hash_wait_ms, CONFIG_INT, hash_wait_ms, "1000", 0, 60000,
        "how long login and register wait for a free hashing slot before 503"),
    OPT(auth, hash_opslimit, CONFIG_LONG, hash_opslimit, "2", 1, 1000,
        "argon2id passes"),
    OPT(auth, hash_memlimit, CONFIG_LONG, hash_memlimit, "33554432", 8192, 4294967296L,
        "argon2id memory in bytes"),

    OPT(rooms, listen, CONFIG_STRING, listen, "127.0.0.1:8081", 0, 0,
        "address of the rooms daemon"),
    OPT(rooms, ping_interval, CONFIG_INT, ping_interval_s, "30", 1, 3600,
        "seconds between server pings"),
    OPT(rooms, idle_timeout, CONFIG_INT, idle_timeout_s, "60", 1, 3600,
        "close a connection silent this long"),
    OPT(rooms, sweep_interval, CONFIG_INT, sweep_interval_s, "30", 1, 3600,
        "how often stale connections are swept"),
    OPT(rooms, max_message, CONFIG_LONG, max_message, "65536", 256, 16777216,
        "largest client message in bytes (close 1009 above)"),
    OPT(rooms, max_rooms, CONFIG_INT, max_rooms, "16", 1, 1024, "rooms per connection"),
    OPT(rooms, rate, CONFIG_INT, rate_per_s, "20", 1, 100000,
        "send messages per second per connection"),
    OPT(rooms, history, CONFIG_INT, history, "100", 0, 100000,
        "messages retained per room"),
    OPT(rooms, queue_limit, CONFIG_LONG, queue_limit, "1048576", 1024, 1073741824L,
        "bytes queued for one connection before it is closed with 1013"),
    OPT(rooms, ring_bytes, CONFIG_LONG, ring_bytes, "16777216", 0, 1073741824L,
        "memory for recent messages kept for replay, all rooms together"),
    OPT(rooms, node_heartbeat, CONFIG_INT, node_heartbeat_s, "5", 1, 3600,
        "seconds between node heartbeats"),
    OPT(rooms, node_timeout, CONFIG_INT, node_timeout_s, "15", 2, 3600,
        "a node silent this long loses its members"),
    OPT(rooms, revoke_check, CONFIG_INT, revoke_check_s, "2", 1, 60,
        "how often revoked tokens are looked for"),

    OPT(metrics, allow, CONFIG_STRING, allow, "127.0.0.0/8, ::1", 0, 0,
        "addresses allowed to read /api/metrics (CIDR list)"),

    OPT(log, level, CONFIG_STRING, level, "info", 0, 0, "error, warn, info or debug"),
    OPT(log, requests, CONFIG_BOOL, requests, "yes", 0, 0, "one line per request"),
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

size_t config_option_count(void)
{
    return OPTION_COUNT;
}

const struct config_option *config_option_at(size_t i)
{
    return i < OPTION_COUNT ? &options[i] : NULL;
}

const char *config_default_path(void)
{
    return SYSCONFDIR "/pitchey/pitchey.conf";
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
        !strcmp(v, "1")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
        !strcmp(v, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* Returns NULL on success or a static reason. */
static const char *set_option(struct config *cfg, const struct config_option *o, const char *v)
{
    char *base = (char *)cfg + o->offset;
    switch (o->type) {
    case CONFIG_STRING: {
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = xstrdup(v);
        return NULL;
    }
    case CONFIG_BOOL:
        if (parse_bool(v, (bool *)(void *)base) != 0)
            return "expected yes or no";
        return NULL;
    case CONFIG_INT:
    case CONFIG_LONG: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0')
            return "expected an integer";
        if (n < o->min || n > o->max)
            return "out of range";
        if (o->type == CONFIG_INT)
            *(int *)(void *)base = (int)n;
        else
            *(long *)(void *)base = n;
        return NULL;
    }
    }
    return "unknown type";
}

static const struct config_option *find_option(const char *section, const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (!strcmp(options[i].section, section) && !strcmp(options[i].name, name))
            return &options[i];
    return NULL;
}

static bool known_section(const char *section)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (!strcmp(options[i].section, section))
            return true;
    return false;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *why = set_option(cfg, &options[i], options[i].default_value);
        if (why) {
            /* A bad default is a programming error caught by the unit test. */
            fprintf(stderr, "bad default for [%s] %s: %s\n", options[i].section, options[i].name,
                    why);
            abort();
        }
    }
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].type == CONFIG_STRING) {
            char **slot = (char **)(void *)((char *)cfg + options[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

struct load_state {
    struct config *cfg;
    const char *name;
    char *err;
    size_t errlen;
    int failed;
    int lineno;
    const char *text; /* for string input */
    FILE *file;       /* for file input */
};

/* Debian's inih is built without line numbers in the handler, so the
 * readers count lines themselves: inih calls the handler right after
 * reading the line that holds the setting. */
static char *read_file_line(char *str, int num, void *stream)
{
    struct load_state *st = stream;
    char *r = fgets(str, num, st->file);
    if (r)
        st->lineno++;
    return r;
}

static char *read_string_line(char *str, int num, void *stream)
{
    struct load_state *st = stream;
    const char *p = st->text;
    if (p == NULL || *p == '\0' || num < 2)
        return NULL;
    int n = 0;
    while (n < num - 1 && p[n] != '\0') {
        str[n] = p[n];
        if (p[n++] == '\n')
            break;
    }
    str[n] = '\0';
    st->text = p + n;
    st->lineno++;
    return str;
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_state *st = user;
    int lineno = st->lineno;
    if (st->failed)
        return 0;
    const struct config_option *o = find_option(section, name);
    const char *why = NULL;
    if (o == NULL)
        why = known_section(section) ? "unknown setting" : "unknown section";
    else
        why = set_option(st->cfg, o, value);
    if (why) {
        snprintf(st->err, st->errlen, "%s:%d: [%s] %s: %s", st->name, lineno, section, name, why);
        st->failed = 1;
        return 0;
    }
    return 1;
}

static void apply_env(struct config *cfg)
{
    const char *v = getenv("PITCHEY_DATABASE_URL");
    if (v && *v) {
        free(cfg->database.url);
        cfg->database.url = xstrdup(v);
    }
    v = getenv("PITCHEY_MEMCACHED_SERVERS");
    if (v) {
        free(cfg->cache.servers);
        cfg->cache.servers = xstrdup(v);
    }
}

static int finish_load(struct load_state *st, int rc)
{
    if (st->failed)
        return -1;
    if (rc < 0) {
        snprintf(st->err, st->errlen, "%s: cannot read", st->name);
        return -1;
    }
    if (rc > 0) {
        snprintf(st->err, st->errlen, "%s:%d: syntax error", st->name, rc);
        return -1;
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    config_defaults(cfg);
    if (path) {
        struct load_state st = { cfg, path, err, errlen, 0, 0, NULL, NULL };
        st.file = fopen(path, "r");
        if (st.file == NULL) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        int rc = ini_parse_stream(read_file_line, &st, config_ini_handler, &st);
        fclose(st.file);
        if (finish_load(&st, rc) != 0)
            return -1;
    }
    apply_env(cfg);
    return 0;
}

int config_load_string(struct config *cfg, const char *text, const char *name, char *err,
                       size_t errlen)
{
    config_defaults(cfg);
    struct load_state st = { cfg, name, err, errlen, 0, 0, text, NULL };
    int rc = ini_parse_stream(read_string_line, &st, config_ini_handler, &st);
    return finish_load(&st, rc);
}
