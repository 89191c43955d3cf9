/* Unit tests: the config table, the INI loader and its error messages, and
 * the documentation of every option. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "unit.h"

START_TEST(defaults_are_the_documented_ones)
{
    struct config c;
    config_defaults(&c);
    ck_assert_str_eq(c.database.url, "postgresql:///pitchey");
    ck_assert_int_eq(c.database.idle_timeout_s, 60);
    ck_assert_int_eq(c.database.retries, 3);
    ck_assert_int_eq(c.database.retry_base_ms, 100);
    ck_assert_int_eq(c.cache.ttl_s, 300);
    ck_assert_int_eq(c.cache.grace_s, 3600);
    ck_assert_str_eq(c.cache.cache_control, "public, max-age=60, s-maxage=300");
    ck_assert_int_eq(c.http.max_body, 1048576);
    ck_assert_int_eq(c.auth.token_ttl_s, 30 * 86400);
    ck_assert_int_eq(c.rooms.ping_interval_s, 30);
    ck_assert_int_eq(c.rooms.idle_timeout_s, 60);
    ck_assert(c.database.prepared_statements);
    config_free(&c);
}
END_TEST

START_TEST(loads_values)
{
    struct config c;
    char err[256];
    const char *text = "[database]\n"
                       "url = postgresql://u@127.0.0.1:5/x\n"
                       "prepared_statements = no\n"
                       "; a comment\n"
                       "[cache]\n"
                       "ttl = 10\n"
                       "cache_control = public, max-age=1\n"
                       "[http]\n"
                       "max_body = 2048\n";
    ck_assert_int_eq(config_load_string(&c, text, "t.conf", err, sizeof err), 0);
    ck_assert_str_eq(c.database.url, "postgresql://u@127.0.0.1:5/x");
    ck_assert(!c.database.prepared_statements);
    ck_assert_int_eq(c.cache.ttl_s, 10);
    ck_assert_str_eq(c.cache.cache_control, "public, max-age=1");
    ck_assert_int_eq(c.http.max_body, 2048);
    config_free(&c);
}
END_TEST

static void expect_error(const char *text, const char *want)
{
    struct config c;
    char err[256] = "";
    ck_assert_int_eq(config_load_string(&c, text, "t.conf", err, sizeof err), -1);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    config_free(&c);
}

START_TEST(errors_name_file_line_and_reason)
{
    expect_error("[cache]\nttl = 0\n", "t.conf:2: [cache] ttl: out of range");
    expect_error("[cache]\n\nttl = ten\n", "t.conf:3: [cache] ttl: expected an integer");
    expect_error("[database]\nprepared_statements = maybe\n", "t.conf:2:");
    expect_error("[database]\nprepared_statements = maybe\n", "expected yes or no");
    expect_error("[database]\nurll = x\n", "unknown setting");
    expect_error("[nope]\nx = 1\n", "unknown section");
    expect_error("[cache\n", "syntax error");
}
END_TEST

START_TEST(missing_file_is_an_error)
{
    struct config c;
    char err[256];
    ck_assert_int_eq(config_load(&c, "/nonexistent/pitchey.conf", err, sizeof err), -1);
    ck_assert(strstr(err, "/nonexistent/pitchey.conf") != NULL);
    config_free(&c);
}
END_TEST

START_TEST(environment_overrides)
{
    struct config c;
    char err[256];
    setenv("PITCHEY_DATABASE_URL", "postgresql://env@127.0.0.1:1/e", 1);
    setenv("PITCHEY_MEMCACHED_SERVERS", "127.0.0.1:9", 1);
    ck_assert_int_eq(config_load(&c, NULL, err, sizeof err), 0);
    ck_assert_str_eq(c.database.url, "postgresql://env@127.0.0.1:1/e");
    ck_assert_str_eq(c.cache.servers, "127.0.0.1:9");
    unsetenv("PITCHEY_DATABASE_URL");
    unsetenv("PITCHEY_MEMCACHED_SERVERS");
    config_free(&c);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Every option is in conf/pitchey.conf (as "name =" under its section) and
 * in pitchey.conf(5). */
START_TEST(every_option_is_documented)
{
    const char *srcdir = getenv("SRCDIR");
    if (srcdir == NULL)
        srcdir = ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/conf/pitchey.conf", srcdir);
    char *conf = slurp(path);
    ck_assert_msg(conf != NULL, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/doc/pitchey.conf.5", srcdir);
    char *man = slurp(path);
    ck_assert_msg(man != NULL, "cannot read %s", path);
    for (size_t i = 0; i < config_option_count(); i++) {
        const struct config_option *o = config_option_at(i);
        char section[64], key[96];
        snprintf(section, sizeof section, "[%s]", o->section);
        char *sec = strstr(conf, section);
        ck_assert_msg(sec != NULL, "conf/pitchey.conf lacks %s", section);
        snprintf(key, sizeof key, "\n%s = ", o->name);
        char *k1 = strstr(sec, key);
        snprintf(key, sizeof key, "\n# %s = ", o->name);
        char *k2 = strstr(sec, key);
        ck_assert_msg(k1 || k2, "conf/pitchey.conf lacks [%s] %s", o->section, o->name);
        snprintf(key, sizeof key, ".B %s", o->name);
        ck_assert_msg(strstr(man, key) != NULL, "pitchey.conf(5) lacks %s", o->name);
    }
    /* And the annotated file, as shipped, loads. */
    struct config c;
    char err[256];
    ck_assert_msg(config_load_string(&c, conf, "conf/pitchey.conf", err, sizeof err) == 0, "%s",
                  err);
    config_free(&c);
    free(conf);
    free(man);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_are_the_documented_ones);
    tcase_add_test(tc, loads_values);
    tcase_add_test(tc, errors_name_file_line_and_reason);
    tcase_add_test(tc, missing_file_is_an_error);
    tcase_add_test(tc, environment_overrides);
    tcase_add_test(tc, every_option_is_documented);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
