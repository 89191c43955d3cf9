/* secret: loading and creating the server secret (see secret.h). */
#include "pitchey-build.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/secret.h"

int secret_load(const char *path, unsigned char out[SECRET_BYTES], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s (create it with pitcheyctl init-secret)", path,
                 strerror(errno));
        return -1;
    }
    unsigned char tmp[SECRET_BYTES + 1];
    ssize_t n = read(fd, tmp, sizeof tmp);
    close(fd);
    if (n != SECRET_BYTES) {
        snprintf(err, errlen, "%s: must hold exactly %d bytes", path, SECRET_BYTES);
        sodium_memzero(tmp, sizeof tmp);
        return -1;
    }
    memcpy(out, tmp, SECRET_BYTES);
    sodium_memzero(tmp, sizeof tmp);
    return 0;
}

int secret_create(const char *path, char *err, size_t errlen)
{
    unsigned char probe[SECRET_BYTES];
    if (access(path, F_OK) == 0) {
        int rc = secret_load(path, probe, err, errlen);
        sodium_memzero(probe, sizeof probe);
        return rc == 0 ? 0 : -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    unsigned char bytes[SECRET_BYTES];
    randombytes_buf(bytes, sizeof bytes);
    ssize_t n = write(fd, bytes, sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
    if (n != SECRET_BYTES || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 1;
}
