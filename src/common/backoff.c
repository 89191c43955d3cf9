/* backoff: retry delays (see backoff.h). */
#include "pitchey-build.h"

#include "common/backoff.h"

int backoff_delay_ms(int base_ms, int attempt, double unit)
{
    if (attempt < 0)
        attempt = 0;
    if (unit < 0)
        unit = 0;
    if (unit > 1)
        unit = 1;
    int64_t d = base_ms;
    for (int i = 0; i < attempt && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    int64_t jittered = d / 2 + (int64_t)((double)(d - d / 2) * unit);
    return (int)(jittered < 1 ? 1 : jittered);
}
