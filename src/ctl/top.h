/* top: pitcheyctl top, the pool's figures live in a terminal (like
 * varnishstat): read straight from the metrics segment under [api]
 * runtime_dir, so it needs no front server and no [metrics] allow entry,
 * only read access to that file; plus the rooms daemon's headline figures
 * from its /metrics.  argv[0] is the command name. */
#ifndef PITCHEY_CTL_TOP_H
#define PITCHEY_CTL_TOP_H

#include "common/config.h"

int ctl_top(const struct config *cfg, int argc, char **argv);

#endif
