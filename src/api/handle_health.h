/* handle_health: GET /api/health, the one route monitors poll. */
#ifndef PITCHEY_API_HANDLE_HEALTH_H
#define PITCHEY_API_HANDLE_HEALTH_H

#include "api/app.h"

void handle_health(struct app *app, struct request *req, struct response *res);

#endif
