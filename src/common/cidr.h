/* cidr: "is this address in that list", for [metrics] allow and
 * [metrics] trusted_proxies.
 *
 * A list is CIDR blocks or plain addresses, IPv4 or IPv6, separated by
 * commas or spaces ("127.0.0.0/8, ::1").  An IPv4-mapped IPv6 address
 * (::ffff:127.0.0.1, as dual-stack sockets report) matches IPv4 blocks. */
#ifndef PITCHEY_COMMON_CIDR_H
#define PITCHEY_COMMON_CIDR_H

#include <stdbool.h>

/* False for an unparsable address; malformed list entries never match. */
bool cidr_list_contains(const char *list, const char *addr);
/* 0 when every entry of list parses, else -1 (config checking). */
int cidr_list_check(const char *list);

#endif
