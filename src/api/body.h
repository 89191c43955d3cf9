/* body: the JSON request body, checked in API.md's order: content type
 * (415), size (413), syntax (400 invalid_json, also for a non-object). */
#ifndef PITCHEY_API_BODY_H
#define PITCHEY_API_BODY_H

#include <json.h>

#include "api/app.h"

/* Returns a new reference to the body object, or NULL with res set. */
struct json_object *body_json_object(struct app *app, struct request *req, struct response *res);

#endif
