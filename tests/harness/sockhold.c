/* sockhold: hold a listening unix socket across restarts of the program
 * that serves it, the way systemd's pitchey-api.socket does for
 * pitchey-api.service (StandardInput=socket), for the reload tests.
 *
 *   sockhold PATH -- COMMAND [ARGS...]
 *
 * Creates PATH (mode 0666, backlog 1024) and runs COMMAND with the socket as
 * fd 0.  SIGHUP restarts COMMAND as `systemctl restart` does: SIGTERM, wait
 * until it has exited, start it again; connections that arrive meanwhile
 * wait in the socket's backlog.  SIGTERM or SIGINT stop COMMAND and then
 * sockhold, which removes PATH.  If COMMAND exits on its own, sockhold exits
 * with its status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t start_child(int fd, char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("sockhold: fork");
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(fd, 0) < 0)
            _exit(127);
        if (fd != 0)
            close(fd);
        execvp(argv[0], argv);
        fprintf(stderr, "sockhold: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for pid; returns its wait status. */
static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: sockhold PATH -- COMMAND [ARGS...]\n");
        return 2;
    }
    const char *path = argv[1];
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "sockhold: %s: path too long\n", path);
        return 2;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("sockhold: socket");
        return 1;
    }
    unlink(path);
    mode_t old = umask(0);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "sockhold: %s: %s\n", path, strerror(errno));
        return 1;
    }

    /* The signals stay blocked and are taken with sigtimedwait(): no
     * handler, no race between checking and waiting. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    pid_t child = start_child(fd, argv + 3);
    if (child < 0)
        return 1;
    int status = 0;
    for (;;) {
        if (waitpid(child, &status, WNOHANG) == child)
            break; /* exited on its own */
        struct timespec tick = { 0, 200 * 1000 * 1000 };
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP) {
            kill(child, SIGTERM);
            reap(child);
            child = start_child(fd, argv + 3);
            if (child < 0) {
                unlink(path);
                return 1;
            }
        } else if (sig == SIGTERM || sig == SIGINT) {
            kill(child, SIGTERM);
            status = reap(child);
            break;
        }
    }
    unlink(path);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
