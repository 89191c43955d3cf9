/* top: see top.h.  Live mode redraws with plain ANSI escapes every
 * interval and shows rates and latency percentiles over that interval;
 * --once prints one snapshot's totals (percentiles since the segment was
 * created) without escapes, for scripts. */
#include "pitchey-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/signals.h"
#include "ctl/top.h"
#include "metrics/expose.h"
#include "metrics/rooms_probe.h"
#include "metrics/segment.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t route_requests(const struct metrics_route_figures *f, int cls)
{
    uint64_t n = 0;
    for (size_t m = 0; m < METRICS_METHODS; m++)
        for (size_t c = 0; c < METRICS_CLASSES; c++)
            if (cls < 0 || (int)c == cls)
                n += f->requests[m][c];
    return n;
}

static uint64_t class_total(const struct metrics_snapshot *s, int cls)
{
    uint64_t n = 0;
    for (size_t r = 0; r < s->nroutes; r++)
        n += route_requests(&s->route[r], cls);
    return n;
}

static uint64_t diff(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}

/* "1.25ms" style, or "-" when unknown. */
static const char *fmt_seconds(double s, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "-");
    else if (s < 1e-3)
        snprintf(buf, len, "%.0fus", s * 1e6);
    else if (s < 1)
        snprintf(buf, len, "%.2fms", s * 1e3);
    else
        snprintf(buf, len, "%.2fs", s);
    return buf;
}

static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= 1024ull * 1024 * 1024)
        snprintf(buf, len, "%.1fGiB", (double)b / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, len, "%.1fMiB", (double)b / (1024.0 * 1024));
    return buf;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* prev NULL: totals only (--once). */
static void render(FILE *o, const struct metrics_snapshot *s, const struct metrics_snapshot *prev,
                   const struct metrics_rooms *rooms)
{
    double dt = prev ? (double)(s->taken_unix_ms - prev->taken_unix_ms) / 1000.0 : 0;
    if (prev && dt <= 0)
        dt = 1;
    char t1[32], t2[32], t3[32];
    time_t now = (time_t)(s->taken_unix_ms / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t1, sizeof t1, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(o, "pitchey top  %s UTC  workers %d alive, %d busy, %llu restarts%s\n", t1,
            s->workers_alive, s->workers_busy, (unsigned long long)s->restarts,
            prev ? "   (Ctrl-C quits)" : "");

    const uint64_t *c = s->counters;
    if (prev)
        fprintf(o, "requests  %llu total  %.1f/s   4xx %.1f/s   5xx %.1f/s\n",
                (unsigned long long)s->requests, (double)diff(s->requests, prev->requests) / dt,
                (double)diff(class_total(s, 3), class_total(prev, 3)) / dt,
                (double)diff(class_total(s, 4), class_total(prev, 4)) / dt);
    else
        fprintf(o, "requests  %llu total   4xx %llu   5xx %llu\n", (unsigned long long)s->requests,
                (unsigned long long)class_total(s, 3), (unsigned long long)class_total(s, 4));

    uint64_t ch[4];
    const int idx[4] = { MC_CACHE_HIT, MC_CACHE_MISS, MC_CACHE_STALE, MC_CACHE_BYPASS };
    uint64_t lookups = 0;
    for (int i = 0; i < 4; i++) {
        ch[i] = prev ? diff(c[idx[i]], prev->counters[idx[i]]) : c[idx[i]];
        lookups += ch[i];
    }
    fprintf(o, "cache     hit %.1f%%  miss %.1f%%  stale %.1f%%  bypass %.1f%%  (%llu lookups%s)"
               "  invalidations %llu  coalesced %llu/%llu fallback\n",
            pct(ch[0], lookups), pct(ch[1], lookups), pct(ch[2], lookups), pct(ch[3], lookups),
            (unsigned long long)lookups, prev ? " this interval" : "",
            (unsigned long long)c[MC_CACHE_INVALIDATION], (unsigned long long)c[MC_CACHE_LOCK_WAIT],
            (unsigned long long)c[MC_CACHE_LOCK_FALLBACK]);

    uint64_t dbh[HISTOGRAM_SLOTS];
    for (size_t b = 0; b < HISTOGRAM_SLOTS; b++)
        dbh[b] = prev ? diff(s->db_time[b], prev->db_time[b]) : s->db_time[b];
    fprintf(o, "postgres  queries %llu  time/request p50 %s p95 %s  errors %llu  timeouts %llu  "
               "retries %llu  reconnects %llu  circuits open %d\n",
            (unsigned long long)c[MC_DB_QUERY], fmt_seconds(histogram_quantile(dbh, 0.5), t1, sizeof t1),
            fmt_seconds(histogram_quantile(dbh, 0.95), t2, sizeof t2),
            (unsigned long long)(c[MC_DB_QUERY_ERROR] + c[MC_DB_UNAVAILABLE]),
            (unsigned long long)c[MC_DB_TIMEOUT], (unsigned long long)c[MC_DB_RETRY],
            (unsigned long long)c[MC_DB_RECONNECT], s->db_circuits_open);
    fprintf(o, "memcached gets %llu  sets %llu  errors %llu  timeouts %llu  skipped %llu\n",
            (unsigned long long)c[MC_MEMCACHED_GET], (unsigned long long)c[MC_MEMCACHED_SET],
            (unsigned long long)c[MC_MEMCACHED_ERROR], (unsigned long long)c[MC_MEMCACHED_TIMEOUT],
            (unsigned long long)c[MC_MEMCACHED_SKIPPED]);
    fprintf(o, "auth      hash slot waits %llu (%llu timed out)   views  flushes %llu  failed %llu\n",
            (unsigned long long)(c[MC_HASH_SLOT_WAIT] + c[MC_HASH_SLOT_TIMEOUT]),
            (unsigned long long)c[MC_HASH_SLOT_TIMEOUT], (unsigned long long)c[MC_VIEW_FLUSH],
            (unsigned long long)c[MC_VIEW_FLUSH_ERROR]);
    if (rooms->up)
        fprintf(o, "rooms     %.0f connections  %.0f rooms  %.0f members  %.0f messages in  "
                   "%.0f out\n",
                rooms->connections, rooms->rooms, rooms->members, rooms->messages_in,
                rooms->messages_out);
    else
        fprintf(o, "rooms     not reachable\n");

    fprintf(o, "\n%-22s %9s %10s %8s %8s %8s %9s %9s %9s\n", "ROUTE", prev ? "REQ/S" : "", "TOTAL",
            "2xx", "4xx", "5xx", "p50", "p95", "p99");
    for (size_t r = 0; r < s->nroutes; r++) {
        const struct metrics_route_figures *f = &s->route[r];
        uint64_t total = route_requests(f, -1);
        if (total == 0)
            continue;
        uint64_t h[HISTOGRAM_SLOTS];
        for (size_t b = 0; b < HISTOGRAM_SLOTS; b++)
            h[b] = prev ? diff(f->latency[b], prev->route[r].latency[b]) : f->latency[b];
        char rate[32] = "";
        if (prev)
            snprintf(rate, sizeof rate, "%.1f",
                     (double)diff(total, route_requests(&prev->route[r], -1)) / dt);
        fprintf(o, "%-22s %9s %10llu %8llu %8llu %8llu %9s %9s %9s\n", s->routes[r], rate,
                (unsigned long long)total, (unsigned long long)route_requests(f, 1),
                (unsigned long long)route_requests(f, 3), (unsigned long long)route_requests(f, 4),
                fmt_seconds(histogram_quantile(h, 0.5), t1, sizeof t1),
                fmt_seconds(histogram_quantile(h, 0.95), t2, sizeof t2),
                fmt_seconds(histogram_quantile(h, 0.99), t3, sizeof t3));
    }
    fprintf(o, "\n%-6s %-8s %-6s %10s %10s %-6s %s\n", "SLOT", "PID", "STATE", "REQUESTS", "RSS",
            "DB", "RESTARTS");
    for (size_t w = 0; w < s->nworkers; w++) {
        const struct metrics_worker_figures *f = &s->worker[w];
        char pid[16] = "-";
        if (f->alive)
            snprintf(pid, sizeof pid, "%d", f->pid);
        fprintf(o, "%-6zu %-8s %-6s %10llu %10s %-6s %llu\n", w, pid,
                !f->alive ? "gone" : f->busy ? "busy" : "idle", (unsigned long long)f->requests,
                f->alive ? fmt_bytes(f->rss_bytes, t1, sizeof t1) : "-",
                !f->alive ? "-" : f->db_circuit_open ? "open" : "ok",
                (unsigned long long)f->restarts);
    }
}

int ctl_top(const struct config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "once", no_argument, NULL, '1' },
        { "interval", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    bool once = false;
    double interval = 1.0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "1i:", longopts, NULL)) != -1) {
        switch (opt) {
        case '1': once = true; break;
        case 'i':
            interval = atof(optarg);
            if (interval < 0.1 || interval > 3600) {
                fprintf(stderr, "pitcheyctl top: --interval takes 0.1 to 3600 seconds\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: pitcheyctl top [--once] [--interval SECONDS]\n");
            return 2;
        }
    }
    char err[512];
    struct metrics_reader *r = metrics_reader_open(cfg->api.runtime_dir, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "pitcheyctl top: %s (is the pool running with [api] runtime_dir = %s?)\n",
                err, cfg->api.runtime_dir);
        return 1;
    }
    struct metrics_snapshot *cur = malloc(sizeof *cur), *prev = malloc(sizeof *prev);
    if (cur == NULL || prev == NULL) {
        free(cur);
        free(prev);
        metrics_reader_close(r);
        fprintf(stderr, "pitcheyctl top: out of memory\n");
        return 1;
    }
    struct metrics_rooms rooms;
    metrics_reader_snapshot(r, cur);
    if (once) {
        (void)metrics_rooms_fetch(cfg->rooms.listen, 500, &rooms);
        render(stdout, cur, NULL, &rooms);
    } else {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, 0 };
        signals_install(on_signal, sigs);
        bool tty = isatty(STDOUT_FILENO);
        while (!stop) {
            struct metrics_snapshot *t = prev;
            prev = cur;
            cur = t;
            usleep((useconds_t)(interval * 1e6));
            if (stop)
                break;
            metrics_reader_snapshot(r, cur);
            (void)metrics_rooms_fetch(cfg->rooms.listen, 250, &rooms);
            if (tty)
                fputs("\033[H\033[2J", stdout); /* home, clear */
            render(stdout, cur, prev, &rooms);
            fflush(stdout);
        }
    }
    free(cur);
    free(prev);
    metrics_reader_close(r);
    return 0;
}
