/* bench/record_cost: what recording one request in the metrics segment
 * costs, in nanoseconds, to set against the cost of a cached hit
 * (bench/run: list-cached).  Built by `make bench/record_cost`; run with
 * a scratch directory: bench/record_cost /tmp. */
#include "pitchey-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metrics/segment.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const char *const routes[] = { "/api/health", "/api/pitches", "/api/pitches/{id}" };
    char err[512];
    if (metrics_worker_attach(argc > 1 ? argv[1] : "/tmp", routes, 3, err, sizeof err) != 0) {
        fprintf(stderr, "record_cost: %s\n", err);
        return 1;
    }
    enum { N = 20000000 };
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        double t0 = now_s();
        for (int i = 0; i < N; i++) {
            metrics_request_begin();
            metrics_record_request((size_t)(i % 3), METRICS_GET, 200, 150 + (i & 1023), 0);
        }
        double ns = (now_s() - t0) * 1e9 / N;
        if (ns < best)
            best = ns;
    }
    printf("metrics: begin + record of one request: %.1f ns (best of 5 x %d)\n", best, N);
    metrics_worker_detach();
    return 0;
}
