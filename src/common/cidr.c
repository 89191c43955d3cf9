/* cidr: address lists (see cidr.h). */
#include "pitchey-build.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"

/* An address as 16 bytes; IPv4 (and IPv4-mapped IPv6) as ::ffff:a.b.c.d,
 * so one comparison serves both families. */
static bool parse_addr(const char *s, unsigned char out[16], bool *v4)
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        *v4 = memcmp(out, mapped, 12) == 0;
        return true;
    }
    return false;
}

/* Parses one entry "addr[/bits]" into a 128-bit prefix. */
static bool parse_entry(const char *s, size_t n, unsigned char net[16], int *bits)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *slash = strchr(tmp, '/');
    long b = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        b = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || b < 0)
            return false;
    }
    bool v4;
    if (!parse_addr(tmp, net, &v4))
        return false;
    int max = v4 ? 32 : 128;
    if (b > max)
        return false;
    *bits = (b < 0 ? max : (int)b) + (v4 ? 96 : 0);
    return true;
}

static bool prefix_match(const unsigned char a[16], const unsigned char net[16], int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* Walks the entries; calls back with each one.  Returns false as soon as
 * the callback does. */
static bool each_entry(const char *list, bool (*fn)(const char *s, size_t n, void *arg),
                       void *arg)
{
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, " ,\t");
        size_t n = strcspn(p, " ,\t");
        if (n == 0)
            break;
        if (!fn(p, n, arg))
            return false;
        p += n;
    }
    return true;
}

struct match_arg {
    unsigned char addr[16];
    bool found;
};

static bool match_one(const char *s, size_t n, void *arg)
{
    struct match_arg *m = arg;
    unsigned char net[16];
    int bits;
    if (parse_entry(s, n, net, &bits) && prefix_match(m->addr, net, bits)) {
        m->found = true;
        return false;
    }
    return true;
}

bool cidr_list_contains(const char *list, const char *addr)
{
    struct match_arg m = { .found = false };
    bool v4;
    if (addr == NULL || !parse_addr(addr, m.addr, &v4))
        return false;
    each_entry(list, match_one, &m);
    return m.found;
}

static bool check_one(const char *s, size_t n, void *arg)
{
    (void)arg;
    unsigned char net[16];
    int bits;
    return parse_entry(s, n, net, &bits);
}

int cidr_list_check(const char *list)
{
    return each_entry(list, check_one, NULL) ? 0 : -1;
}
