/* access: who may use what on the daemon's port.
 *
 * Two rules from the configuration, both checked at the edge before any
 * work is done: the WebSocket upgrade is accepted only from pages of this
 * site or of the origins in [http] cors_origins (the API's CORS rule; a
 * request without Origin is a non-browser client and is accepted), and
 * GET /metrics only from the peer addresses of [metrics] allow (a CIDR
 * list).  Pure functions. */
#ifndef PITCHEY_ROOMS_ACCESS_H
#define PITCHEY_ROOMS_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* list: origins separated by spaces or commas, "*" for any.  origin NULL:
 * no Origin header (allowed).  An empty list allows no browser origin. */
bool access_origin_allowed(const char *list, const char *origin);

/* True when origin ("scheme://host[:port]") names the host the client
 * addressed (host: "host[:port]" or "[v6]:port", as in the Host header):
 * a page of this site.  Host names compare case-insensitively; ports are
 * not compared, since a front server may pass Host without its port
 * (nginx's $host). */
bool access_same_host(const char *origin, const char *host);

/* list: addresses or networks ("127.0.0.0/8, ::1, 10.1.2.3"), separated by
 * spaces or commas.  IPv4-mapped IPv6 peers are matched as IPv4. */
bool access_addr_allowed(const char *list, const struct sockaddr *peer);

/* Checks every entry of a CIDR list; -1 with the bad entry in err. */
int access_check_list(const char *list, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
