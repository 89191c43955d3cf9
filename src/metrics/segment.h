/* segment: the pool-wide metrics, in a file mapped MAP_SHARED under the
 * runtime directory (DESIGN.md "Metrics").
 *
 * One slot per worker.  A worker claims a slot when it starts and is the
 * only writer of it afterwards: plain relaxed atomic loads and stores, no
 * lock, no syscall, no allocation on the request path.  Whoever answers
 * /api/metrics (any worker, or pitcheyctl top) sums every slot ever used,
 * so the figures are the pool's.  Totals never go backwards: a worker that
 * exits leaves its slot's totals in place, and the next one to start adopts
 * that slot (a freed one, or one whose owner died, SIGKILL included) and
 * adds to them.  The file starts with a header (magic, format version,
 * sizes, the route labels); a binary never maps a segment whose header is
 * not its own: the writer replaces it (counters restart, which Prometheus
 * reads as a counter reset), a reader refuses it.
 *
 * The one thing to know: the writer side is process-global (one slot per
 * process), the reader side is a handle. */
#ifndef PITCHEY_METRICS_SEGMENT_H
#define PITCHEY_METRICS_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/histogram.h"

#define METRICS_FORMAT_VERSION 1
#define METRICS_MAX_WORKERS 256
#define METRICS_MAX_ROUTES 32     /* distinct route labels, "other" included */
#define METRICS_LABEL_MAX 48
#define METRICS_SEGMENT_FILE "metrics.shm"

/* Methods, in the order of the METHOD_* bits of api/request.h. */
enum metrics_method {
    METRICS_GET, METRICS_HEAD, METRICS_POST, METRICS_PUT, METRICS_DELETE, METRICS_OPTIONS,
    METRICS_OTHER, METRICS_METHODS
};
#define METRICS_CLASSES 5          /* 1xx .. 5xx */

/* Per-process counters a worker copies from its modules' getters
 * (edge_get_stats, cache_get_stats, db_get_stats); the slot holds the
 * totals of every process that used it. */
enum metrics_counter {
    MC_CACHE_HIT, MC_CACHE_MISS, MC_CACHE_STALE, MC_CACHE_BYPASS, MC_CACHE_NOT_MODIFIED,
    MC_CACHE_STORE, MC_CACHE_INVALIDATION, MC_CACHE_LOCK_WAIT, MC_CACHE_LOCK_FALLBACK,
    MC_CACHE_REFRESH, MC_CACHE_WARM, MC_CACHE_EPOCH_BUMP,
    MC_MEMCACHED_GET, MC_MEMCACHED_SET, MC_MEMCACHED_ERROR, MC_MEMCACHED_TIMEOUT,
    MC_MEMCACHED_SKIPPED, MC_MEMCACHED_BREAKER_OPEN, MC_MEMCACHED_RESET,
    MC_DB_QUERY, MC_DB_CONNECT, MC_DB_CONNECT_FAILURE, MC_DB_RECONNECT, MC_DB_RETRY,
    MC_DB_QUERY_ERROR, MC_DB_TIMEOUT, MC_DB_UNAVAILABLE, MC_DB_IDLE_CLOSE,
    MC_DB_BREAKER_OPEN, MC_DB_BREAKER_REJECT,
    MC_VIEW_FLUSH_DEFERRED,              /* another worker was flushing */
    MC_HASH_SLOT_WAIT,                   /* waited for a password-hash slot, got one */
    MC_HASH_SLOT_TIMEOUT,                /* ... and ran out of time (503) */
    MC_PROCESS_COUNTERS,                 /* end of the copied ones */
    /* Counted by the metrics module itself: */
    MC_VIEW_FLUSH = MC_PROCESS_COUNTERS, MC_VIEW_FLUSH_ERROR,
    MC_COUNTERS
};

/* What a worker publishes about itself every housekeeping tick. */
struct metrics_process {
    uint64_t counters[MC_PROCESS_COUNTERS]; /* this process's own totals */
    uint64_t rss_bytes;
    bool db_circuit_open;
    bool cache_bypassing;
};

struct metrics_route_figures {
    uint64_t requests[METRICS_METHODS][METRICS_CLASSES];
    uint64_t latency[HISTOGRAM_SLOTS];
    uint64_t latency_sum_us;
};

struct metrics_worker_figures {
    int pid;              /* 0: slot free */
    bool alive;
    bool busy;
    bool db_circuit_open;
    bool cache_bypassing;
    uint64_t requests;    /* the slot's total, all its owners */
    uint64_t rss_bytes;
    int64_t started_unix; /* current owner's start */
    uint64_t restarts;    /* owners before this one */
};

/* The sum of all slots at one moment (each figure read atomically; the
 * set is not one transaction, which counters do not need). */
struct metrics_snapshot {
    int64_t taken_unix_ms;
    size_t nroutes;
    char routes[METRICS_MAX_ROUTES][METRICS_LABEL_MAX];
    struct metrics_route_figures route[METRICS_MAX_ROUTES];
    uint64_t counters[MC_COUNTERS];
    uint64_t db_time[HISTOGRAM_SLOTS];   /* time in Postgres per request that used it */
    uint64_t db_time_sum_us;
    uint64_t requests;
    uint64_t restarts;
    int workers_alive;
    int workers_busy;
    int db_circuits_open;
    size_t nworkers;                     /* slots ever used */
    struct metrics_worker_figures worker[METRICS_MAX_WORKERS];
};

extern const char *const metrics_method_names[METRICS_METHODS];

/* ------------------------------------------------------------ writer side */

/* Opens (creating or replacing when incompatible) DIR/metrics.shm and
 * claims a slot for this process.  routes: the route pattern of each
 * entry of the caller's route table (duplicates share one label); an entry
 * index passed to metrics_record_request() maps to its label, an index of
 * nroutes or more to "other".  Returns 0, or -1 with err set: recording
 * is then a no-op and the service keeps working. */
int metrics_worker_attach(const char *dir, const char *const *routes, size_t nroutes,
                          char *err, size_t errlen) __attribute__((warn_unused_result));
/* Leaves the slot (and its totals) for the next worker; unmaps. */
void metrics_worker_detach(void);
bool metrics_worker_attached(void);

/* The request path: no syscall, no lock, no allocation. */
void metrics_request_begin(void);
/* route: entry index; method: enum metrics_method; status: HTTP status;
 * us: request duration; db_us: time in Postgres (0: none). */
void metrics_record_request(size_t route, enum metrics_method method, int status, int64_t us,
                            int64_t db_us);
/* One view-count flush that had something to write, and whether it was sent. */
void metrics_count_view_flush(bool ok);
/* Every housekeeping tick and before answering /api/metrics. */
void metrics_publish_process(const struct metrics_process *p);
/* The method bits of api/request.h (GET=1, HEAD=2, ... OPTIONS=32, 0
 * other) to enum metrics_method. */
enum metrics_method metrics_method_from_bit(unsigned bit);

/* ------------------------------------------------------------ reader side */

struct metrics_reader;

/* Maps DIR/metrics.shm read-only; NULL with err set when it is missing or
 * not of this format. */
struct metrics_reader *metrics_reader_open(const char *dir, char *err, size_t errlen);
void metrics_reader_close(struct metrics_reader *r);
void metrics_reader_snapshot(const struct metrics_reader *r, struct metrics_snapshot *out);
/* The same from the worker's own mapping; -1 when not attached. */
int metrics_worker_snapshot(struct metrics_snapshot *out) __attribute__((warn_unused_result));

/* Workers alive and busy, from the worker's own mapping (cheaper than a
 * snapshot: slot headers only); -1 when not attached. */
int metrics_worker_pool(int *alive, int *busy) __attribute__((warn_unused_result));

/* This process's resident set size in bytes (0 when unknown). */
uint64_t metrics_rss_bytes(void);

#endif
