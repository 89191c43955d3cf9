/* fastpath: reports of the nginx fast path (see fastpath.h). */
#include "pitchey-build.h"

#include <stdbool.h>
#include <string.h>

#include "api/fastpath.h"

static struct fastpath_stats S;

/* A decimal from lo to INT64_MAX; the end in *end. */
static bool parse_num(const char *p, int64_t lo, int64_t *out, const char **end)
{
    int64_t x = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (x > (INT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (p == start || x < lo)
        return false;
    *out = x;
    *end = p;
    return true;
}

/* "id:n,id:n" up to a space or the end; applies to v only when apply. */
static bool parse_views(const char *p, struct views *v, bool apply, int64_t *total,
                        const char **end)
{
    *total = 0;
    while (*p && *p != ' ') {
        int64_t id, n;
        if (!parse_num(p, 1, &id, &p) || *p != ':' || !parse_num(p + 1, 1, &n, &p))
            return false;
        if (*p == ',' && (p[1] == '\0' || p[1] == ' '))
            return false; /* a trailing comma */
        if (*p == ',')
            p++;
        else if (*p && *p != ' ')
            return false;
        if (apply)
            views_add(v, id, n);
        *total += n;
    }
    *end = p;
    return true;
}

/* One pass checks, the second applies: a bad report changes nothing. */
static bool parse_report(const char *report, struct views *v, bool apply, int64_t out[3])
{
    static const char *const names[3] = { "hits=", "not_modified=", "views=" };
    bool seen[3] = { false, false, false };
    out[0] = out[1] = out[2] = 0;
    const char *p = report;
    while (*p) {
        int which = -1;
        for (int i = 0; i < 3 && which < 0; i++)
            if (strncmp(p, names[i], strlen(names[i])) == 0)
                which = i;
        if (which < 0 || seen[which])
            return false;
        seen[which] = true;
        p += strlen(names[which]);
        bool ok = which == 2 ? parse_views(p, v, apply, &out[2], &p)
                             : parse_num(p, 0, &out[which], &p);
        if (!ok || (*p != ' ' && *p != '\0'))
            return false;
        if (*p == ' ' && *++p == '\0')
            return false;
    }
    return seen[0] || seen[1] || seen[2];
}

int fastpath_apply_report(const char *report, struct views *v)
{
    int64_t n[3];
    if (!parse_report(report, v, false, n))
        return -1;
    (void)parse_report(report, v, true, n);
    S.reports++;
    S.hits += (uint64_t)n[0];
    S.not_modified += (uint64_t)n[1];
    S.views += (uint64_t)n[2];
    return 0;
}

void fastpath_get_stats(struct fastpath_stats *out)
{
    *out = S;
}
