/* wsclient: raw RFC 6455 test client; see wsclient.h. */
#include "pitchey-build.h"

#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct wsc {
    int fd;
    unsigned char *buf; /* received, not yet parsed */
    size_t len, cap;
    int close_code;
    bool auto_pong;
    int pings;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more into the buffer within the deadline: 1 read, 0 timeout, -1 EOF. */
static int fill(struct wsc *c, double deadline)
{
    int wait = (int)(deadline - now_ms());
    if (wait < 0)
        wait = 0;
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    int r = poll(&pfd, 1, wait);
    if (r == 0)
        return 0;
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap * 2 + 65536;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 1;
}

static void consume(struct wsc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

struct wsc *wsc_connect(const char *url, const char *const *headers, int rcvbuf, int *status)
{
    char host[256], path[4096];
    int port = 80;
    if (status)
        *status = 0;
    if (strncmp(url, "ws://", 5) != 0)
        return NULL;
    const char *h = url + 5, *slash = strchr(h, '/');
    const char *colon = memchr(h, ':', slash ? (size_t)(slash - h) : strlen(h));
    size_t hl = colon ? (size_t)(colon - h) : (slash ? (size_t)(slash - h) : strlen(h));
    if (hl >= sizeof host)
        return NULL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (colon)
        port = atoi(colon + 1);
    snprintf(path, sizeof path, "%s", slash ? slash : "/");

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return NULL;
    }
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n",
                     path, host, port);
    for (int i = 0; headers && headers[i]; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "%s\r\n", headers[i]);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    struct wsc *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->auto_pong = true;
    if (write_all(fd, req, (size_t)n) != 0)
        goto fail;
    double deadline = now_ms() + 10000;
    char *end = NULL;
    while (!end) {
        if (fill(c, deadline) <= 0)
            goto fail;
        c->buf[c->len < c->cap ? c->len : c->cap - 1] = '\0';
        end = c->len >= 4 ? strstr((char *)c->buf, "\r\n\r\n") : NULL;
    }
    int code = 0;
    if (sscanf((char *)c->buf, "HTTP/1.%*d %d", &code) != 1)
        goto fail;
    if (status)
        *status = code;
    if (code != 101)
        goto fail;
    consume(c, (size_t)(end + 4 - (char *)c->buf));
    return c;
fail:
    wsc_free(c);
    return NULL;
}

void wsc_free(struct wsc *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int wsc_fd(const struct wsc *c)
{
    return c->fd;
}

void wsc_set_auto_pong(struct wsc *c, bool on)
{
    c->auto_pong = on;
}

int wsc_send_frame_ex(struct wsc *c, int opcode, bool fin, bool mask, const void *data,
                      size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    unsigned char m = mask ? 0x80 : 0;
    if (len < 126) {
        hdr[h++] = m | (unsigned char)len;
    } else if (len < 65536) {
        hdr[h++] = m | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char key[4] = { 0x12, 0x34, 0x56, 0x78 };
    if (mask) {
        memcpy(hdr + h, key, 4);
        h += 4;
    }
    unsigned char *out = malloc(h + len + 1);
    memcpy(out, hdr, h);
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        out[h + i] = mask ? d[i] ^ key[i % 4] : d[i];
    int rc = write_all(c->fd, out, h + len);
    free(out);
    return rc;
}

int wsc_send_frame(struct wsc *c, int opcode, const void *data, size_t len)
{
    return wsc_send_frame_ex(c, opcode, true, true, data, len);
}

int wsc_send_text(struct wsc *c, const char *text)
{
    return wsc_send_frame(c, 1, text, strlen(text));
}

int wsc_send_raw(struct wsc *c, const void *bytes, size_t len)
{
    return write_all(c->fd, bytes, len);
}

int wsc_sendf(struct wsc *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = wsc_send_text(c, s);
    free(s);
    return rc;
}

int wsc_recv(struct wsc *c, int timeout_ms, char **data, size_t *len)
{
    double deadline = now_ms() + timeout_ms;
    unsigned char *msg = NULL;
    size_t mlen = 0;
    int mop = 0;
    if (data)
        *data = NULL;
    for (;;) {
        /* Parse a whole frame if the buffer holds one. */
        if (c->len >= 2) {
            unsigned char b0 = c->buf[0], b1 = c->buf[1];
            size_t h = 2;
            uint64_t plen = b1 & 0x7f;
            if (plen == 126) {
                if (c->len < 4)
                    goto more;
                plen = ((uint64_t)c->buf[2] << 8) | c->buf[3];
                h = 4;
            } else if (plen == 127) {
                if (c->len < 10)
                    goto more;
                plen = 0;
                for (int i = 0; i < 8; i++)
                    plen = (plen << 8) | c->buf[2 + i];
                h = 10;
            }
            if (b1 & 0x80)
                h += 4; /* servers do not mask; skip a key anyway */
            if (c->len < h + plen)
                goto more;
            int op = b0 & 0x0f;
            bool fin = b0 & 0x80;
            const unsigned char *p = c->buf + h;
            if (op == 9) { /* ping */
                c->pings++;
                if (c->auto_pong)
                    wsc_send_frame(c, 10, p, (size_t)plen);
                consume(c, h + (size_t)plen);
                continue;
            }
            if (op == 10) {
                consume(c, h + (size_t)plen);
                continue;
            }
            if (op == 8) {
                c->close_code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
                consume(c, h + (size_t)plen);
                free(msg);
                return 8;
            }
            if (op != 0)
                mop = op;
            msg = realloc(msg, mlen + (size_t)plen + 1);
            memcpy(msg + mlen, p, (size_t)plen);
            mlen += (size_t)plen;
            msg[mlen] = '\0';
            consume(c, h + (size_t)plen);
            if (fin) {
                if (data)
                    *data = (char *)msg;
                else
                    free(msg);
                if (len)
                    *len = mlen;
                return mop;
            }
            continue;
        }
    more: {
        int r = fill(c, deadline);
        if (r == 0) {
            /* A partial message stays lost on timeout: tests fail then anyway. */
            free(msg);
            return 0;
        }
        if (r < 0) {
            free(msg);
            if (!c->close_code)
                c->close_code = -1;
            return -1;
        }
    }
    }
}

struct json_object *wsc_recv_json(struct wsc *c, int timeout_ms)
{
    char *data;
    size_t len;
    int op = wsc_recv(c, timeout_ms, &data, &len);
    if (op != 1 && op != 2) {
        free(data);
        return NULL;
    }
    struct json_object *o = json_tokener_parse(data);
    if (!o)
        fprintf(stderr, "wsclient: not JSON: %.200s\n", data);
    free(data);
    return o;
}

struct json_object *wsc_expect(struct wsc *c, const char *type, int timeout_ms, int *skipped)
{
    double deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return NULL;
        struct json_object *o = wsc_recv_json(c, left), *t;
        if (!o)
            return NULL;
        if (json_object_object_get_ex(o, "type", &t) &&
            strcmp(json_object_get_string(t), type) == 0)
            return o;
        if (skipped)
            (*skipped)++;
        json_object_put(o);
    }
}

int wsc_close_code(const struct wsc *c)
{
    return c->close_code;
}

int wsc_wait_close(struct wsc *c, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    while (c->close_code == 0) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            break;
        char *d;
        int op = wsc_recv(c, left, &d, NULL);
        free(d);
        if (op == 0)
            break;
    }
    return c->close_code;
}

int wsc_pings(const struct wsc *c)
{
    return c->pings;
}

int wsc_http_get(int port, const char *path, const char *bind_addr, char **body)
{
    return wsc_http_get_ex(port, path, bind_addr, NULL, body);
}

int wsc_http_get_ex(int port, const char *path, const char *bind_addr, const char *headers,
                    char **body)
{
    if (body)
        *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa;
    if (bind_addr) {
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            return 0;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n",
                     path, port, headers ? headers : "");
    struct wsc c = { .fd = fd };
    int status = 0;
    if (write_all(fd, req, (size_t)n) == 0) {
        double deadline = now_ms() + 10000;
        while (fill(&c, deadline) > 0)
            ;
        if (c.buf && c.len < c.cap) {
            c.buf[c.len] = '\0';
            if (sscanf((char *)c.buf, "HTTP/1.%*d %d", &status) != 1)
                status = 0;
            char *b = strstr((char *)c.buf, "\r\n\r\n");
            if (body && b)
                *body = strdup(b + 4);
        }
    }
    free(c.buf);
    close(fd);
    return status;
}
