/* ws-load: a WebSocket load client for pitchey-rooms (bench only).
 *
 * One libwebsockets client context, one event loop, thousands of
 * connections.  Three scenarios (API.md, "Rooms"):
 *
 *   fanout  N members (anonymous) and S senders (tokens) in one room; each
 *           sender posts R messages a second for D seconds.  Every copy's
 *           latency is measured from the send timestamp carried in the
 *           message; missing, duplicate and out-of-order copies are counted
 *           per member by seq; p50/p99 per 5-second window show a backlog.
 *   idle    M connections that only answer the server's pings for D
 *           seconds: how many are still open, and the daemon's RSS growth
 *           per connection.
 *   storm   M clients connect and join with `since` at once: time until
 *           every one has its `joined` and a complete replay.
 *
 * With --daemon-pid it reads the daemon's CPU time (/proc/PID/stat) over
 * the measured phase and reports CPU per delivered copy for both sides:
 * this client must cost less than the daemon, or it measures itself.
 * Latencies use CLOCK_MONOTONIC: client and daemon share the machine. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum scenario { FANOUT, IDLE, STORM };
enum state { S_NEW, S_CONNECTING, S_OPEN, S_JOINING, S_JOINED, S_CLOSED, S_FAILED };

struct client {
    struct lws *wsi;
    int index;
    enum state state;
    bool sender;
    const char *token;
    /* outgoing: one frame at a time (joins and sends are small) */
    char out[LWS_PRE + 256];
    size_t out_len;
    bool out_pending;
    /* incoming message being reassembled */
    char *rx;
    size_t rx_len, rx_cap;
    /* ordering */
    int64_t last_seq;
    int64_t joined_seq;
    int64_t received, dups, out_of_order, gaps;
    int64_t replay_left; /* storm: messages still due from the replay */
    bool replay_complete, recovered;
    int64_t joined_us;
    int close_code;
    int sent;
    int refused; /* sends answered with an error (rate_limited ...) */
};

static struct {
    enum scenario scenario;
    const char *host;
    int port;
    const char *path;
    const char *room;
    int members, senders;
    double rate;
    int duration;
    int ramp; /* connections started per 10 ms tick */
    int64_t since;
    const char **tokens;
    int ntokens;
    int daemon_pid, daemon_pid2;
    int port2; /* a second node: every other client connects there */
    const char *label;
} opt = { FANOUT, "127.0.0.1", 8081, "/ws", "lobby", 100, 1, 10, 10, 200, -1, NULL, 0, 0, 0,
          0, "" };

static struct lws_context *ctx;
static struct client *clients;
static int nclients;
static volatile sig_atomic_t interrupted;
static lws_sorted_usec_list_t ramp_sul, send_sul;
static int started, open_now, joined_now, failed_conns, closed_conns, replayed_now;
static int64_t received_total; /* counters, so loop conditions cost O(1) */
static bool sending;
static int64_t send_interval_us, next_send_us, sends_total;

/* latency histogram: 0.1 ms buckets up to 20 s */
#define HBUCKETS 200000
static uint32_t *hist;
static uint64_t hcount, hmax_us;
#define WINDOWS 64
static uint32_t *whist[WINDOWS];
static uint64_t wcount[WINDOWS];
static int64_t phase_start_us;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double cpu_of_one(int pid);
/* utime + stime of the daemon(s) in seconds; -1 when unreadable. */
static double cpu_of(int pid)
{
    double a = cpu_of_one(pid);
    if (a >= 0 && opt.daemon_pid2 > 0)
        a += cpu_of_one(opt.daemon_pid2);
    return a;
}

static double cpu_of_one(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kb(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void observe(int64_t lat_us)
{
    if (lat_us < 0)
        lat_us = 0;
    size_t b = (size_t)(lat_us / 100);
    if (b >= HBUCKETS)
        b = HBUCKETS - 1;
    hist[b]++;
    hcount++;
    if ((uint64_t)lat_us > hmax_us)
        hmax_us = (uint64_t)lat_us;
    int64_t w = (now_us() - phase_start_us) / 5000000;
    if (w >= 0 && w < WINDOWS) {
        if (!whist[w])
            whist[w] = calloc(HBUCKETS, sizeof(uint32_t));
        whist[w][b]++;
        wcount[w]++;
    }
}

static double percentile(const uint32_t *h, uint64_t count, double q)
{
    if (!count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)count), seen = 0;
    if (want >= count)
        want = count - 1;
    for (size_t i = 0; i < HBUCKETS; i++) {
        seen += h[i];
        if (seen > want)
            return (double)(i + 1) / 10.0; /* upper edge, ms */
    }
    return 0;
}

static void queue_text(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void queue_text(struct client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out + LWS_PRE, sizeof c->out - LWS_PRE, fmt, ap);
    va_end(ap);
    c->out_len = (size_t)n;
    c->out_pending = true;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static void send_join(struct client *c)
{
    c->state = S_JOINING;
    if (opt.since >= 0)
        queue_text(c, "{\"type\":\"join\",\"room\":\"%s\",\"since\":%" PRId64 "}", opt.room,
                   opt.since);
    else
        queue_text(c, "{\"type\":\"join\",\"room\":\"%s\"}", opt.room);
}

static int64_t num_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void on_text(struct client *c, const char *s)
{
    if (strncmp(s, "{\"type\":\"message\"", 17) == 0) {
        int64_t seq = num_after(s, ",\"seq\":");
        if (seq <= c->last_seq) {
            c->dups++;
        } else {
            if (c->last_seq >= 0 && seq != c->last_seq + 1)
                c->gaps += seq - c->last_seq - 1;
            c->last_seq = seq;
            c->received++;
            received_total++;
            if (opt.scenario == FANOUT && sending) {
                /* data comes back as jsonb text: {"k": 1, "n": 2, "t": 3} */
                int64_t t = num_after(s, "\"t\": ");
                if (t > 0)
                    observe(now_us() - t);
            }
        }
        if (c->replay_left > 0 && seq <= c->joined_seq && --c->replay_left == 0) {
            c->replay_complete = true;
            replayed_now++;
        }
    } else if (strncmp(s, "{\"type\":\"joined\"", 16) == 0) {
        c->joined_seq = num_after(s, ",\"seq\":");
        c->last_seq = c->joined_seq;
        c->recovered = strstr(s, "\"recovered\":true") != NULL;
        if (opt.since >= 0 && c->joined_seq > opt.since) {
            c->replay_left = c->joined_seq - opt.since;
            c->last_seq = opt.since; /* the replay fills it in */
        } else {
            c->replay_complete = true;
            replayed_now++;
        }
        c->joined_us = now_us();
        c->state = S_JOINED;
        joined_now++;
    } else if (strncmp(s, "{\"type\":\"error\"", 15) == 0) {
        if (c->sender)
            c->refused++; /* a send that was never posted */
        if (c->refused < 3)
            fprintf(stderr, "ws-load: client %d: %s\n", c->index, s);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct client *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (c && c->token) {
            unsigned char **p = (unsigned char **)in, *end = (*p) + len;
            char v[128];
            int n = snprintf(v, sizeof v, "Bearer %s", c->token);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)v, n, p, end))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            return -1;
        c->state = S_OPEN;
        open_now++;
        if (opt.scenario != STORM)
            send_join(c);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            if (failed_conns < 5)
                fprintf(stderr, "ws-load: client %d: connection error: %s\n", c->index,
                        in ? (const char *)in : "?");
            c->state = S_FAILED;
            c->wsi = NULL;
            failed_conns++;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c)
            return 0;
        bool whole = lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) &&
                     !lws_remaining_packet_payload(wsi);
        if (whole && c->rx_len == 0) {
            /* lws leaves room after the payload? not promised: copy small */
            char small[1024];
            if (len < sizeof small) {
                memcpy(small, in, len);
                small[len] = '\0';
                on_text(c, small);
                return 0;
            }
        }
        if (c->rx_len + len + 1 > c->rx_cap) {
            c->rx_cap = (c->rx_len + len + 1) * 2;
            c->rx = realloc(c->rx, c->rx_cap);
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            c->rx[c->rx_len] = '\0';
            on_text(c, c->rx);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c || !c->out_pending)
            return 0;
        c->out_pending = false;
        if (lws_write(wsi, (unsigned char *)c->out + LWS_PRE, c->out_len, LWS_WRITE_TEXT) <
            (int)c->out_len)
            return -1;
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2)
            c->close_code = ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1];
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            if (c->state == S_JOINED || c->state == S_OPEN || c->state == S_JOINING)
                open_now--;
            c->state = S_CLOSED;
            c->wsi = NULL;
            closed_conns++;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { "ws-load", callback, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void start_one(struct client *c)
{
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = ctx;
    i.address = opt.host;
    i.port = opt.port2 && c->index % 2 ? opt.port2 : opt.port;
    i.path = opt.path;
    i.host = opt.host;
    i.local_protocol_name = protocols[0].name;
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;
    c->state = S_CONNECTING;
    if (!lws_client_connect_via_info(&i)) {
        c->state = S_FAILED;
        failed_conns++;
    }
    started++;
}

static void on_ramp(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    /* Few connects in flight at once: a listen backlog is finite. */
    int inflight = started - open_now - failed_conns - closed_conns;
    for (int k = 0; k < opt.ramp && started < nclients && inflight < 256; k++, inflight++)
        start_one(&clients[started]);
    if (started < nclients)
        lws_sul_schedule(ctx, 0, &ramp_sul, on_ramp, 10 * LWS_US_PER_MS);
}

static void on_send(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (!sending)
        return;
    int64_t now = now_us();
    /* Senders take turns; the schedule is absolute, so a late tick sends
     * what was due instead of drifting, but a loop that was starved for
     * more than a second drops what it missed rather than burst it (the
     * daemon's per-connection rate limit would refuse the burst). */
    if (now - next_send_us > 1000000)
        next_send_us = now;
    while (next_send_us <= now) {
        struct client *c = &clients[nclients - opt.senders + (int)(sends_total % opt.senders)];
        if (c->state == S_JOINED && !c->out_pending) {
            queue_text(c, "{\"type\":\"send\",\"room\":\"%s\",\"data\":{\"t\":%" PRId64
                          ",\"k\":%d,\"n\":%d}}",
                       opt.room, now_us(), c->index, c->sent);
            c->sent++;
        }
        sends_total++;
        next_send_us += send_interval_us;
    }
    lws_sul_schedule(ctx, 0, &send_sul, on_send, (lws_usec_t)(next_send_us - now));
}

/* Runs the loop until cond() or the deadline; returns whether cond held. */
static bool run_until(bool (*cond)(void), double seconds)
{
    int64_t end = now_us() + (int64_t)(seconds * 1e6);
    while (!interrupted && now_us() < end) {
        if (cond && cond())
            return true;
        lws_service(ctx, 0);
    }
    return cond ? cond() : true;
}

static bool all_open(void)
{
    return open_now + failed_conns + closed_conns >= nclients && started >= nclients;
}

static bool all_joined(void)
{
    return joined_now + failed_conns + closed_conns >= nclients;
}

static bool all_replayed(void)
{
    return replayed_now + failed_conns + closed_conns >= nclients;
}

static int64_t expected_copies;
static bool all_delivered(void)
{
    return received_total >= expected_copies;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ws-load --scenario fanout|idle|storm [--host H] [--port P] [--path /ws]\n"
            "               [--room R] [--members N] [--senders S --token T ...] [--rate R]\n"
            "               [--duration D] [--since SEQ] [--ramp N] [--daemon-pid PID]\n"
            "               [--port2 P --daemon-pid2 PID] [--label TEXT]\n");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "scenario", required_argument, NULL, 'S' }, { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },     { "path", required_argument, NULL, 'P' },
        { "room", required_argument, NULL, 'r' },     { "members", required_argument, NULL, 'm' },
        { "senders", required_argument, NULL, 's' },  { "rate", required_argument, NULL, 'R' },
        { "duration", required_argument, NULL, 'd' }, { "since", required_argument, NULL, 'i' },
        { "ramp", required_argument, NULL, 'a' },     { "token", required_argument, NULL, 't' },
        { "daemon-pid", required_argument, NULL, 'D' },
        { "label", required_argument, NULL, 'l' },    { "port2", required_argument, NULL, 'q' },
        { "daemon-pid2", required_argument, NULL, 'E' }, { NULL, 0, NULL, 0 }
    };
    int ch;
    opt.tokens = calloc((size_t)argc, sizeof(char *));
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'S':
            opt.scenario = strcmp(optarg, "idle") == 0    ? IDLE
                           : strcmp(optarg, "storm") == 0 ? STORM
                                                          : FANOUT;
            break;
        case 'H': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'P': opt.path = optarg; break;
        case 'r': opt.room = optarg; break;
        case 'm': opt.members = atoi(optarg); break;
        case 's': opt.senders = atoi(optarg); break;
        case 'R': opt.rate = atof(optarg); break;
        case 'd': opt.duration = atoi(optarg); break;
        case 'i': opt.since = strtoll(optarg, NULL, 10); break;
        case 'a': opt.ramp = atoi(optarg); break;
        case 't': opt.tokens[opt.ntokens++] = optarg; break;
        case 'D': opt.daemon_pid = atoi(optarg); break;
        case 'l': opt.label = optarg; break;
        case 'q': opt.port2 = atoi(optarg); break;
        case 'E': opt.daemon_pid2 = atoi(optarg); break;
        default: usage(); return 2;
        }
    }
    if (opt.scenario != FANOUT)
        opt.senders = 0;
    if (opt.scenario == FANOUT && (opt.senders < 1 || opt.ntokens < opt.senders)) {
        fprintf(stderr, "ws-load: fanout needs --senders S and S --token values\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    hist = calloc(HBUCKETS, sizeof *hist);

    nclients = opt.members + opt.senders;
    clients = calloc((size_t)nclients, sizeof *clients);
    for (int i = 0; i < nclients; i++) {
        clients[i].index = i;
        clients[i].last_seq = -1;
        if (i >= opt.members) {
            clients[i].sender = true;
            clients[i].token = opt.tokens[i - opt.members];
        }
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.timeout_secs = 30;
    info.connect_timeout_secs = 30;
    ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "ws-load: no lws context\n");
        return 1;
    }
    long rss0 = rss_kb(opt.daemon_pid);
    double t_start = (double)now_us() / 1e6;
    on_ramp(&ramp_sul);
    int rc = 0;
    const char *sc = opt.scenario == FANOUT ? "fanout" : opt.scenario == IDLE ? "idle" : "storm";

    if (opt.scenario == STORM) {
        /* Everyone connected first, then every join sent in one go. */
        run_until(all_open, 120);
        double t_conn = (double)now_us() / 1e6;
        double d0 = cpu_of(opt.daemon_pid), s0 = cpu_self_s();
        for (int i = 0; i < nclients; i++)
            if (clients[i].state == S_OPEN)
                send_join(&clients[i]);
        int64_t j0 = now_us();
        bool ok = run_until(all_replayed, 60);
        double took = (double)(now_us() - j0) / 1e6;
        int joined = 0, complete = 0, recovered = 0;
        for (int i = 0; i < nclients; i++) {
            joined += clients[i].state == S_JOINED;
            complete += clients[i].state == S_JOINED && clients[i].replay_complete &&
                        clients[i].gaps == 0 && clients[i].dups == 0;
            recovered += clients[i].recovered;
        }
        double dcpu = cpu_of(opt.daemon_pid) - d0, scpu = cpu_self_s() - s0;
        printf("scenario=storm label=\"%s\" clients=%d connected=%d connect_s=%.2f "
               "joined=%d replay_complete=%d recovered=%d joins_s=%.2f all=%s "
               "daemon_cpu_s=%.2f client_cpu_s=%.2f failed=%d\n",
               opt.label, nclients, open_now, t_conn - t_start, joined, complete, recovered,
               took, ok ? "yes" : "no", dcpu, scpu, failed_conns);
        rc = ok && complete == nclients ? 0 : 1;
    } else if (opt.scenario == IDLE) {
        run_until(all_open, 180);
        run_until(all_joined, 60);
        long rss1 = rss_kb(opt.daemon_pid);
        double d0 = cpu_of(opt.daemon_pid);
        int held0 = open_now;
        run_until(NULL, opt.duration);
        int still = 0;
        for (int i = 0; i < nclients; i++)
            still += clients[i].state == S_JOINED;
        int closes[5] = { 0 };
        for (int i = 0; i < nclients; i++)
            if (clients[i].state == S_CLOSED) {
                int cc = clients[i].close_code;
                closes[cc == 4408 ? 0 : cc == 1001 ? 1 : cc == 0 ? 2 : 3]++;
            }
        printf("scenario=idle label=\"%s\" connections=%d opened=%d held_s=%d still_open=%d "
               "closed_4408=%d closed_1001=%d closed_nocode=%d closed_other=%d "
               "daemon_rss_kb_before=%ld after_connect=%ld per_conn_kib=%.2f "
               "daemon_cpu_s=%.2f failed=%d\n",
               opt.label, nclients, held0, opt.duration, still, closes[0], closes[1],
               closes[2], closes[3], rss0, rss1,
               rss0 > 0 && held0 > 0 ? (double)(rss1 - rss0) / held0 : -1.0,
               cpu_of(opt.daemon_pid) - d0, failed_conns);
        rc = still == nclients ? 0 : 1;
    } else {
        run_until(all_open, 180);
        run_until(all_joined, 60);
        int joined = 0;
        for (int i = 0; i < nclients; i++)
            joined += clients[i].state == S_JOINED;
        run_until(NULL, 1); /* settle */
        for (int i = 0; i < nclients; i++) {
            clients[i].received = 0;
            clients[i].dups = 0;
            clients[i].gaps = 0;
        }
        received_total = 0;
        send_interval_us = (int64_t)(1e6 / (opt.rate * opt.senders));
        double d0 = cpu_of(opt.daemon_pid), s0 = cpu_self_s();
        phase_start_us = now_us();
        next_send_us = phase_start_us;
        sending = true;
        on_send(&send_sul);
        run_until(NULL, opt.duration);
        sending = false; /* stop sending; keep measuring what is in flight */
        lws_sul_cancel(&send_sul);
        int64_t posted = 0, refused = 0;
        for (int i = opt.members; i < nclients; i++) {
            posted += clients[i].sent;
            refused += clients[i].refused;
        }
        posted -= refused;
        expected_copies = posted * joined;
        sending = true; /* latencies of the tail still count */
        run_until(all_delivered, 30); /* copies still due after this are "missing" */
        sending = false;
        double dcpu = cpu_of(opt.daemon_pid) - d0, scpu = cpu_self_s() - s0;
        /* Refusals that came during the drain. */
        posted += refused;
        refused = 0;
        for (int i = opt.members; i < nclients; i++)
            refused += clients[i].refused;
        posted -= refused;
        expected_copies = posted * joined;
        int64_t got = 0, dups = 0, gaps = 0;
        for (int i = 0; i < nclients; i++) {
            got += clients[i].received;
            dups += clients[i].dups;
            gaps += clients[i].gaps;
        }
        printf("scenario=fanout label=\"%s\" members=%d senders=%d rate=%.1f duration_s=%d "
               "joined=%d posted=%" PRId64 " refused=%" PRId64 " copies=%" PRId64
               " missing=%" PRId64
               " duplicates=%" PRId64 " out_of_order=%" PRId64
               " p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
               "daemon_cpu_s=%.2f client_cpu_s=%.2f daemon_us_per_copy=%.2f "
               "client_us_per_copy=%.2f failed=%d\n",
               opt.label, opt.members, opt.senders, opt.rate, opt.duration, joined, posted,
               refused, got,
               expected_copies - got > 0 ? expected_copies - got : 0, dups, gaps,
               percentile(hist, hcount, 0.5), percentile(hist, hcount, 0.99),
               (double)hmax_us / 1000.0, dcpu, scpu, got ? dcpu * 1e6 / (double)got : 0,
               got ? scpu * 1e6 / (double)got : 0, failed_conns);
        int last = -1;
        for (int w = 0; w < WINDOWS; w++)
            if (wcount[w])
                last = w;
        printf("windows(5s):");
        for (int w = 0; w <= last; w++)
            printf(" [%d-%ds p50=%.1f p99=%.1f]", w * 5, w * 5 + 5,
                   percentile(whist[w], wcount[w], 0.5), percentile(whist[w], wcount[w], 0.99));
        printf("\n");
        rc = expected_copies == got && dups == 0 && gaps == 0 ? 0 : 1;
    }
    (void)sc;
    lws_context_destroy(ctx);
    for (int i = 0; i < nclients; i++)
        free(clients[i].rx);
    free(clients);
    free(hist);
    for (int w = 0; w < WINDOWS; w++)
        free(whist[w]);
    free(opt.tokens);
    return rc;
}
