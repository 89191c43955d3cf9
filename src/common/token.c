/* token: generation and keyed hashing of bearer tokens (see token.h). */
#include "pitchey-build.h"

#include <sodium.h>
#include <string.h>

#include "common/token.h"

void token_generate(char out[TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, TOKEN_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

bool token_well_formed(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++) {
        char c = t[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        if (n > TOKEN_LEN)
            return false;
    }
    return n == TOKEN_LEN;
}

void token_hash(const unsigned char secret[SECRET_BYTES], const char *token,
                unsigned char out[TOKEN_HASH_BYTES])
{
    crypto_generichash(out, TOKEN_HASH_BYTES, (const unsigned char *)token, strlen(token), secret,
                       SECRET_BYTES);
}

void token_hash_param(const unsigned char secret[SECRET_BYTES], const char *token,
                      char out[TOKEN_HASH_PARAM_LEN + 1])
{
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(secret, token, h);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, TOKEN_HASH_BYTES * 2 + 1, h, sizeof h);
}
