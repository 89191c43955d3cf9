/* pitchey-baseline: the yardstick of bench/run, not part of the product.
 *
 * A minimal libfcgi worker that answers every request with a fixed JSON body
 * of a given size: what FastCGI through the same nginx costs with no work at
 * all (the transport limit).  With --mget it first does one memcached
 * multi-get of an entry of that size and two small keys, the way a cache hit
 * does (binary protocol, TCP_NODELAY, like src/cache/client.c): the ceiling
 * of an in-process cache hit on this machine.
 *
 *   pitchey-baseline [--body-bytes N] [--mget HOST:PORT[,HOST:PORT...]]
 *
 * The listening socket is fd 0 (spawn-fcgi, multiwatch). */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_ENTRY "pitchey-bench:entry"
#define KEY_TAG1 "pitchey-bench:t:pitches"
#define KEY_TAG2 "pitchey-bench:t:user"

static char *make_body(size_t n)
{
    /* {"items":[...],"pad":"xxxx"} of exactly n bytes (at least 32). */
    if (n < 32)
        n = 32;
    char *b = malloc(n + 1);
    if (b == NULL)
        return NULL;
    const char *head = "{\"items\":[],\"pad\":\"";
    size_t h = strlen(head);
    memcpy(b, head, h);
    memset(b + h, 'x', n - h - 2);
    b[n - 2] = '"';
    b[n - 1] = '}';
    b[n] = '\0';
    return b;
}

static memcached_st *connect_cache(const char *servers, const char *body, size_t len)
{
    memcached_st *mc = memcached_create(NULL);
    memcached_server_st *list = memcached_servers_parse(servers);
    if (mc == NULL || list == NULL || memcached_server_push(mc, list) != MEMCACHED_SUCCESS) {
        fprintf(stderr, "pitchey-baseline: bad server list %s\n", servers);
        exit(1);
    }
    memcached_server_list_free(list);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 100);
    /* Every key on the entry's server: one round trip, as the service does. */
    static const char *const keys[] = { KEY_ENTRY, KEY_TAG1, KEY_TAG2 };
    for (int i = 0; i < 3; i++) {
        const char *v = i == 0 ? body : "12345678901234567890";
        size_t vl = i == 0 ? len : 20;
        memcached_return_t rc = memcached_set_by_key(mc, KEY_ENTRY, strlen(KEY_ENTRY), keys[i],
                                                     strlen(keys[i]), v, vl, 0, 0);
        if (rc != MEMCACHED_SUCCESS) {
            fprintf(stderr, "pitchey-baseline: set %s: %s\n", keys[i], memcached_strerror(mc, rc));
            exit(1);
        }
    }
    return mc;
}

/* One multi-get of the three keys; the entry's bytes land in *out. */
static int fetch(memcached_st *mc, char **out, size_t *out_len)
{
    static const char *const keys[] = { KEY_ENTRY, KEY_TAG1, KEY_TAG2 };
    static const size_t lens[] = { sizeof KEY_ENTRY - 1, sizeof KEY_TAG1 - 1,
                                   sizeof KEY_TAG2 - 1 };
    memcached_return_t rc = memcached_mget_by_key(mc, KEY_ENTRY, sizeof KEY_ENTRY - 1, keys, lens, 3);
    if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "pitchey-baseline: mget: %s\n", memcached_strerror(mc, rc));
        return -1;
    }
    memcached_result_st *r;
    int found = 0;
    while ((r = memcached_fetch_result(mc, NULL, &rc)) != NULL) {
        if (memcached_result_key_length(r) == sizeof KEY_ENTRY - 1 &&
            memcmp(memcached_result_key_value(r), KEY_ENTRY, sizeof KEY_ENTRY - 1) == 0) {
            size_t n = memcached_result_length(r);
            char *copy = malloc(n);
            if (copy) {
                memcpy(copy, memcached_result_value(r), n);
                free(*out);
                *out = copy;
                *out_len = n;
            }
        }
        found++;
        memcached_result_free(r);
    }
    if (found != 3)
        fprintf(stderr, "pitchey-baseline: mget found %d of 3 keys (%s)\n", found,
                memcached_strerror(mc, rc));
    return found == 3 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "body-bytes", required_argument, NULL, 'b' },
        { "mget", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    size_t body_bytes = 4096;
    const char *servers = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "b:m:", opts, NULL)) != -1) {
        if (o == 'b')
            body_bytes = (size_t)strtoul(optarg, NULL, 10);
        else if (o == 'm')
            servers = optarg;
        else
            return 2;
    }
    char *body = make_body(body_bytes);
    if (body == NULL)
        return 1;
    size_t len = strlen(body);
    memcached_st *mc = servers ? connect_cache(servers, body, len) : NULL;
    if (FCGX_Init() != 0)
        return 1;
    FCGX_Request req;
    FCGX_InitRequest(&req, 0, 0);
    char *fetched = NULL;
    size_t fetched_len = 0;
    while (FCGX_Accept_r(&req) >= 0) {
        const char *out = body;
        size_t out_len = len;
        const char *status = "200 OK";
        if (mc) {
            if (fetch(mc, &fetched, &fetched_len) == 0) {
                out = fetched;
                out_len = fetched_len;
            } else {
                status = "503 Service Unavailable";
            }
        }
        FCGX_FPrintF(req.out,
                     "Status: %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %lu\r\n\r\n",
                     status, (unsigned long)out_len);
        FCGX_PutStr(out, (int)out_len, req.out);
        FCGX_Finish_r(&req);
    }
    free(fetched);
    free(body);
    if (mc)
        memcached_free(mc);
    return 0;
}
