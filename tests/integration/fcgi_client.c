/* fcgi_client: FastCGI 1.0 records over a socket (see fcgi_client.h). */
#include "pitchey-build.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "fcgi_client.h"

enum { BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6, STDERR = 7 };

static void record(struct buf *b, int type, const void *data, size_t len)
{
    unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
                           (unsigned char)len, 0, 0 };
    buf_append(b, h, 8);
    buf_append(b, data, len);
}

static void name_value(struct buf *b, const char *nv)
{
    const char *eq = strchr(nv, '=');
    size_t n = eq ? (size_t)(eq - nv) : strlen(nv);
    const char *v = eq ? eq + 1 : "";
    size_t vl = strlen(v);
    size_t lens[2] = { n, vl };
    for (int i = 0; i < 2; i++) {
        if (lens[i] < 128) {
            buf_append_char(b, (char)lens[i]);
        } else {
            unsigned char l4[4] = { (unsigned char)(0x80 | (lens[i] >> 24)),
                                    (unsigned char)(lens[i] >> 16), (unsigned char)(lens[i] >> 8),
                                    (unsigned char)lens[i] };
            buf_append(b, l4, 4);
        }
    }
    buf_append(b, nv, n);
    buf_append(b, v, vl);
}

static int connect_to(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (address[0] == '/' || colon == NULL) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", address);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

char *fcgi_request(const char *address, const char *const *params, const char *body,
                   size_t body_len, int timeout_ms)
{
    int fd = connect_to(address);
    if (fd < 0)
        return NULL;
    struct buf out = BUF_INIT, pv = BUF_INIT;
    unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 }; /* responder, close after */
    record(&out, BEGIN_REQUEST, begin, 8);
    for (size_t i = 0; params && params[i]; i++)
        name_value(&pv, params[i]);
    for (size_t off = 0; off < pv.len; off += 65535)
        record(&out, PARAMS, pv.data + off, pv.len - off > 65535 ? 65535 : pv.len - off);
    record(&out, PARAMS, "", 0);
    for (size_t off = 0; body && off < body_len; off += 65535)
        record(&out, STDIN, body + off, body_len - off > 65535 ? 65535 : body_len - off);
    record(&out, STDIN, "", 0);
    size_t sent = 0;
    while (sent < out.len) {
        ssize_t w = write(fd, out.data + sent, out.len - sent);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    buf_free(&pv);
    buf_free(&out);
    struct buf in = BUF_INIT, stdout_data = BUF_INIT;
    bool ended = false;
    while (!ended) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        char chunk[8192];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        buf_append(&in, chunk, (size_t)n);
        size_t pos = 0;
        while (in.len - pos >= 8) {
            const unsigned char *h = (const unsigned char *)in.data + pos;
            size_t clen = ((size_t)h[4] << 8) | h[5], plen = h[6];
            if (in.len - pos < 8 + clen + plen)
                break;
            if (h[1] == STDOUT)
                buf_append(&stdout_data, in.data + pos + 8, clen);
            if (h[1] == END_REQUEST)
                ended = true;
            pos += 8 + clen + plen;
        }
        memmove(in.data, in.data + pos, in.len - pos);
        in.len -= pos;
    }
    close(fd);
    buf_free(&in);
    if (!ended) {
        buf_free(&stdout_data);
        return NULL;
    }
    buf_reserve(&stdout_data, 0);
    return buf_steal(&stdout_data, NULL);
}
