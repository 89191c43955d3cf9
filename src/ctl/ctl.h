/* ctl: what pitcheyctl's subcommands share. */
#ifndef PITCHEY_CTL_CTL_H
#define PITCHEY_CTL_CTL_H

#include <libpq-fe.h>

#include "common/config.h"

/* Blocking connection with the daemons' settings; NULL after a message. */
PGconn *ctl_connect(const struct config *cfg);
/* seed-demo: argv[0] is the command name. */
int ctl_seed_demo(const struct config *cfg, int argc, char **argv);

#endif
