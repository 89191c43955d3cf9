/* token: bearer tokens and their stored form.
 *
 * A token is 256 random bits in base64url without padding (43 characters).
 * Postgres keeps only BLAKE2b-256 of the token keyed with the server
 * secret, so a copy of the sessions table lets nobody in, and every host
 * with the same secret computes the same hash. */
#ifndef PITCHEY_COMMON_TOKEN_H
#define PITCHEY_COMMON_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/secret.h"

#define TOKEN_LEN 43
#define TOKEN_HASH_BYTES 32
/* "\x" + 64 hex digits: the bytea text form used as a query parameter. */
#define TOKEN_HASH_PARAM_LEN (2 + TOKEN_HASH_BYTES * 2)

void token_generate(char out[TOKEN_LEN + 1]);
/* True for 43 characters of the base64url alphabet. */
bool token_well_formed(const char *token);
void token_hash(const unsigned char secret[SECRET_BYTES], const char *token,
                unsigned char out[TOKEN_HASH_BYTES]);
/* The hash as a bytea parameter, "\\x" + hex. */
void token_hash_param(const unsigned char secret[SECRET_BYTES], const char *token,
                      char out[TOKEN_HASH_PARAM_LEN + 1]);

#endif
