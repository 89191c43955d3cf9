/* clock: monotonic and wall time helpers (see clock.h). */
#include "pitchey-build.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_format_rfc3339(int64_t wall_us, char *out)
{
    time_t secs = (time_t)(wall_us / 1000000);
    int64_t rem = wall_us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        secs -= 1;
    }
    /* Every log line asks: the calendar part changes once a second, so
     * it is computed once a second ("YYYY-MM-DDTHH:MM:SS", 19 bytes). */
    static time_t cached_secs = -1;
    static char cached[20];
    if (secs != cached_secs) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        /* The compiler cannot prove the fields' ranges; a roomy scratch
         * buffer keeps -Wformat-truncation quiet without hiding a real
         * overflow. */
        char tmp[96];
        snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d",
                 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        memcpy(cached, tmp, 19);
        cached[19] = '\0';
        cached_secs = secs;
    }
    int ms = (int)(rem / 1000);
    memcpy(out, cached, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse), so no timezone state is touched. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int clock_parse_pg_timestamp(const char *s, int64_t *wall_us)
{
    int y, mo, d, h, mi, se;
    const char *p = s;
    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) ||
        *p++ != '-' || parse_digits(&p, 2, &d) || (*p != ' ' && *p != 'T'))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) ||
        *p++ != ':' || parse_digits(&p, 2, &se))
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        while (digits++ < 6)
            frac *= 10;
    }
    if (*p == '+' || *p == '-') {
        /* The sessions run with TimeZone=UTC; any other offset is a bug. */
        if (strcmp(p + 1, "00") != 0 && strcmp(p + 1, "00:00") != 0)
            return -1;
    } else if (*p == 'Z') {
        p++;
        if (*p)
            return -1;
    } else if (*p != '\0') {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    int64_t days = days_from_civil(y, mo, d);
    *wall_us = ((days * 86400) + h * 3600 + mi * 60 + se) * (int64_t)1000000 + frac;
    return 0;
}

void clock_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}
