/* access: origin and CIDR rules; see access.h. */
#include "pitchey-build.h"

#include "rooms/access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool access_origin_allowed(const char *list, const char *origin)
{
    if (!origin)
        return true;
    if (!list)
        return false;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        if ((n == 1 && *p == '*') || (n == olen && strncasecmp(p, origin, n) == 0))
            return true;
        p += n;
    }
    return false;
}

/* The host part of "host[:port]" or "[v6]:port": start and length. */
static void host_part(const char *s, const char **h, size_t *n)
{
    if (*s == '[') {
        const char *end = strchr(s, ']');
        *h = s;
        *n = end ? (size_t)(end - s + 1) : strlen(s);
        return;
    }
    *h = s;
    *n = strcspn(s, ":/");
}

bool access_same_host(const char *origin, const char *host)
{
    if (!origin || !host || !*host)
        return false;
    const char *sep = strstr(origin, "://");
    if (!sep)
        return false;
    const char *oh, *hh;
    size_t on, hn;
    host_part(sep + 3, &oh, &on);
    host_part(host, &hh, &hn);
    return on > 0 && on == hn && strncasecmp(oh, hh, on) == 0;
}

struct net {
    int family;            /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

/* Parses one entry ("a.b.c.d", "a.b.c.d/n", "v6", "v6/n"). */
static bool parse_net(const char *s, size_t n, struct net *out)
{
    char text[64];
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end || b < 0 || b > 128)
            return false;
        bits = (int)b;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        if (bits > 32)
            return false;
        out->bits = bits < 0 ? 32 : bits;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = bits < 0 ? 128 : bits;
        return true;
    }
    return false;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool access_addr_allowed(const char *list, const struct sockaddr *peer)
{
    unsigned char addr[16];
    int family;
    if (!list || !peer)
        return false;
    if (peer->sa_family == AF_INET) {
        family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    } else if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            family = AF_INET6;
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return false;
    }
    const char *p = list;
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        struct net net;
        if (parse_net(p, n, &net) && net.family == family &&
            prefix_match(net.addr, addr, net.bits))
            return true;
        p += n;
    }
    return false;
}

int access_check_list(const char *list, char *err, size_t errlen)
{
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        struct net net;
        if (!parse_net(p, n, &net)) {
            snprintf(err, errlen, "not an address or network: %.*s", (int)(n > 64 ? 64 : n), p);
            return -1;
        }
        p += n;
    }
    return 0;
}
