/* ctl: what pitcheyctl's subcommands share. */
#ifndef PITCHEY_CTL_CTL_H
#define PITCHEY_CTL_CTL_H

#include <libpq-fe.h>

#include "common/config.h"

/* Blocking connection with the daemons' settings; NULL after a message. */
PGconn *ctl_connect(const struct config *cfg);

#endif
