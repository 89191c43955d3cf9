/* Unit tests: the Prometheus text (0.0.4) and JSON renderings of a
 * snapshot.  The strict parsers (promtool, python's prometheus_client)
 * read the real endpoint in it_metrics; here the shape is checked line by
 * line. */
#include "pitchey-build.h"

#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/expose.h"
#include "metrics/rooms_probe.h"
#include "unit.h"

static struct metrics_snapshot *sample_snapshot(void)
{
    struct metrics_snapshot *s = calloc(1, sizeof *s);
    s->nroutes = 3;
    strcpy(s->routes[0], "/api/pitches");
    strcpy(s->routes[1], "/api/pitches/{id}");
    strcpy(s->routes[2], "we\"ird\\");
    s->route[0].requests[METRICS_GET][1] = 3;
    s->route[0].requests[METRICS_POST][4] = 1;
    s->route[0].latency[histogram_bucket_index(90)] = 2;
    s->route[0].latency[histogram_bucket_index(900)] = 1;
    s->route[0].latency[HISTOGRAM_BUCKETS] = 1;
    s->route[0].latency_sum_us = 90 + 90 + 900 + 20000000;
    s->counters[MC_CACHE_HIT] = 7;
    s->counters[MC_CACHE_LOCK_WAIT] = 5;
    s->counters[MC_CACHE_LOCK_FALLBACK] = 2;
    s->workers_alive = 2;
    s->workers_busy = 1;
    s->restarts = 4;
    s->nworkers = 2;
    s->worker[0] = (struct metrics_worker_figures){ .pid = 42, .alive = true, .requests = 4,
                                                    .rss_bytes = 1048576 };
    s->worker[1] = (struct metrics_worker_figures){ .pid = 0, .alive = false, .requests = 9 };
    return s;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

START_TEST(text_counters_and_labels)
{
    struct metrics_snapshot *s = sample_snapshot();
    struct buf b = BUF_INIT;
    metrics_expose_text(s, &b);
    const char *t = b.data;
    ck_assert(has_line(t, "# TYPE pitchey_http_requests_total counter"));
    ck_assert(has_line(t, "pitchey_http_requests_total{route=\"/api/pitches\",method=\"GET\",code=\"2xx\"} 3"));
    ck_assert(has_line(t, "pitchey_http_requests_total{route=\"/api/pitches\",method=\"POST\",code=\"5xx\"} 1"));
    /* Zero series other than GET 2xx are left out. */
    ck_assert(!strstr(t, "method=\"PUT\""));
    ck_assert(has_line(t, "pitchey_http_requests_total{route=\"we\\\"ird\\\\\",method=\"GET\",code=\"2xx\"} 0"));
    ck_assert(has_line(t, "pitchey_cache_requests_total{result=\"hit\"} 7"));
    ck_assert(has_line(t, "pitchey_cache_coalesced_waits_total{outcome=\"served\"} 3"));
    ck_assert(has_line(t, "pitchey_cache_coalesced_waits_total{outcome=\"fallback\"} 2"));
    ck_assert(has_line(t, "pitchey_workers_alive 2"));
    ck_assert(has_line(t, "pitchey_workers_busy 1"));
    ck_assert(has_line(t, "pitchey_worker_restarts_total 4"));
    ck_assert(has_line(t, "pitchey_worker_requests_total{worker=\"1\"} 9"));
    ck_assert(has_line(t, "pitchey_worker_resident_memory_bytes{worker=\"0\",pid=\"42\"} 1048576"));
    ck_assert(!strstr(t, "pid=\"0\"")); /* dead workers have no gauges */
    buf_free(&b);
    free(s);
}
END_TEST

START_TEST(text_histogram_is_cumulative)
{
    struct metrics_snapshot *s = sample_snapshot();
    struct buf b = BUF_INIT;
    metrics_expose_text(s, &b);
    const char *t = b.data;
    ck_assert(has_line(t, "# TYPE pitchey_http_request_duration_seconds histogram"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"0.000050\"} 0"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"0.000100\"} 2"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"0.000750\"} 2"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"0.001000\"} 3"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"10.000000\"} 3"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_bucket{route=\"/api/pitches\",le=\"+Inf\"} 4"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_count{route=\"/api/pitches\"} 4"));
    ck_assert(has_line(t, "pitchey_http_request_duration_seconds_sum{route=\"/api/pitches\"} 20.001080"));
    ck_assert(has_line(t, "pitchey_db_request_duration_seconds_bucket{le=\"+Inf\"} 0"));
    ck_assert(has_line(t, "pitchey_db_request_duration_seconds_sum 0.000000"));
    buf_free(&b);
    free(s);
}
END_TEST

/* Every sample belongs to the family declared last, each family is
 * declared once, counters end in _total, and no series repeats. */
START_TEST(text_is_well_formed)
{
    struct metrics_snapshot *s = sample_snapshot();
    struct buf b = BUF_INIT;
    metrics_expose_text(s, &b);
    ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
    char *text = strdup(b.data);
    char family[128] = "", type[32] = "";
    size_t nfam = 0;
    char *fams[256];
    char *seen = calloc(1, b.len + 1);
    size_t seen_len = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            ck_assert_int_eq(sscanf(line + 7, "%127s %31s", family, type), 2);
            for (size_t i = 0; i < nfam; i++)
                ck_assert_msg(strcmp(fams[i], family) != 0, "family %s twice", family);
            ck_assert(nfam < 256);
            fams[nfam++] = strdup(family);
            if (strcmp(type, "counter") == 0) {
                size_t n = strlen(family);
                ck_assert_msg(n > 6 && strcmp(family + n - 6, "_total") == 0, "%s", family);
            }
            continue;
        }
        ck_assert_msg(line[0] != '#', "stray comment %s", line);
        size_t fl = strlen(family);
        ck_assert_msg(fl && strncmp(line, family, fl) == 0, "%s outside its family %s", line,
                      family);
        const char *rest = line + fl;
        if (strcmp(type, "histogram") == 0)
            ck_assert(strncmp(rest, "_bucket{", 8) == 0 || strncmp(rest, "_sum", 4) == 0 ||
                      strncmp(rest, "_count", 6) == 0);
        else
            ck_assert(*rest == ' ' || *rest == '{');
        char *space = strrchr(line, ' ');
        ck_assert(space != NULL);
        char *end;
        strtod(space + 1, &end);
        ck_assert_msg(*end == '\0', "bad value in %s", line);
        *space = '\0';
        size_t n = strlen(line);
        for (const char *p = seen; p < seen + seen_len; p += strlen(p) + 1)
            ck_assert_msg(strcmp(p, line) != 0, "series %s twice", line);
        memcpy(seen + seen_len, line, n + 1);
        seen_len += n + 1;
    }
    ck_assert_uint_gt(nfam, 20);
    for (size_t i = 0; i < nfam; i++)
        free(fams[i]);
    free(seen);
    free(text);
    buf_free(&b);
    free(s);
}
END_TEST

START_TEST(json_has_the_same_figures_and_quantiles)
{
    struct metrics_snapshot *s = sample_snapshot();
    struct metrics_rooms rooms = { .up = true, .connections = 3, .messages_out = 10 };
    struct buf b = BUF_INIT;
    metrics_expose_json(s, &rooms, &b);
    struct json_object *o = json_tokener_parse(b.data);
    ck_assert_msg(o != NULL, "not JSON: %s", b.data);
    struct json_object *routes, *r0, *v, *cache, *workers, *ro;
    ck_assert(json_object_object_get_ex(o, "routes", &routes));
    ck_assert_uint_eq(json_object_array_length(routes), 3);
    r0 = json_object_array_get_idx(routes, 0);
    ck_assert(json_object_object_get_ex(r0, "route", &v));
    ck_assert_str_eq(json_object_get_string(v), "/api/pitches");
    ck_assert(json_object_object_get_ex(r0, "requests", &v));
    ck_assert_int_eq(json_object_get_int64(v), 4);
    ck_assert(json_object_object_get_ex(r0, "p50", &v));
    double p50 = json_object_get_double(v);
    ck_assert(p50 > 50e-6 && p50 <= 100e-6);
    ck_assert(json_object_object_get_ex(r0, "p99", &v));
    ck_assert(fabs(json_object_get_double(v) - 10.0) < 1e-6); /* rank 3.96 of 4: in +Inf */
    ck_assert(json_object_object_get_ex(r0, "histogram", &v));
    ck_assert_uint_eq(json_object_array_length(v), HISTOGRAM_SLOTS);
    struct json_object *r1 = json_object_array_get_idx(routes, 1);
    ck_assert(json_object_object_get_ex(r1, "p95", &v));
    ck_assert(json_object_is_type(v, json_type_null)); /* no observations */
    struct json_object *r2 = json_object_array_get_idx(routes, 2);
    ck_assert(json_object_object_get_ex(r2, "route", &v));
    ck_assert_str_eq(json_object_get_string(v), "we\"ird\\");
    ck_assert(json_object_object_get_ex(o, "cache", &cache));
    ck_assert(json_object_object_get_ex(cache, "hit", &v));
    ck_assert_int_eq(json_object_get_int64(v), 7);
    ck_assert(json_object_object_get_ex(o, "workers", &workers));
    ck_assert(json_object_object_get_ex(workers, "alive", &v));
    ck_assert_int_eq(json_object_get_int64(v), 2);
    ck_assert(json_object_object_get_ex(o, "rooms", &ro));
    ck_assert(json_object_object_get_ex(ro, "connections", &v));
    ck_assert_int_eq(json_object_get_int64(v), 3);
    ck_assert(json_object_object_get_ex(o, "buckets_seconds", &v));
    ck_assert_uint_eq(json_object_array_length(v), HISTOGRAM_BUCKETS);
    json_object_put(o);
    buf_free(&b);
    free(s);
}
END_TEST

START_TEST(rooms_figures_parse)
{
    struct metrics_rooms r;
    ck_assert_int_eq(metrics_rooms_parse("# HELP x\npitchey_rooms_connections 5\n"
                                                  "pitchey_rooms_messages_out_total 17\n", &r), 0);
    ck_assert(r.up);
    ck_assert(r.connections == 5 && r.messages_out == 17);
    ck_assert_int_eq(metrics_rooms_parse("nothing here\n", &r), -1);
    ck_assert(!r.up);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics_expose");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, text_counters_and_labels);
    tcase_add_test(tc, text_histogram_is_cumulative);
    tcase_add_test(tc, text_is_well_formed);
    tcase_add_test(tc, json_has_the_same_figures_and_quantiles);
    tcase_add_test(tc, rooms_figures_parse);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
