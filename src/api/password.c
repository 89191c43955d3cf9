/* password: argon2id and hashing slots (see password.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "api/password.h"
#include "common/clock.h"
#include "common/log.h"

/* Per process, for the metrics: slots that were waited for, and waits that
 * ran out. */
static uint64_t slot_waits, slot_timeouts;

void password_get_stats(uint64_t *waits, uint64_t *timeouts)
{
    *waits = slot_waits;
    *timeouts = slot_timeouts;
}

static int slot_count(const struct config *cfg)
{
    if (cfg->auth.hash_concurrency > 0)
        return cfg->auth.hash_concurrency;
    int n = cfg->api.workers / 2;
    return n < 1 ? 1 : n;
}

/* One pass over the slots without waiting: true when one was taken. */
static bool try_slots(int fd, int n, struct password_slot *slot)
{
    for (int i = 0; i < n; i++) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = i, .l_len = 1 };
        if (fcntl(fd, F_SETLK, &fl) == 0) {
            slot->fd = fd;
            slot->index = i;
            return true;
        }
    }
    return false;
}

/* The queue: byte n of the lock file (after the n slots).  Whoever holds
 * it is the head of the line; everyone else who wants a slot sleeps in the
 * kernel on it (F_SETLKW), newcomers included, so nobody overtakes a
 * waiter.  The head looks at the slots every few hundred microseconds.
 * Like the slots, the kernel drops it when its holder dies. */
static int queue_lock(int fd, int n, short type, bool wait)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = n, .l_len = 1 };
    return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

static void on_alarm(int sig)
{
    (void)sig; /* only interrupts F_SETLKW */
}

/* F_SETLKW on the queue, given up after timeout_us (a one-shot timer
 * signal interrupts the wait). */
static bool join_queue(int fd, int n, int64_t timeout_us)
{
    if (timeout_us <= 0)
        return queue_lock(fd, n, F_WRLCK, false) == 0;
    static bool installed;
    if (!installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: the wait returns EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        installed = true;
    }
    struct itimerval t = { { 0, 0 }, { (time_t)(timeout_us / 1000000),
                                      (suseconds_t)(timeout_us % 1000000) } };
    setitimer(ITIMER_REAL, &t, NULL);
    int rc = queue_lock(fd, n, F_WRLCK, true);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    return rc == 0;
}

bool password_slot_acquire(const struct config *cfg, struct password_slot *slot)
{
    slot->fd = -1;
    slot->index = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/hash.lock", cfg->api.runtime_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* No runtime directory: better to hash unthrottled than to refuse
         * every login; say so loudly. */
        log_warn("event=hash_slots_unavailable path=%s reason=\"%s\"", path, strerror(errno));
        return true;
    }
    int n = slot_count(cfg);
    int64_t start = clock_mono_us();
    int64_t give_up = start + (int64_t)cfg->auth.hash_wait_ms * 1000;
    /* Nobody in line and a slot free: the common case, no waiting. */
    if (queue_lock(fd, n, F_WRLCK, false) == 0) {
        if (try_slots(fd, n, slot)) {
            (void)queue_lock(fd, n, F_UNLCK, false);
            return true;
        }
    } else if (!join_queue(fd, n, give_up - clock_mono_us())) {
        slot_timeouts++;
        close(fd);
        return false;
    }
    /* Head of the line: the next slot that frees is ours. */
    for (;;) {
        if (try_slots(fd, n, slot)) {
            (void)queue_lock(fd, n, F_UNLCK, false); /* the next in line moves up */
            slot_waits++;
            return true;
        }
        if (clock_mono_us() >= give_up)
            break;
        struct timespec ts = { 0, 250000 }; /* a hash takes tens of ms */
        nanosleep(&ts, NULL);
    }
    slot_timeouts++;
    close(fd); /* drops the queue lock too */
    return false;
}

void password_slot_release(struct password_slot *slot)
{
    if (slot->fd >= 0)
        close(slot->fd); /* closing drops the process's locks on the file */
    slot->fd = -1;
    slot->index = -1;
}

int password_hash(const struct config *cfg, const char *password, char out[PASSWORD_HASH_MAX])
{
    return crypto_pwhash_str(out, password, strlen(password),
                             (unsigned long long)cfg->auth.hash_opslimit,
                             (size_t)cfg->auth.hash_memlimit);
}

static char dummy[PASSWORD_HASH_MAX];

int password_prepare(const struct config *cfg)
{
    unsigned char raw[16];
    char random_pw[33];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(random_pw, sizeof random_pw, raw, sizeof raw);
    return password_hash(cfg, random_pw, dummy);
}

bool password_verify(const struct config *cfg, const char *stored_hash, const char *password)
{
    if (stored_hash == NULL) {
        if (dummy[0] == '\0' && password_prepare(cfg) != 0)
            return false;
        /* The result does not matter, only the time it takes. */
        volatile int ignored = crypto_pwhash_str_verify(dummy, password, strlen(password));
        (void)ignored;
        return false;
    }
    return crypto_pwhash_str_verify(stored_hash, password, strlen(password)) == 0;
}
