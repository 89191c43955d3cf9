/* validate: the field rules of API.md, counted in Unicode code points.
 *
 * Each parser collects every broken rule into a "fields" object (field ->
 * reason) so one 422 names them all.  Strings returned point into the JSON
 * object or into the input struct's own copies; free with *_free(). */
#ifndef PITCHEY_API_VALIDATE_H
#define PITCHEY_API_VALIDATE_H

#include <json.h>
#include <stdbool.h>
#include <stdint.h>

struct pitch_input {
    char *title;            /* trimmed copy */
    const char *logline;
    const char *synopsis;
    const char *genre;
    const char *status;
    bool has_budget;        /* false: null */
    int64_t budget_usd;
};

struct register_input {
    char *email;            /* trimmed, lowercased copy */
    const char *password;
    char *name;             /* trimmed copy */
    const char *role;
};

struct login_input {
    char *email;            /* trimmed, lowercased copy */
    const char *password;
};

/* Each returns 0, or -1 with *fields (a new object) naming the problems. */
int validate_pitch(struct json_object *body, struct pitch_input *in, struct json_object **fields);
void pitch_input_free(struct pitch_input *in);
int validate_register(struct json_object *body, struct register_input *in,
                      struct json_object **fields);
void register_input_free(struct register_input *in);
int validate_login(struct json_object *body, struct login_input *in, struct json_object **fields);
void login_input_free(struct login_input *in);

bool validate_genre(const char *genre);
bool validate_email(const char *email);
/* A copy without leading and trailing white space. */
char *validate_trim(const char *s);
/* Canonical text of a pitch input, for the Idempotency-Key body check. */
char *pitch_input_canonical(const struct pitch_input *in);

#endif
