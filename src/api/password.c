/* password: argon2id and hashing slots (see password.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/password.h"
#include "common/log.h"

static int slot_count(const struct config *cfg)
{
    if (cfg->auth.hash_concurrency > 0)
        return cfg->auth.hash_concurrency;
    int n = cfg->api.workers / 2;
    return n < 1 ? 1 : n;
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
    for (int i = 0; i < n; i++) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = i, .l_len = 1 };
        if (fcntl(fd, F_SETLK, &fl) == 0) {
            slot->fd = fd;
            slot->index = i;
            return true;
        }
    }
    close(fd);
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
