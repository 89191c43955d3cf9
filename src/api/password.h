/* password: argon2id hashing with a pool-wide concurrency limit.
 *
 * Hashing is the one CPU-heavy step of the API (tens of milliseconds, tens
 * of MiB).  At most [auth] hash_concurrency processes hash at once (default
 * half the workers): a slot is a byte-range lock on a file in the runtime
 * directory, which the kernel releases if the holder dies.  Without a free
 * slot the caller waits for one up to [auth] hash_wait_ms, then answers
 * 503, so a burst of sign-ups succeeds and a flood of logins cannot hold
 * every worker for long. */
#ifndef PITCHEY_API_PASSWORD_H
#define PITCHEY_API_PASSWORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sodium.h>

#include "common/config.h"

#define PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* This process's hashing slot waits that got a slot, and that ran out. */
void password_get_stats(uint64_t *waits, uint64_t *timeouts);

struct password_slot {
    int fd;
    int index;
};

/* Takes a hashing slot, waiting up to [auth] hash_wait_ms for one; false
 * when none came free in time. */
bool password_slot_acquire(const struct config *cfg, struct password_slot *slot);
void password_slot_release(struct password_slot *slot);

/* Computes the dummy hash password_verify() compares unknown emails
 * against, so even the first such login costs what a real one does. */
int password_prepare(const struct config *cfg) __attribute__((warn_unused_result));
int password_hash(const struct config *cfg, const char *password, char out[PASSWORD_HASH_MAX])
    __attribute__((warn_unused_result));
/* Constant-time for a given hash; stored_hash NULL compares against a
 * dummy hash so an unknown email costs the same as a wrong password. */
bool password_verify(const struct config *cfg, const char *stored_hash, const char *password);

#endif
