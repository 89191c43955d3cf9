/* libFuzzer target: the config parser (src/common/config.c) on any INI
 * text: a value is accepted or refused with a reason, never a crash. */
#include "pitchey-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct config cfg;
    char err[512];
    err[0] = '\0';
    if (config_load_string(&cfg, text, "fuzz.conf", err, sizeof err) != 0 && err[0] == '\0')
        abort(); /* a refusal always says why */
    config_free(&cfg);
    free(text);
    return 0;
}
