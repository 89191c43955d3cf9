/* Unit: the origin and CIDR rules of the rooms daemon (src/rooms/access.c). */
#include "pitchey-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "rooms/access.h"
#include "unit.h"

static bool v4(const char *list, const char *addr)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    return access_addr_allowed(list, (struct sockaddr *)&sa);
}

static bool v6(const char *list, const char *addr)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
    return access_addr_allowed(list, (struct sockaddr *)&sa);
}

START_TEST(cidr_lists)
{
    const char *def = "127.0.0.0/8, ::1";
    ck_assert(v4(def, "127.0.0.1"));
    ck_assert(v4(def, "127.255.0.2"));
    ck_assert(!v4(def, "128.0.0.1"));
    ck_assert(!v4(def, "10.0.0.1"));
    ck_assert(v6(def, "::1"));
    ck_assert(!v6(def, "::2"));
    ck_assert(v6(def, "::ffff:127.0.0.9")); /* mapped: matched as IPv4 */
    ck_assert(!v6(def, "::ffff:10.0.0.1"));
    const char *one = "127.0.0.1/32 ::1";
    ck_assert(v4(one, "127.0.0.1"));
    ck_assert(!v4(one, "127.0.0.2"));
    ck_assert(v4("10.1.2.3", "10.1.2.3")); /* a bare address is /32 */
    ck_assert(!v4("10.1.2.3", "10.1.2.4"));
    ck_assert(v4("10.1.2.0/23", "10.1.3.255"));
    ck_assert(!v4("10.1.2.0/23", "10.1.4.0"));
    ck_assert(v4("0.0.0.0/0", "192.0.2.1"));
    ck_assert(v6("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!v6("2001:db8::/33", "2001:db8:8000::1"));
    ck_assert(!v4("", "127.0.0.1"));
    ck_assert(!v4(NULL, "127.0.0.1"));
    ck_assert(!v4("junk, 10.0.0.0/8", "127.0.0.1")); /* junk never matches */
    ck_assert(v4("junk, 10.0.0.0/8", "10.9.9.9"));
}
END_TEST

START_TEST(cidr_list_check)
{
    char err[128];
    ck_assert_int_eq(access_check_list("127.0.0.0/8, ::1", err, sizeof err), 0);
    ck_assert_int_eq(access_check_list("", err, sizeof err), 0);
    ck_assert_int_eq(access_check_list("127.0.0.0/33", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.0/33"));
    ck_assert_int_eq(access_check_list("localhost", err, sizeof err), -1);
    ck_assert_int_eq(access_check_list("10.0.0.0/", err, sizeof err), -1);
    ck_assert_int_eq(access_check_list("::1/129", err, sizeof err), -1);
    ck_assert_int_eq(access_check_list("10.0.0.0/8x", err, sizeof err), -1);
}
END_TEST

START_TEST(origins)
{
    const char *list = "http://good.example, https://also.example";
    ck_assert(access_origin_allowed(list, NULL)); /* not a browser */
    ck_assert(access_origin_allowed(list, "http://good.example"));
    ck_assert(access_origin_allowed(list, "HTTPS://ALSO.example"));
    ck_assert(!access_origin_allowed(list, "http://good.example.evil"));
    ck_assert(!access_origin_allowed(list, "http://good.exampl"));
    ck_assert(!access_origin_allowed(list, ""));
    ck_assert(!access_origin_allowed(list, "null"));
    ck_assert(!access_origin_allowed("", "http://good.example"));
    ck_assert(access_origin_allowed("*", "http://anything.example"));
    ck_assert(access_origin_allowed("", NULL));
}
END_TEST

START_TEST(same_host)
{
    ck_assert(access_same_host("http://pitchey.example", "pitchey.example"));
    ck_assert(access_same_host("https://Pitchey.Example", "pitchey.example:443"));
    ck_assert(access_same_host("http://127.0.0.1:8080", "127.0.0.1"));
    ck_assert(access_same_host("http://[::1]:8080", "[::1]:8081"));
    ck_assert(!access_same_host("http://evil.example", "pitchey.example"));
    ck_assert(!access_same_host("http://pitchey.example.evil", "pitchey.example"));
    ck_assert(!access_same_host("http://pitchey.exampl", "pitchey.example"));
    ck_assert(!access_same_host("null", "pitchey.example"));
    ck_assert(!access_same_host("http://pitchey.example", ""));
    ck_assert(!access_same_host("http://pitchey.example", NULL));
    ck_assert(!access_same_host(NULL, "pitchey.example"));
    ck_assert(!access_same_host("http://", ""));
}
END_TEST

static Suite *access_suite(void)
{
    Suite *s = suite_create("rooms_access");
    TCase *t = tcase_create("access");
    tcase_add_test(t, cidr_lists);
    tcase_add_test(t, cidr_list_check);
    tcase_add_test(t, origins);
    tcase_add_test(t, same_host);
    suite_add_tcase(s, t);
    return s;
}

UNIT_MAIN(access_suite)
