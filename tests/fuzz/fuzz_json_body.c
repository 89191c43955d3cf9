/* libFuzzer target: JSON body validation, as a request body goes through
 * it: strict parsing (src/common/jsonutil.c), then the field rules of
 * register, login and pitches (src/api/validate.c). */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"
#include "common/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    struct json_object *body = json_parse_strict((const char *)data, size, &why);
    if (body == NULL) {
        if (why == NULL)
            abort(); /* a refusal always says why */
        return 0;
    }
    if (!json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        return 0;
    }
    struct json_object *fields;
    struct pitch_input p;
    if (validate_pitch(body, &p, &fields) == 0) {
        char *canon = pitch_input_canonical(&p);
        free(canon);
    } else {
        json_object_put(fields);
    }
    pitch_input_free(&p);
    struct register_input r;
    if (validate_register(body, &r, &fields) != 0)
        json_object_put(fields);
    register_input_free(&r);
    struct login_input l;
    if (validate_login(body, &l, &fields) != 0)
        json_object_put(fields);
    login_input_free(&l);
    size_t len;
    (void)json_text(body, &len);
    json_object_put(body);
    return 0;
}
