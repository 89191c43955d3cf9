/* config: every setting of pitchey.conf, declared once in a table.
 *
 * The three programs share one file with sections [database], [cache],
 * [http], [api], [auth], [rooms], [metrics] and [log].  Unknown sections or
 * keys and out-of-range values are errors that name the file and line, so a
 * typo never silently runs with a default.  The table is also walked by a
 * test that checks conf/pitchey.conf and pitchey.conf(5) document each key. */
#ifndef PITCHEY_COMMON_CONFIG_H
#define PITCHEY_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
    struct {
        char *url;
        int connect_timeout_ms;
        int statement_timeout_ms;
        int idle_timeout_s;
        int retries;
        int retry_base_ms;
        int breaker_threshold;
        int breaker_cooldown_ms;
        bool prepared_statements;
    } database;
    struct {
        char *servers;
        char *prefix;
        int ttl_s;
        int grace_s;
        int negative_ttl_s;
        int timeout_ms;
        int session_ttl_s;
        int breaker_threshold;
        int breaker_cooldown_ms;
        int lock_ms;
        int lock_wait_ms;
        char *cache_control;
    } cache;
    struct {
        long max_body;
        char *cors_origins;
    } http;
    struct {
        int workers;
        int max_requests;
        int max_rss_mb;
        int housekeeping_ms;
        int view_flush_ms;
        int view_flush_batch;
        char *runtime_dir;
    } api;
    struct {
        char *secret_file;
        int token_ttl_s;
        int login_max_failures;
        int login_window_s;
        int hash_concurrency;
        int hash_wait_ms;
        long hash_opslimit;
        long hash_memlimit;
    } auth;
    struct {
        char *listen;
        int ping_interval_s;
        int idle_timeout_s;
        int sweep_interval_s;
        long max_message;
        int max_rooms;
        int rate_per_s;
        int history;
        long queue_limit;
        long ring_bytes;
        int node_heartbeat_s;
        int node_timeout_s;
        int revoke_check_s;
    } rooms;
    struct {
        char *allow;
    } metrics;
    struct {
        char *level;
        bool requests;
    } log;
};

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_LONG, CONFIG_BOOL };

struct config_option {
    const char *section;
    const char *name;
    enum config_type type;
    size_t offset;
    const char *default_value;
    long min;
    long max;
    const char *help;
};

/* Fills cfg with the defaults, then reads path (NULL: defaults only), then
 * the environment overrides PITCHEY_DATABASE_URL and
 * PITCHEY_MEMCACHED_SERVERS.  On error returns -1 with "file:line: reason"
 * in err; cfg must still be freed with config_free(). */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Parses INI text from memory; name is used in error messages. */
int config_load_string(struct config *cfg, const char *text, const char *name, char *err,
                       size_t errlen) __attribute__((warn_unused_result));
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);

size_t config_option_count(void);
const struct config_option *config_option_at(size_t i);

/* The default config path, from --sysconfdir. */
const char *config_default_path(void);

#endif
