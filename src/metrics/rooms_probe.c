/* rooms_probe: a bounded HTTP/1.0 GET of the rooms daemon's /metrics (see
 * rooms_probe.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "metrics/rooms_probe.h"

static bool find_value(const char *text, const char *name, double *out)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            char *end;
            double v = strtod(p + n + 1, &end);
            if (end != p + n + 1) {
                *out = v;
                return true;
            }
        }
    }
    return false;
}

int metrics_rooms_parse(const char *text, struct metrics_rooms *out)
{
    memset(out, 0, sizeof *out);
    bool any = false;
    any |= find_value(text, "pitchey_rooms_connections", &out->connections);
    any |= find_value(text, "pitchey_rooms_rooms", &out->rooms);
    any |= find_value(text, "pitchey_rooms_members", &out->members);
    any |= find_value(text, "pitchey_rooms_messages_in_total", &out->messages_in);
    any |= find_value(text, "pitchey_rooms_messages_out_total", &out->messages_out);
    any |= find_value(text, "pitchey_rooms_events_total", &out->events);
    any |= find_value(text, "pitchey_rooms_backplane_lag_seconds", &out->lag_seconds);
    out->up = any;
    return any ? 0 : -1;
}

/* Waits for fd to be ready for events until deadline; false on timeout. */
static bool wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - clock_mono_us();
        if (left <= 0)
            return false;
        struct pollfd p = { fd, events, 0 };
        int r = poll(&p, 1, (int)((left + 999) / 1000));
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

static int connect_listen(const char *listen, int64_t deadline_us)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host || strlen(colon + 1) >= sizeof port)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    char *bare = host;
    if (bare[0] == '[') { /* [::1]:8081 */
        bare++;
        bare[strcspn(bare, "]")] = '\0';
    }
    const char *h = bare;
    if (*h == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "*") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(h, port, &hints, &ai) != 0 || ai == NULL)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline_us) ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

int metrics_rooms_fetch(const char *listen, int timeout_ms, struct metrics_rooms *out)
{
    memset(out, 0, sizeof *out);
    if (listen == NULL || *listen == '\0')
        return -1;
    int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
    int fd = connect_listen(listen, deadline);
    if (fd < 0)
        return -1;
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    size_t sent = 0;
    while (sent < sizeof req - 1) {
        ssize_t n = send(fd, req + sent, sizeof req - 1 - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || !wait_fd(fd, POLLOUT, deadline)) {
            close(fd);
            return -1;
        }
    }
    /* The daemon's figures fit in a few KiB; read until the announced
     * length, EOF, or the deadline. */
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return -1;
    }
    long want = -1;
    char *body = NULL;
    for (;;) {
        if (len + 1 >= cap)
            break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            if (body == NULL && (body = strstr(buf, "\r\n\r\n")) != NULL) {
                body += 4;
                const char *cl = strcasestr(buf, "\ncontent-length:");
                if (cl && cl < body)
                    want = strtol(cl + 16, NULL, 10);
            }
            if (body && want >= 0 && (long)(len - (size_t)(body - buf)) >= want)
                break;
            continue;
        }
        if (n == 0)
            break;
        if ((errno != EAGAIN && errno != EINTR) || !wait_fd(fd, POLLIN, deadline))
            break;
    }
    close(fd);
    buf[len] = '\0';
    int rc = -1;
    if (strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0 && body)
        rc = metrics_rooms_parse(body, out);
    free(buf);
    return rc;
}
