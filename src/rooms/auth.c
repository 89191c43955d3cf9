/* auth: token lookup and revocation; see auth.h. */
#include "pitchey-build.h"

#include "rooms/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/token.h"
#include "common/xalloc.h"
#include "rooms/backplane.h"
#include "rooms/daemon.h"
#include "rooms/metrics.h"

static void lookup_done(PGresult *res, void *arg)
{
    struct conn *c = arg;
    if (conn_alive(c)) {
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            conn_close(c, 1011, "cannot check the token now");
        } else if (PQntuples(res) != 1) {
            metrics_count_drop("unauthorized");
            conn_close(c, 1008, "unknown, expired or revoked token");
        } else {
            c->auth = CONN_USER;
            c->user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            c->user_name = xstrdup(PQgetvalue(res, 0, 1));
            c->user_role = xstrdup(PQgetvalue(res, 0, 2));
            lws_rx_flow_control(c->wsi, 1);
        }
    }
    conn_release(c);
}

void auth_begin(struct conn *c, const char *token)
{
    if (!token_well_formed(token)) {
        metrics_count_drop("unauthorized");
        conn_close(c, 1008, "unknown, expired or revoked token");
        return;
    }
    char param[TOKEN_HASH_PARAM_LEN + 1];
    token_hash_param(daemon_state.secret, token, param);
    snprintf(c->token_hex, sizeof c->token_hex, "%s", param + 2);
    c->auth = CONN_PENDING;
    lws_rx_flow_control(c->wsi, 0);
    const char *params[] = { param };
    conn_hold(c);
    if (backplane_query("SELECT u.id, u.name, u.role FROM sessions s "
                        "JOIN users u ON u.id = s.user_id "
                        "WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL "
                        "AND s.expires_at > now()",
                        1, params, lookup_done, c) != 0) {
        conn_release(c);
        conn_close(c, 1011, "cannot check the token now");
    }
}

struct revoke_match {
    char hex[65];
};

static void close_if_match(struct conn *c, void *arg)
{
    const struct revoke_match *m = arg;
    if (c->token_hex[0] && strcmp(c->token_hex, m->hex) == 0) {
        metrics_count_drop("revoked");
        conn_close(c, 1008, "token revoked");
    }
}

void auth_revoked(const char *hex)
{
    struct revoke_match m;
    if (hex[0] == '\\' && hex[1] == 'x')
        hex += 2;
    size_t n = strlen(hex);
    if (n != 64)
        return;
    for (size_t i = 0; i < n; i++)
        m.hex[i] = (char)tolower((unsigned char)hex[i]);
    m.hex[n] = '\0';
    conn_each(close_if_match, &m);
}

static void revocations_done(PGresult *res, void *arg)
{
    (void)arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    for (int i = 0; i < PQntuples(res); i++)
        auth_revoked(PQgetvalue(res, i, 0));
}

static void any_token(struct conn *c, void *arg)
{
    if (c->token_hex[0])
        *(int *)arg = 1;
}

void auth_check_revocations(void)
{
    int have = 0;
    conn_each(any_token, &have);
    if (!have)
        return;
    char window[24];
    int w = daemon_state.cfg->rooms.revoke_check_s * 3 + 30;
    snprintf(window, sizeof window, "%d", w);
    const char *params[] = { window };
    if (backplane_query("SELECT encode(token_hash, 'hex') FROM sessions "
                        "WHERE revoked_at >= now() - make_interval(secs => $1::int) "
                        "OR (expires_at <= now() "
                        "    AND expires_at >= now() - make_interval(secs => $1::int))",
                        1, params, revocations_done, NULL) != 0)
        return;
}
