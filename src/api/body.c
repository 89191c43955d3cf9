/* body: JSON request bodies (see body.h). */
#include "pitchey-build.h"

#include "api/body.h"
#include "common/jsonutil.h"
#include "common/log.h"

struct json_object *body_json_object(struct app *app, struct request *req, struct response *res)
{
    if (!request_content_type_json(req->content_type)) {
        response_error(res, 415, "unsupported_media_type",
                       "the body must be sent with Content-Type: application/json");
        return NULL;
    }
    if (req->body_too_large) {
        response_error(res, 413, "payload_too_large", "the body is larger than %ld bytes",
                       app->cfg.http.max_body);
        return NULL;
    }
    const char *why = NULL;
    struct json_object *obj =
        json_parse_strict(req->body.data ? req->body.data : "", req->body.len, &why);
    if (obj == NULL) {
        log_debug("event=invalid_json reason=\"%s\"", why ? why : "");
        response_error(res, 400, "invalid_json", "the body is not valid JSON (%s)",
                       why ? why : "empty");
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        response_error(res, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return obj;
}
