/* fcgi_client: a minimal FastCGI client (the responder role, one request
 * per connection), so tests can talk to pitchey-api without a web server. */
#ifndef PITCHEY_TESTS_FCGI_CLIENT_H
#define PITCHEY_TESTS_FCGI_CLIENT_H

#include <stddef.h>

/* address: a unix socket path, or "host:port".  params: NULL-terminated
 * "NAME=value" strings.  Returns the CGI output (headers and body,
 * malloc'd) or NULL when the exchange failed. */
char *fcgi_request(const char *address, const char *const *params, const char *body,
                   size_t body_len, int timeout_ms);

#endif
