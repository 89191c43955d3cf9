/* warm: pitcheyctl warm, recompute cached API answers. */
#ifndef PITCHEY_CTL_WARM_H
#define PITCHEY_CTL_WARM_H

#include "common/config.h"

/* argv[0] is "warm"; the rest are API paths ("/api/pitches?genre=drama").
 * Without paths, the first pages of every list: both sorts, all genres and
 * each genre.  Returns the exit status. */
int ctl_warm(const struct config *cfg, int argc, char **argv);

#endif
