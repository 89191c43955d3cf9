/* daemon: what every module of pitchey-rooms shares: the configuration,
 * the lws context and vhost, this node's id and the server secret.  Set
 * once by main() before the loop starts; read-only afterwards. */
#ifndef PITCHEY_ROOMS_DAEMON_H
#define PITCHEY_ROOMS_DAEMON_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/secret.h"

struct rooms_daemon {
    const struct config *cfg;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int64_t node_id;
    unsigned char secret[SECRET_BYTES];
    bool shutting_down;
};

extern struct rooms_daemon daemon_state;

#endif
