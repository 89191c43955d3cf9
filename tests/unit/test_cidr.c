/* Unit tests: address lists, and who the metrics access rule applies to. */
#include "pitchey-build.h"

#include <stdlib.h>
#include <string.h>

#include "api/handle_metrics.h"
#include "common/cidr.h"
#include "unit.h"

START_TEST(ipv4_blocks_and_addresses)
{
    const char *l = "127.0.0.0/8, 10.1.2.3 192.168.0.0/16";
    ck_assert(cidr_list_contains(l, "127.0.0.1"));
    ck_assert(cidr_list_contains(l, "127.255.0.9"));
    ck_assert(cidr_list_contains(l, "10.1.2.3"));
    ck_assert(!cidr_list_contains(l, "10.1.2.4"));
    ck_assert(cidr_list_contains(l, "192.168.44.1"));
    ck_assert(!cidr_list_contains(l, "192.169.0.1"));
    ck_assert(!cidr_list_contains("127.0.0.1/32", "127.0.0.2"));
    ck_assert(cidr_list_contains("0.0.0.0/0", "8.8.8.8"));
    ck_assert(cidr_list_contains("10.0.0.0/9", "10.127.0.1"));
    ck_assert(!cidr_list_contains("10.0.0.0/9", "10.128.0.1"));
}
END_TEST

START_TEST(ipv6_and_mapped_addresses)
{
    const char *l = "127.0.0.0/8, ::1, fd00::/8";
    ck_assert(cidr_list_contains(l, "::1"));
    ck_assert(!cidr_list_contains(l, "::2"));
    ck_assert(cidr_list_contains(l, "fd12:3456::1"));
    ck_assert(!cidr_list_contains(l, "fe80::1"));
    ck_assert(cidr_list_contains(l, "::ffff:127.0.0.1"));   /* dual-stack socket */
    ck_assert(!cidr_list_contains(l, "::ffff:10.0.0.1"));
}
END_TEST

START_TEST(garbage_never_matches)
{
    ck_assert(!cidr_list_contains("127.0.0.0/8", ""));
    ck_assert(!cidr_list_contains("127.0.0.0/8", NULL));
    ck_assert(!cidr_list_contains("127.0.0.0/8", "localhost"));
    ck_assert(!cidr_list_contains("", "127.0.0.1"));
    ck_assert(!cidr_list_contains(NULL, "127.0.0.1"));
    ck_assert_int_eq(cidr_list_check("127.0.0.0/8, ::1"), 0);
    ck_assert_int_eq(cidr_list_check(""), 0);
    ck_assert_int_eq(cidr_list_check("127.0.0.0/33"), -1);
    ck_assert_int_eq(cidr_list_check("127.0.0.0/"), -1);
    ck_assert_int_eq(cidr_list_check("localhost"), -1);
    ck_assert_int_eq(cidr_list_check("::1/129"), -1);
}
END_TEST

static const char *client(const char *trusted, const char *remote, const char *xff)
{
    static char out[64];
    api_metrics_client(trusted, remote, xff, out, sizeof out);
    return out;
}

START_TEST(forwarded_for_only_from_trusted_proxies)
{
    /* Not configured: the header is the client's to write, so ignored. */
    ck_assert_str_eq(client("", "127.0.0.1", "10.9.9.9"), "127.0.0.1");
    ck_assert_str_eq(client(NULL, "127.0.0.1", "10.9.9.9"), "127.0.0.1");
    /* From an untrusted peer: ignored. */
    ck_assert_str_eq(client("127.0.0.1", "127.0.0.2", "127.0.0.1"), "127.0.0.2");
    /* From a trusted proxy: the right-most untrusted hop. */
    ck_assert_str_eq(client("127.0.0.1", "127.0.0.1", "10.9.9.9"), "10.9.9.9");
    ck_assert_str_eq(client("127.0.0.1, 10.0.0.0/8", "127.0.0.1", "1.2.3.4, 10.0.0.5"),
                     "1.2.3.4");
    /* A forged left part does not help: the proxy appended the real peer. */
    ck_assert_str_eq(client("127.0.0.1", "127.0.0.1", "127.0.0.1, 203.0.113.7"), "203.0.113.7");
    ck_assert_str_eq(client("127.0.0.1", "127.0.0.1", " 203.0.113.7 ,"), "203.0.113.7");
    /* Trusted but no header. */
    ck_assert_str_eq(client("127.0.0.1", "127.0.0.1", NULL), "127.0.0.1");
}
END_TEST

START_TEST(allowed_follows_the_config)
{
    struct config cfg;
    config_defaults(&cfg);
    ck_assert(api_metrics_allowed(&cfg, "127.0.0.1", NULL));
    ck_assert(api_metrics_allowed(&cfg, "::1", NULL));
    ck_assert(!api_metrics_allowed(&cfg, "192.0.2.1", NULL));
    ck_assert(api_metrics_allowed(&cfg, "127.0.0.1", "192.0.2.1")); /* not trusted: ignored */
    free(cfg.metrics.trusted_proxies);
    cfg.metrics.trusted_proxies = strdup("127.0.0.1");
    ck_assert(!api_metrics_allowed(&cfg, "127.0.0.1", "192.0.2.1"));
    config_free(&cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cidr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ipv4_blocks_and_addresses);
    tcase_add_test(tc, ipv6_and_mapped_addresses);
    tcase_add_test(tc, garbage_never_matches);
    tcase_add_test(tc, forwarded_for_only_from_trusted_proxies);
    tcase_add_test(tc, allowed_follows_the_config);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
