/* clock: monotonic time for durations and deadlines, wall time for the
 * timestamps the API shows (RFC 3339, UTC, milliseconds). */
#ifndef PITCHEY_COMMON_CLOCK_H
#define PITCHEY_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_RFC3339_LEN 25 /* "2026-11-25T00:31:12.123Z" + NUL */

int64_t clock_mono_us(void);
int64_t clock_wall_us(void);
/* Formats microseconds since the epoch; out must hold CLOCK_RFC3339_LEN. */
void clock_format_rfc3339(int64_t wall_us, char *out);
/* Parses Postgres' "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (UTC session) into
 * microseconds since the epoch.  Returns 0 on success, -1 on bad input. */
int clock_parse_pg_timestamp(const char *s, int64_t *wall_us);
/* Sleeps, ignoring EINTR only when the caller says so. */
void clock_sleep_ms(int ms);

#endif
