/* routes: method + pattern -> handler for every /api route.
 *
 * A path may have several entries (one per method, so only the cacheable
 * GET carries X-Cache-Status); the first entry whose pattern and method
 * match wins. */
#include "pitchey-build.h"

#include "api/app.h"
#include "api/handle_health.h"
#include "api/handle_metrics.h"
#include "api/handlers.h"
#include "api/routes.h"

#define H(fn) ((void *)(fn))

const struct route api_routes[] = {
    { "/api/health", METHOD_GET, H(handle_health), 0 },
    { "/api/metrics", METHOD_GET, H(handle_metrics), 0 },
    { "/api/pitches", METHOD_GET, H(handle_pitches_list), ROUTE_CACHEABLE },
    { "/api/pitches", METHOD_POST, H(handle_pitch_create), 0 },
    { "/api/pitches/{id}", METHOD_GET, H(handle_pitch_get), ROUTE_CACHEABLE },
    { "/api/pitches/{id}", METHOD_PUT, H(handle_pitch_update), 0 },
    { "/api/pitches/{id}", METHOD_DELETE, H(handle_pitch_delete), 0 },
    { "/api/auth/register", METHOD_POST, H(handle_register), 0 },
    { "/api/auth/login", METHOD_POST, H(handle_login), 0 },
    { "/api/auth/logout", METHOD_POST, H(handle_logout), 0 },
    /* Before {id}: "me" is not an id.  Flagged cacheable for its BYPASS. */
    { "/api/users/me", METHOD_GET, H(handle_users_me), ROUTE_CACHEABLE },
    { "/api/users/{id}", METHOD_GET, H(handle_user_get), ROUTE_CACHEABLE },
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
