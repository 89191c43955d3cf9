/* routes: the API's route table. */
#ifndef PITCHEY_API_ROUTES_H
#define PITCHEY_API_ROUTES_H

#include <stddef.h>

#include "api/router.h"

extern const struct route api_routes[];
extern const size_t api_route_count;

#endif
