/* auth: API tokens on /ws without blocking the loop.
 *
 * The handshake is accepted first; the token's session is then looked up
 * asynchronously while the connection's input is paused, and a token that
 * is unknown, expired or revoked closes the connection with 1008 before any
 * other message (API.md allows this).  Revocations arrive by NOTIFY
 * (pitchey_revoke, the hex of the token hash) and by a periodic query, and
 * close the connections opened with that token with 1008. */
#ifndef PITCHEY_ROOMS_AUTH_H
#define PITCHEY_ROOMS_AUTH_H

#include "rooms/conn.h"

/* token: as sent (may be malformed).  Pauses c's input until decided. */
void auth_begin(struct conn *c, const char *token);
/* hex: lowercase hex of a token hash, optionally with a "\x" prefix. */
void auth_revoked(const char *hex);
void auth_check_revocations(void);

#endif
