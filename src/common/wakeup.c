/* wakeup: futex buckets in a shared file (see wakeup.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/wakeup.h"

#define WAKEUP_BUCKETS 1024 /* a power of two */

struct bucket {
    uint32_t ticket;  /* the futex word: moves on at every signal */
    uint32_t waiters; /* processes in wakeup_wait() on this bucket */
};

struct wakeup {
    struct bucket *table;
};

struct wakeup *wakeup_open(const char *path)
{
    size_t size = WAKEUP_BUCKETS * sizeof(struct bucket);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    struct stat st;
    /* Every worker may create it; a file that is too short is extended
     * with zeros, which is a valid table. */
    if (fstat(fd, &st) != 0 || ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0)) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    struct wakeup *w = malloc(sizeof *w);
    if (w == NULL) {
        munmap(p, size);
        return NULL;
    }
    w->table = p;
    return w;
}

void wakeup_close(struct wakeup *w)
{
    if (w == NULL)
        return;
    munmap(w->table, WAKEUP_BUCKETS * sizeof(struct bucket));
    free(w);
}

static struct bucket *bucket_of(struct wakeup *w, uint64_t hash)
{
    return &w->table[hash & (WAKEUP_BUCKETS - 1)];
}

uint32_t wakeup_ticket(struct wakeup *w, uint64_t hash)
{
    return __atomic_load_n(&bucket_of(w, hash)->ticket, __ATOMIC_ACQUIRE);
}

bool wakeup_wait(struct wakeup *w, uint64_t hash, uint32_t ticket, int timeout_us)
{
    struct bucket *b = bucket_of(w, hash);
    if (timeout_us <= 0)
        return __atomic_load_n(&b->ticket, __ATOMIC_ACQUIRE) != ticket;
    struct timespec ts = { timeout_us / 1000000, (long)(timeout_us % 1000000) * 1000 };
    __atomic_add_fetch(&b->waiters, 1, __ATOMIC_SEQ_CST);
    /* The kernel compares the word with ticket before sleeping: a signal
     * after our look and before this call is not lost. */
    long rc = syscall(SYS_futex, &b->ticket, FUTEX_WAIT, ticket, &ts, NULL, 0);
    int e = errno;
    __atomic_sub_fetch(&b->waiters, 1, __ATOMIC_SEQ_CST);
    if (rc == 0 || e == EAGAIN)
        return __atomic_load_n(&b->ticket, __ATOMIC_ACQUIRE) != ticket;
    return false; /* ETIMEDOUT, EINTR */
}

void wakeup_signal(struct wakeup *w, uint64_t hash)
{
    struct bucket *b = bucket_of(w, hash);
    __atomic_add_fetch(&b->ticket, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&b->waiters, __ATOMIC_SEQ_CST) != 0)
        syscall(SYS_futex, &b->ticket, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
