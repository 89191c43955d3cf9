/* pitchey-rooms: the WebSocket rooms daemon (pitchey-rooms(8)).
 *
 * Reads pitchey.conf, loads the server secret, listens on [rooms] listen
 * for /ws and /metrics, joins the cluster through Postgres, and runs one
 * event loop until SIGTERM or SIGINT, which close every client with 1001. */
#include "pitchey-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/config.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/signals.h"
#include "rooms/auth.h"
#include "rooms/backplane.h"
#include "rooms/daemon.h"
#include "rooms/ring.h"
#include "rooms/room.h"
#include "rooms/server.h"

struct rooms_daemon daemon_state;

static void on_signal(int sig)
{
    (void)sig;
    server_request_stop();
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pitchey-rooms [--config FILE] [--version] [--help]\n");
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
                                          { "version", no_argument, NULL, 'V' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'V':
            printf("pitchey-rooms %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config_path)
        config_path = config_default_path();

    log_init("pitchey-rooms");
    static struct config cfg;
    char err[512];
    if (config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "pitchey-rooms: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    enum log_level level;
    if (log_parse_level(cfg.log.level, &level) == 0)
        log_set_level(level);
    if (sodium_init() < 0) {
        fprintf(stderr, "pitchey-rooms: libsodium failed to start\n");
        return 1;
    }
    if (secret_load(cfg.auth.secret_file, daemon_state.secret, err, sizeof err) != 0) {
        fprintf(stderr, "pitchey-rooms: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    daemon_state.cfg = &cfg;
    randombytes_buf(&daemon_state.node_id, sizeof daemon_state.node_id);
    /* Positive, and exact as a JSON number (NOTIFY payloads). */
    daemon_state.node_id &= (INT64_C(1) << 53) - 1;
    if (daemon_state.node_id == 0)
        daemon_state.node_id = 1;
    ring_set_cap((size_t)cfg.rooms.ring_bytes);

    static const int stop[] = { SIGTERM, SIGINT, 0 };
    signals_install(on_signal, stop);
    /* HUP is no stop: a closed terminal or an operator's habitual `kill
     * -HUP` must not drop every client.  Settings are read at start; a
     * restart (TERM: 1001, clients resume with since) applies new ones. */
    signal(SIGHUP, SIG_IGN);

    if (server_init() != 0) {
        config_free(&cfg);
        return 1;
    }
    static const struct backplane_handlers wiring = {
        room_notify_message,     room_notify_presence, room_deliver_event,
        room_resync_all,         room_republish_presence, room_stop_publishing,
        auth_revoked,            auth_check_revocations,
    };
    backplane_start(&wiring);
    server_run();
    server_free();
    log_info("component=rooms event=exit");
    sodium_memzero(daemon_state.secret, sizeof daemon_state.secret);
    config_free(&cfg);
    return 0;
}
