/* log: key=value lines on stderr (see log.h). */
#include "pitchey-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/proc.h"

static const char *log_program = "pitchey";
static enum log_level log_level = LOG_LEVEL_INFO;
static char log_request_id[80];

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *program)
{
    log_program = program;
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

int log_parse_level(const char *name, enum log_level *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

bool log_enabled(enum log_level level)
{
    return level <= log_level;
}

void log_set_request_id(const char *request_id)
{
    if (request_id == NULL)
        log_request_id[0] = '\0';
    else
        snprintf(log_request_id, sizeof log_request_id, "%s", request_id);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char line[4096];
    char ts[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_wall_us(), ts);
    int n = snprintf(line, sizeof line, "ts=%s level=%s prog=%s pid=%d ", ts,
                     level_names[level], log_program, (int)proc_pid());
    if (log_request_id[0] && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "request_id=%s ", log_request_id);
    if (n > 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write() per line: O_APPEND files and pipes keep lines whole. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
