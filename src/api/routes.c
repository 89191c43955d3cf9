/* routes: method + pattern -> handler for every /api route.
 *
 * Order matters only for the Allow header's listing; patterns do not
 * overlap. */
#include "pitchey-build.h"

#include "api/app.h"
#include "api/handle_health.h"
#include "api/routes.h"

#define H(fn) ((void *)(fn))

const struct route api_routes[] = {
    { "/api/health", METHOD_GET, H(handle_health), 0 },
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
