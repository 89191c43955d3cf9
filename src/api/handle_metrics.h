/* handle_metrics: GET /api/metrics (API.md) and the worker's side of the
 * pool-wide metrics segment (src/metrics/).
 *
 * Only clients in [metrics] allow may read it (403 otherwise).  The client
 * is REMOTE_ADDR, as the front server saw it; X-Forwarded-For is believed
 * only when REMOTE_ADDR is in [metrics] trusted_proxies, and then the
 * client is the right-most address in it that is not itself a trusted
 * proxy (the left part of that header is whatever the client wrote). */
#ifndef PITCHEY_API_HANDLE_METRICS_H
#define PITCHEY_API_HANDLE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/app.h"

/* At worker start: maps the segment under [api] runtime_dir and claims a
 * slot.  On failure logs a warning; the worker serves without metrics. */
void api_metrics_attach(struct app *app);
/* Copies the process's counters (edge, cache, db), RSS and circuit state
 * into its slot. */
void api_metrics_publish(struct app *app);
/* The client address the access rule applies to, written into out. */
void api_metrics_client(const char *trusted_proxies, const char *remote_addr,
                        const char *forwarded_for, char *out, size_t outlen);
bool api_metrics_allowed(const struct config *cfg, const char *remote_addr,
                         const char *forwarded_for);
void handle_metrics(struct app *app, struct request *req, struct response *res);

#endif
