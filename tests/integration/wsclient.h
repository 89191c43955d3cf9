/* wsclient: a small RFC 6455 client over a plain TCP socket, for tests.
 *
 * Raw on purpose: tests need to misbehave (never read, never answer pings,
 * send oversized or malformed frames), which a full client library hides.
 * Calls block with a timeout; client frames are masked as the RFC says. */
#ifndef PITCHEY_TESTS_WSCLIENT_H
#define PITCHEY_TESTS_WSCLIENT_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

struct wsc;

/* url: ws://HOST:PORT/PATH[?QUERY].  headers: NULL-terminated "Name: value"
 * lines, or NULL.  rcvbuf > 0 sets SO_RCVBUF before connecting.  Returns
 * NULL unless the answer is 101; *status gets the HTTP status (0: none). */
struct wsc *wsc_connect(const char *url, const char *const *headers, int rcvbuf, int *status);
void wsc_free(struct wsc *c);
int wsc_fd(const struct wsc *c);
/* false: do not answer pings (to look dead). */
void wsc_set_auto_pong(struct wsc *c, bool on);

/* One frame, FIN set, masked.  Returns 0 or -1. */
int wsc_send_frame(struct wsc *c, int opcode, const void *data, size_t len);
int wsc_send_frame_ex(struct wsc *c, int opcode, bool fin, bool mask, const void *data,
                      size_t len);
int wsc_send_text(struct wsc *c, const char *text);
int wsc_send_raw(struct wsc *c, const void *bytes, size_t len);
int wsc_sendf(struct wsc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Next data message: returns its opcode (1 text, 2 binary), 8 when a close
 * frame came (wsc_close_code() has its code), 0 on timeout, -1 on EOF or
 * error.  *data is malloc'd and NUL-terminated (NULL allowed to skip). */
int wsc_recv(struct wsc *c, int timeout_ms, char **data, size_t *len);
/* Next message as JSON; NULL on timeout, close or EOF. */
struct json_object *wsc_recv_json(struct wsc *c, int timeout_ms);
/* Skips messages until one has "type" = type (NULL when none came in time);
 * skipped ones are counted in *skipped if given. */
struct json_object *wsc_expect(struct wsc *c, const char *type, int timeout_ms, int *skipped);
/* Code of the close frame received (1005 if it had none), 0 if none yet,
 * -1 when the connection ended without one. */
int wsc_close_code(const struct wsc *c);
/* Waits for the server to close; returns wsc_close_code(). Data messages
 * meanwhile are discarded. */
int wsc_wait_close(struct wsc *c, int timeout_ms);
/* Pings received so far. */
int wsc_pings(const struct wsc *c);

/* A plain HTTP/1.1 GET of http://127.0.0.1:port/path from the local
 * address bind_addr (e.g. "127.0.0.2", to look like another host; NULL:
 * any).  Returns the status (0: no answer) and the body (malloc'd) in
 * *body if given. */
int wsc_http_get(int port, const char *path, const char *bind_addr, char **body);
/* The same with extra header lines ("Name: value\r\n" each, or NULL) and
 * the request target sent exactly as given. */
int wsc_http_get_ex(int port, const char *target, const char *bind_addr, const char *headers,
                    char **body);

#endif
