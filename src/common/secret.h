/* secret: the server secret shared by every host (32 random bytes).
 *
 * It keys the token hashes stored in Postgres and signs cursors, so it must
 * be identical across the pool and never logged.  The file is created once
 * by `pitcheyctl init-secret` with mode 0600. */
#ifndef PITCHEY_COMMON_SECRET_H
#define PITCHEY_COMMON_SECRET_H

#include <stddef.h>

#define SECRET_BYTES 32

int secret_load(const char *path, unsigned char out[SECRET_BYTES], char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Creates the file with fresh random bytes unless it exists.  Returns 1 when
 * created, 0 when it already existed (and is valid), -1 on error. */
int secret_create(const char *path, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
