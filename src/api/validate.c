/* validate: field rules (see validate.h). */
#include "pitchey-build.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/validate.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

static const char *const genres[] = {
    "action", "animation", "comedy", "documentary", "drama", "fantasy",
    "horror", "romance", "sci-fi", "thriller", "other",
};

bool validate_genre(const char *genre)
{
    for (size_t i = 0; i < sizeof genres / sizeof genres[0]; i++)
        if (strcmp(genre, genres[i]) == 0)
            return true;
    return false;
}

static void complain(struct json_object **fields, const char *field, const char *why)
{
    if (*fields == NULL)
        *fields = json_object_new_object();
    if (!json_object_object_get_ex(*fields, field, NULL))
        json_object_object_add(*fields, field, json_object_new_string(why));
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *validate_trim(const char *s)
{
    size_t n = strlen(s);
    size_t a = 0;
    while (a < n && is_space((unsigned char)s[a]))
        a++;
    while (n > a && is_space((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s + a, n - a);
}

enum presence { REQUIRED, OPTIONAL };

/* Looks up a string field.  Returns its value, NULL when absent (and
 * optional) or broken (then complained about). */
static const char *string_field(struct json_object *body, const char *name, enum presence p,
                                struct json_object **fields, bool *present)
{
    struct json_object *v;
    *present = json_object_object_get_ex(body, name, &v);
    if (!*present) {
        if (p == REQUIRED)
            complain(fields, name, "is required");
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        complain(fields, name, "must be a string");
        return NULL;
    }
    return json_object_get_string(v);
}

static bool length_ok(const char *s, size_t min, size_t max)
{
    size_t n = utf8_count(s, strlen(s));
    return n >= min && n <= max;
}

int validate_pitch(struct json_object *body, struct pitch_input *in, struct json_object **fields)
{
    memset(in, 0, sizeof *in);
    *fields = NULL;
    bool present;
    const char *title = string_field(body, "title", REQUIRED, fields, &present);
    if (title) {
        in->title = validate_trim(title);
        if (!length_ok(in->title, 1, 200))
            complain(fields, "title", "must be 1-200 characters");
    }
    in->logline = string_field(body, "logline", REQUIRED, fields, &present);
    if (in->logline && !length_ok(in->logline, 1, 500))
        complain(fields, "logline", "must be 1-500 characters");
    in->synopsis = string_field(body, "synopsis", OPTIONAL, fields, &present);
    if (!present)
        in->synopsis = "";
    else if (in->synopsis && !length_ok(in->synopsis, 0, 20000))
        complain(fields, "synopsis", "must be 0-20000 characters");
    in->genre = string_field(body, "genre", REQUIRED, fields, &present);
    if (in->genre && !validate_genre(in->genre))
        complain(fields, "genre",
                 "must be one of action animation comedy documentary drama fantasy horror "
                 "romance sci-fi thriller other");
    in->status = string_field(body, "status", OPTIONAL, fields, &present);
    if (!present)
        in->status = "published";
    else if (in->status && strcmp(in->status, "draft") != 0 &&
             strcmp(in->status, "published") != 0)
        complain(fields, "status", "must be draft or published");

    struct json_object *b;
    if (json_object_object_get_ex(body, "budget_usd", &b) &&
        !json_object_is_type(b, json_type_null)) {
        if (!json_object_is_type(b, json_type_int)) {
            complain(fields, "budget_usd", "must be an integer from 0 to 1000000000000, or null");
        } else {
            int64_t v = json_object_get_int64(b);
            if (v < 0 || v > 1000000000000LL)
                complain(fields, "budget_usd",
                         "must be an integer from 0 to 1000000000000, or null");
            in->has_budget = true;
            in->budget_usd = v;
        }
    }
    return *fields ? -1 : 0;
}

void pitch_input_free(struct pitch_input *in)
{
    free(in->title);
    in->title = NULL;
}

bool validate_email(const char *e)
{
    size_t n = strlen(e);
    if (n < 3 || n > 254)
        return false;
    const char *at = strchr(e, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    size_t local = (size_t)(at - e);
    const char *domain = at + 1;
    if (local < 1 || local > 64 || *domain == '\0')
        return false;
    for (const char *p = e; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || c == ',' || c == '<' || c == '>' || c == '"' || c == '(' ||
            c == ')' || c == '[' || c == ']' || c == ';' || c == ':' || c == '\\')
            return false;
    }
    const char *dot = strrchr(domain, '.');
    if (dot == NULL || dot == domain || dot[1] == '\0' || domain[0] == '.' ||
        strstr(domain, "..") != NULL || domain[strlen(domain) - 1] == '-')
        return false;
    return true;
}

static char *normalised_email(const char *raw)
{
    char *e = validate_trim(raw);
    for (char *p = e; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return e;
}

int validate_register(struct json_object *body, struct register_input *in,
                      struct json_object **fields)
{
    memset(in, 0, sizeof *in);
    *fields = NULL;
    bool present;
    const char *email = string_field(body, "email", REQUIRED, fields, &present);
    if (email) {
        in->email = normalised_email(email);
        if (!validate_email(in->email))
            complain(fields, "email", "must be an email address of at most 254 characters");
    }
    in->password = string_field(body, "password", REQUIRED, fields, &present);
    if (in->password && !length_ok(in->password, 8, 128))
        complain(fields, "password", "must be 8-128 characters");
    const char *name = string_field(body, "name", REQUIRED, fields, &present);
    if (name) {
        in->name = validate_trim(name);
        if (!length_ok(in->name, 1, 100))
            complain(fields, "name", "must be 1-100 characters");
    }
    in->role = string_field(body, "role", REQUIRED, fields, &present);
    if (in->role && strcmp(in->role, "creator") != 0 && strcmp(in->role, "investor") != 0 &&
        strcmp(in->role, "producer") != 0)
        complain(fields, "role", "must be creator, investor or producer");
    return *fields ? -1 : 0;
}

void register_input_free(struct register_input *in)
{
    free(in->email);
    free(in->name);
    in->email = in->name = NULL;
}

int validate_login(struct json_object *body, struct login_input *in, struct json_object **fields)
{
    memset(in, 0, sizeof *in);
    *fields = NULL;
    bool present;
    /* The bounds of register: no account can have anything else, and an
     * unbounded email would reach the rate-limit table's index. */
    const char *email = string_field(body, "email", REQUIRED, fields, &present);
    if (email) {
        in->email = normalised_email(email);
        if (!validate_email(in->email))
            complain(fields, "email", "must be an email address of at most 254 characters");
    }
    in->password = string_field(body, "password", REQUIRED, fields, &present);
    if (in->password && !length_ok(in->password, 8, 128))
        complain(fields, "password", "must be 8-128 characters");
    return *fields ? -1 : 0;
}

void login_input_free(struct login_input *in)
{
    free(in->email);
    in->email = NULL;
}

char *pitch_input_canonical(const struct pitch_input *in)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "title", json_object_new_string(in->title));
    json_object_object_add(o, "logline", json_object_new_string(in->logline));
    json_object_object_add(o, "synopsis", json_object_new_string(in->synopsis));
    json_object_object_add(o, "genre", json_object_new_string(in->genre));
    json_object_object_add(o, "status", json_object_new_string(in->status));
    json_object_object_add(o, "budget_usd",
                           in->has_budget ? json_object_new_int64(in->budget_usd) : NULL);
    char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}
