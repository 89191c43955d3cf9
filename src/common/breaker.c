/* breaker: circuit breaker state machine (see breaker.h). */
#include "pitchey-build.h"

#include "common/breaker.h"

void breaker_init(struct breaker *b, int threshold, int cooldown_ms)
{
    b->threshold = threshold > 0 ? threshold : 1;
    b->cooldown_us = (int64_t)cooldown_ms * 1000;
    b->failures = 0;
    b->open_until = 0;
    b->probing = false;
    b->opens = 0;
    b->rejects = 0;
}

bool breaker_allow(struct breaker *b, int64_t now)
{
    if (b->open_until == 0)
        return true;
    if (now >= b->open_until && (!b->probing || now >= b->probe_until)) {
        b->probing = true;
        b->probe_until = now + b->cooldown_us;
        return true;
    }
    b->rejects++;
    return false;
}

void breaker_success(struct breaker *b)
{
    b->failures = 0;
    b->open_until = 0;
    b->probing = false;
}

void breaker_failure(struct breaker *b, int64_t now)
{
    b->failures++;
    if (b->probing || b->failures >= b->threshold) {
        if (b->open_until == 0 || b->probing)
            b->opens++;
        b->open_until = now + b->cooldown_us;
        b->probing = false;
    }
}

void breaker_trip(struct breaker *b, int64_t now)
{
    if (b->failures < b->threshold)
        b->failures = b->threshold - 1;
    breaker_failure(b, now);
}

bool breaker_is_open(const struct breaker *b, int64_t now)
{
    return b->open_until != 0 && (now < b->open_until || (b->probing && now < b->probe_until));
}

int breaker_retry_after_s(const struct breaker *b, int64_t now)
{
    int64_t left = b->open_until - now;
    if (left <= 0)
        return 1;
    int s = (int)((left + 999999) / 1000000);
    return s < 1 ? 1 : s;
}
