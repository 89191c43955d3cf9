/* segment: the shared metrics file (see segment.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics/segment.h"

#define SEGMENT_MAGIC 0x315254454d435450ULL /* "PTCMETR1" little-endian */
#define SLOT_ALIGN 64                       /* one owner per cache line */

typedef _Atomic uint64_t counter_t;

struct slot_route {
    counter_t requests[METRICS_METHODS][METRICS_CLASSES];
    counter_t latency[HISTOGRAM_SLOTS];
    counter_t latency_sum_us;
};

struct slot {
    _Atomic int32_t pid;           /* owner; 0 when free */
    _Atomic uint32_t used;         /* ever claimed: its totals count */
    _Atomic uint32_t busy;
    _Atomic uint32_t flags;        /* SLOT_DB_OPEN, SLOT_CACHE_BYPASS */
    counter_t owner_start;         /* /proc start time of the owner (pid reuse) */
    counter_t started_unix;
    counter_t restarts;
    counter_t requests;
    counter_t rss_bytes;
    counter_t counters[MC_COUNTERS];
    counter_t db_time[HISTOGRAM_SLOTS];
    counter_t db_time_sum_us;
    struct slot_route route[METRICS_MAX_ROUTES];
};

#define SLOT_DB_OPEN 1u
#define SLOT_CACHE_BYPASS 2u

struct header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t slot_size;
    uint32_t slot_count;
    uint32_t nroutes;
    uint32_t methods;
    uint32_t classes;
    uint32_t buckets;
    uint32_t counters;
    uint32_t reserved;
    int64_t bucket_bounds_us[HISTOGRAM_BUCKETS];
    char routes[METRICS_MAX_ROUTES][METRICS_LABEL_MAX];
};

#define HEADER_SIZE ((sizeof(struct header) + 4095) / 4096 * 4096)
#define SLOT_SIZE ((sizeof(struct slot) + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN)
#define SEGMENT_SIZE (HEADER_SIZE + SLOT_SIZE * METRICS_MAX_WORKERS)

const char *const metrics_method_names[METRICS_METHODS] = { "GET",    "HEAD",    "POST", "PUT",
                                                             "DELETE", "OPTIONS", "OTHER" };

static inline struct slot *slot_at(void *base, size_t i)
{
    return (struct slot *)((char *)base + HEADER_SIZE + SLOT_SIZE * i);
}

static inline uint64_t get(const counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The owner is the only writer: load + store, no locked read-modify-write. */
static inline void add(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void set(counter_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

/* ------------------------------------------------------------ processes */

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot; 0 when
 * the process does not exist. */
static uint64_t proc_start_time(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (p == NULL)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++) /* p: the space before field 3 */
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* The slot's owner still runs (and is the same process, not a later one
 * that reused its pid). */
static bool owner_alive(const struct slot *s)
{
    int pid = atomic_load_explicit(&s->pid, memory_order_acquire);
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    uint64_t want = get(&s->owner_start);
    uint64_t have = proc_start_time(pid);
    /* /proc may be hidden (another pid namespace): trust kill() then. */
    return have == 0 || want == 0 || have == want;
}

uint64_t metrics_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* -------------------------------------------------------------- header */

static void header_fill(struct header *h, char labels[][METRICS_LABEL_MAX], size_t nlabels)
{
    memset(h, 0, sizeof *h);
    h->magic = SEGMENT_MAGIC;
    h->version = METRICS_FORMAT_VERSION;
    h->header_size = (uint32_t)HEADER_SIZE;
    h->slot_size = (uint32_t)SLOT_SIZE;
    h->slot_count = METRICS_MAX_WORKERS;
    h->nroutes = (uint32_t)nlabels;
    h->methods = METRICS_METHODS;
    h->classes = METRICS_CLASSES;
    h->buckets = HISTOGRAM_BUCKETS;
    h->counters = MC_COUNTERS;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        h->bucket_bounds_us[i] = histogram_bound_us(i);
    for (size_t i = 0; i < nlabels; i++)
        memcpy(h->routes[i], labels[i], METRICS_LABEL_MAX);
}

/* The layout of h is this binary's (route labels aside). */
static bool header_layout_ok(const struct header *h)
{
    struct header mine;
    header_fill(&mine, NULL, 0);
    return h->magic == mine.magic && h->version == mine.version &&
           h->header_size == mine.header_size && h->slot_size == mine.slot_size &&
           h->slot_count == mine.slot_count && h->methods == mine.methods &&
           h->classes == mine.classes && h->buckets == mine.buckets &&
           h->counters == mine.counters && h->nroutes <= METRICS_MAX_ROUTES &&
           memcmp(h->bucket_bounds_us, mine.bucket_bounds_us, sizeof mine.bucket_bounds_us) == 0;
}

/* ---------------------------------------------------------------- writer */

static struct {
    void *base;                           /* the mapping, NULL when not attached */
    struct slot *slot;
    uint8_t route_of[256];                /* entry index -> label index */
    size_t nentries;
    size_t other;                         /* the "other" label */
    uint64_t base_counters[MC_PROCESS_COUNTERS]; /* slot totals when adopted */
    pid_t owner;                          /* the process that claimed the slot */
} W;

/* Distinct labels, in table order, then "other". */
static size_t build_labels(const char *const *routes, size_t n, char labels[][METRICS_LABEL_MAX])
{
    size_t nl = 0;
    for (size_t i = 0; i < n && i < sizeof W.route_of; i++) {
        size_t j;
        for (j = 0; j < nl; j++)
            if (strncmp(labels[j], routes[i], METRICS_LABEL_MAX - 1) == 0)
                break;
        if (j == nl) {
            if (nl == METRICS_MAX_ROUTES - 1) {
                W.route_of[i] = (uint8_t)nl; /* out of labels: count as other */
                continue;
            }
            snprintf(labels[nl++], METRICS_LABEL_MAX, "%s", routes[i]);
        }
        W.route_of[i] = (uint8_t)j;
    }
    snprintf(labels[nl], METRICS_LABEL_MAX, "other");
    W.other = nl;
    for (size_t i = 0; i < n && i < sizeof W.route_of; i++)
        if (W.route_of[i] > nl)
            W.route_of[i] = (uint8_t)nl;
    W.nentries = n < sizeof W.route_of ? n : sizeof W.route_of;
    return nl + 1;
}

static void *map_fd(int fd, int prot)
{
    void *p = mmap(NULL, SEGMENT_SIZE, prot, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Maps the existing file when its header is exactly what we would write. */
static void *map_existing(const char *path, const struct header *want)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = NULL;
    if (fstat(fd, &st) == 0 && st.st_size == (off_t)SEGMENT_SIZE) {
        p = map_fd(fd, PROT_READ | PROT_WRITE);
        if (p && memcmp(p, want, sizeof *want) != 0) {
            munmap(p, SEGMENT_SIZE);
            p = NULL;
        }
    }
    close(fd);
    return p;
}

/* Writes a fresh segment beside the old one and renames it in place, so a
 * reader never sees a half-written header. */
static void *create_segment(const char *dir, const char *path, const struct header *h,
                            char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, METRICS_SEGMENT_FILE);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return NULL;
    }
    void *p = NULL;
    if (fchmod(fd, 0640) != 0 || ftruncate(fd, (off_t)SEGMENT_SIZE) != 0 ||
        (p = map_fd(fd, PROT_READ | PROT_WRITE)) == NULL) {
        snprintf(err, errlen, "cannot size or map %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return NULL;
    }
    close(fd);
    memcpy(p, h, sizeof *h);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        munmap(p, SEGMENT_SIZE);
        unlink(tmp);
        return NULL;
    }
    return p;
}

/* Claims a slot: a freed one or one whose owner died (adopting its
 * totals), else one never used.  Runs under the segment lock. */
static struct slot *claim_slot(void *base)
{
    struct slot *fresh = NULL, *adopt = NULL;
    for (size_t i = 0; i < METRICS_MAX_WORKERS; i++) {
        struct slot *s = slot_at(base, i);
        if (!atomic_load_explicit(&s->used, memory_order_acquire)) {
            if (fresh == NULL)
                fresh = s;
            continue;
        }
        if (!owner_alive(s)) {
            adopt = s;
            break;
        }
    }
    struct slot *s = adopt ? adopt : fresh;
    if (s == NULL)
        return NULL;
    int32_t old = atomic_load_explicit(&s->pid, memory_order_relaxed);
    if (!atomic_compare_exchange_strong(&s->pid, &old, (int32_t)getpid()))
        return NULL;
    set(&s->owner_start, proc_start_time((int)getpid()));
    set(&s->started_unix, (uint64_t)time(NULL));
    set(&s->rss_bytes, 0);
    atomic_store_explicit(&s->busy, 0, memory_order_relaxed);
    atomic_store_explicit(&s->flags, 0, memory_order_relaxed);
    if (adopt)
        add(&s->restarts, 1);
    atomic_store_explicit(&s->used, 1, memory_order_release);
    return s;
}

int metrics_worker_attach(const char *dir, const char *const *routes, size_t nroutes,
                          char *err, size_t errlen)
{
    if (W.base && W.owner == getpid())
        return 0;
    if (W.base) {
        /* Inherited across fork(): the slot is the parent's, not ours. */
        munmap(W.base, SEGMENT_SIZE);
        W.base = NULL;
        W.slot = NULL;
    }
    static char labels[METRICS_MAX_ROUTES][METRICS_LABEL_MAX];
    memset(labels, 0, sizeof labels);
    size_t nl = build_labels(routes, nroutes, labels);
    static struct header want;
    header_fill(&want, labels, nl);

    char path[4096], lockpath[4096];
    snprintf(path, sizeof path, "%s/%s", dir, METRICS_SEGMENT_FILE);
    snprintf(lockpath, sizeof lockpath, "%s/%s.lock", dir, METRICS_SEGMENT_FILE);
    /* Creation, replacement and claiming are serialised across the pool
     * (workers start together); the request path never takes this lock. */
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock < 0) {
        snprintf(err, errlen, "cannot open %s: %s", lockpath, strerror(errno));
        return -1;
    }
    while (flock(lock, LOCK_EX) != 0 && errno == EINTR)
        ;
    void *base = map_existing(path, &want);
    if (base == NULL)
        base = create_segment(dir, path, &want, err, errlen);
    struct slot *s = base ? claim_slot(base) : NULL;
    if (base && s == NULL) {
        snprintf(err, errlen, "all %d metrics slots are held by running workers",
                 METRICS_MAX_WORKERS);
        munmap(base, SEGMENT_SIZE);
        base = NULL;
    }
    flock(lock, LOCK_UN);
    close(lock);
    if (base == NULL)
        return -1;
    for (size_t i = 0; i < MC_PROCESS_COUNTERS; i++)
        W.base_counters[i] = get(&s->counters[i]);
    W.slot = s;
    W.base = base;
    W.owner = getpid();
    return 0;
}

void metrics_worker_detach(void)
{
    if (W.base == NULL)
        return;
    atomic_store_explicit(&W.slot->busy, 0, memory_order_relaxed);
    atomic_store_explicit(&W.slot->pid, 0, memory_order_release);
    munmap(W.base, SEGMENT_SIZE);
    W.base = NULL;
    W.slot = NULL;
}

bool metrics_worker_attached(void)
{
    return W.base != NULL;
}

void metrics_request_begin(void)
{
    if (W.slot)
        atomic_store_explicit(&W.slot->busy, 1, memory_order_relaxed);
}

void metrics_record_request(size_t route, enum metrics_method method, int status, int64_t us,
                            int64_t db_us)
{
    struct slot *s = W.slot;
    if (s == NULL)
        return;
    size_t label = route < W.nentries ? W.route_of[route] : W.other;
    int cls = status / 100 - 1;
    if (cls < 0)
        cls = 0;
    if (cls >= METRICS_CLASSES)
        cls = METRICS_CLASSES - 1;
    if ((unsigned)method >= METRICS_METHODS)
        method = METRICS_OTHER;
    if (us < 0)
        us = 0;
    struct slot_route *r = &s->route[label];
    add(&r->requests[method][cls], 1);
    add(&r->latency[histogram_bucket_index(us)], 1);
    add(&r->latency_sum_us, (uint64_t)us);
    if (db_us > 0) {
        add(&s->db_time[histogram_bucket_index(db_us)], 1);
        add(&s->db_time_sum_us, (uint64_t)db_us);
    }
    add(&s->requests, 1);
    atomic_store_explicit(&s->busy, 0, memory_order_relaxed);
}

void metrics_count_view_flush(bool ok)
{
    if (W.slot)
        add(&W.slot->counters[ok ? MC_VIEW_FLUSH : MC_VIEW_FLUSH_ERROR], 1);
}

void metrics_publish_process(const struct metrics_process *p)
{
    struct slot *s = W.slot;
    if (s == NULL)
        return;
    for (size_t i = 0; i < MC_PROCESS_COUNTERS; i++)
        set(&s->counters[i], W.base_counters[i] + p->counters[i]);
    set(&s->rss_bytes, p->rss_bytes);
    atomic_store_explicit(&s->flags,
                          (p->db_circuit_open ? SLOT_DB_OPEN : 0u) |
                              (p->cache_bypassing ? SLOT_CACHE_BYPASS : 0u),
                          memory_order_relaxed);
}

enum metrics_method metrics_method_from_bit(unsigned bit)
{
    if (bit == 0 || (bit & (bit - 1)) != 0)
        return METRICS_OTHER;
    unsigned i = (unsigned)__builtin_ctz(bit);
    return i < METRICS_OTHER ? (enum metrics_method)i : METRICS_OTHER;
}

/* ---------------------------------------------------------------- reader */

struct metrics_reader {
    void *base;
};

static void snapshot_of(const void *base, struct metrics_snapshot *out)
{
    const struct header *h = base;
    memset(out, 0, sizeof *out);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out->taken_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    out->nroutes = h->nroutes;
    for (size_t i = 0; i < out->nroutes; i++) {
        memcpy(out->routes[i], h->routes[i], METRICS_LABEL_MAX);
        out->routes[i][METRICS_LABEL_MAX - 1] = '\0';
    }
    for (size_t w = 0; w < METRICS_MAX_WORKERS; w++) {
        struct slot *s = slot_at((void *)base, w);
        if (!atomic_load_explicit(&s->used, memory_order_acquire))
            continue;
        for (size_t r = 0; r < out->nroutes; r++) {
            struct metrics_route_figures *f = &out->route[r];
            for (size_t m = 0; m < METRICS_METHODS; m++)
                for (size_t c = 0; c < METRICS_CLASSES; c++)
                    f->requests[m][c] += get(&s->route[r].requests[m][c]);
            for (size_t b = 0; b < HISTOGRAM_SLOTS; b++)
                f->latency[b] += get(&s->route[r].latency[b]);
            f->latency_sum_us += get(&s->route[r].latency_sum_us);
        }
        for (size_t i = 0; i < MC_COUNTERS; i++)
            out->counters[i] += get(&s->counters[i]);
        for (size_t b = 0; b < HISTOGRAM_SLOTS; b++)
            out->db_time[b] += get(&s->db_time[b]);
        out->db_time_sum_us += get(&s->db_time_sum_us);
        uint64_t requests = get(&s->requests);
        out->requests += requests;
        out->restarts += get(&s->restarts);

        struct metrics_worker_figures *wf = &out->worker[out->nworkers++];
        bool alive = owner_alive(s);
        uint32_t flags = atomic_load_explicit(&s->flags, memory_order_relaxed);
        wf->pid = alive ? atomic_load_explicit(&s->pid, memory_order_relaxed) : 0;
        wf->alive = alive;
        wf->busy = alive && atomic_load_explicit(&s->busy, memory_order_relaxed);
        wf->db_circuit_open = alive && (flags & SLOT_DB_OPEN);
        wf->cache_bypassing = alive && (flags & SLOT_CACHE_BYPASS);
        wf->requests = requests;
        wf->rss_bytes = alive ? get(&s->rss_bytes) : 0;
        wf->started_unix = (int64_t)get(&s->started_unix);
        wf->restarts = get(&s->restarts);
        out->workers_alive += alive;
        out->workers_busy += wf->busy;
        out->db_circuits_open += wf->db_circuit_open;
    }
}

struct metrics_reader *metrics_reader_open(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, METRICS_SEGMENT_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    struct header h;
    if (fstat(fd, &st) != 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        !header_layout_ok(&h) || st.st_size != (off_t)SEGMENT_SIZE) {
        snprintf(err, errlen, "%s is not a metrics segment of format %d (another version?)",
                 path, METRICS_FORMAT_VERSION);
        close(fd);
        return NULL;
    }
    void *p = map_fd(fd, PROT_READ);
    close(fd);
    if (p == NULL) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    struct metrics_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        munmap(p, SEGMENT_SIZE);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->base = p;
    return r;
}

void metrics_reader_close(struct metrics_reader *r)
{
    if (r == NULL)
        return;
    munmap(r->base, SEGMENT_SIZE);
    free(r);
}

void metrics_reader_snapshot(const struct metrics_reader *r, struct metrics_snapshot *out)
{
    snapshot_of(r->base, out);
}

int metrics_worker_snapshot(struct metrics_snapshot *out)
{
    if (W.base == NULL)
        return -1;
    snapshot_of(W.base, out);
    return 0;
}

int metrics_worker_pool(int *alive, int *busy)
{
    *alive = *busy = 0;
    if (W.base == NULL)
        return -1;
    for (size_t w = 0; w < METRICS_MAX_WORKERS; w++) {
        struct slot *s = slot_at(W.base, w);
        if (!atomic_load_explicit(&s->used, memory_order_acquire) || !owner_alive(s))
            continue;
        (*alive)++;
        *busy += atomic_load_explicit(&s->busy, memory_order_relaxed) != 0;
    }
    return 0;
}
