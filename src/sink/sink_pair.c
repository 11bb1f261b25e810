/* Kafka and Kinesis as one sink: every post goes to both, and is reported once, when both
 * have settled it. The first report of a post waits in a table keyed by sequence number. */
#include "pp_sink.h"

#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

/* The first report of a post, kept until the other sink's arrives (which carries the
 * key, category and country too). */
typedef struct half {
    uint64_t seq;
    int ok, unknown;
    int32_t partition[PP_NTABLES];
    int64_t offset[PP_NTABLES];
    int64_t latency_us;
    char error[256];
    struct half *next;
} half;

typedef struct pair_sink {
    pp_sink base;
    pp_sink *a, *b;
    half **bucket;
    size_t nbuckets, count;
    pp_post_done_cb done;
    void *opaque;
} pair_sink;

static size_t slot(const pair_sink *ps, uint64_t seq)
{
    return (size_t)((seq * 0x9e3779b97f4a7c15ULL) >> 20) & (ps->nbuckets - 1);
}

static void grow(pair_sink *ps)
{
    size_t old_n = ps->nbuckets;
    half **old = ps->bucket;
    ps->nbuckets = old_n ? old_n * 2 : 1024;
    ps->bucket = pp_xcalloc(ps->nbuckets, sizeof(*ps->bucket));
    for (size_t i = 0; i < old_n; i++) {
        for (half *h = old[i], *next; h; h = next) {
            next = h->next;
            size_t j = slot(ps, h->seq);
            h->next = ps->bucket[j];
            ps->bucket[j] = h;
        }
    }
    free(old);
}

/* Remove and return the waiting half of seq, or NULL. */
static half *take(pair_sink *ps, uint64_t seq)
{
    if (!ps->nbuckets)
        return NULL;
    for (half **pp = &ps->bucket[slot(ps, seq)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->seq == seq) {
            half *h = *pp;
            *pp = h->next;
            ps->count--;
            return h;
        }
    }
    return NULL;
}

static void keep(pair_sink *ps, const pp_post_result *r)
{
    if (ps->count >= ps->nbuckets)
        grow(ps);
    half *h = pp_xcalloc(1, sizeof(*h));
    h->seq = r->seq;
    h->ok = r->ok;
    h->unknown = r->unknown;
    memcpy(h->partition, r->partition, sizeof(h->partition));
    memcpy(h->offset, r->offset, sizeof(h->offset));
    h->latency_us = r->latency_us;
    if (r->error)
        snprintf(h->error, sizeof(h->error), "%s", r->error);
    size_t j = slot(ps, h->seq);
    h->next = ps->bucket[j];
    ps->bucket[j] = h;
    ps->count++;
}

static void settled(pair_sink *ps, const pp_post_result *r, int from_a)
{
    half *other = take(ps, r->seq);
    if (!other) {
        keep(ps, r);
        return;
    }
    pp_post_result res = *r;
    char error[300];
    res.ok = r->ok && other->ok;
    /* Failed only when neither sink can hold any of it; when one has it (whole, in part,
     * or possibly) a consumer of that sink may see it: unknown, as pp_sink.h defines. */
    res.unknown = !res.ok && (r->ok || r->unknown || other->ok || other->unknown);
    if (!from_a) { /* Kafka's report came first: its partitions and offsets */
        memcpy(res.partition, other->partition, sizeof(res.partition));
        memcpy(res.offset, other->offset, sizeof(res.offset));
    }
    if (other->latency_us > res.latency_us)
        res.latency_us = other->latency_us;
    if (!res.ok) {
        int a_failed = from_a ? !r->ok : !other->ok;
        const char *why = from_a == a_failed ? r->error : other->error;
        snprintf(error, sizeof(error), "%s: %s", a_failed ? "kafka" : "kinesis",
                 why ? why : "failed");
        res.error = error;
    }
    if (ps->done)
        ps->done(ps->opaque, &res);
    free(other);
}

static void on_a(void *opaque, const pp_post_result *r)
{
    settled(opaque, r, 1);
}

static void on_b(void *opaque, const pp_post_result *r)
{
    settled(opaque, r, 0);
}

static int worst(int x, int y)
{
    if (x == PP_SINK_BROKEN || y == PP_SINK_BROKEN)
        return PP_SINK_BROKEN;
    return x == PP_SINK_NOT_YET || y == PP_SINK_NOT_YET ? PP_SINK_NOT_YET : PP_SINK_READY;
}

static int pair_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    int ra = pp_sink_prepare(ps->a, timeout_ms, e, n);
    if (ra == PP_SINK_BROKEN)
        return ra;
    char eb[1024] = "";
    int rb = pp_sink_prepare(ps->b, timeout_ms, eb, sizeof(eb));
    if (rb != PP_SINK_READY && (ra == PP_SINK_READY || rb == PP_SINK_BROKEN))
        pp_errf(e, n, "%s", eb);
    return worst(ra, rb);
}

static int pair_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    int rc = pp_sink_fits(ps->a, p, e, n);
    return rc ? rc : pp_sink_fits(ps->b, p, e, n);
}

static int pair_full(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    return pp_sink_full(ps->a) || pp_sink_full(ps->b);
}

static int pair_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    /* Both or neither: a post one sink cannot carry goes to none. */
    if (pair_fits(s, p, e, n))
        return PP_SINK_SKIPPED;
    char eb[1024];
    int ra = pp_sink_produce(ps->a, p, seq, e, n);
    int rb = pp_sink_produce(ps->b, p, seq, eb, sizeof(eb));
    if (ra == 0 && rb != 0)
        pp_errf(e, n, "%s", eb);
    return ra || rb ? -1 : 0;
}

static void pair_poll(pp_sink *s, int timeout_ms)
{
    pair_sink *ps = (pair_sink *)s;
    pp_sink_poll(ps->a, 0);
    pp_sink_poll(ps->b, timeout_ms);
    pp_sink_poll(ps->a, 0);
}

static int pair_flush(pp_sink *s, int timeout_ms)
{
    pair_sink *ps = (pair_sink *)s;
    int half_ms = timeout_ms / 2 > 0 ? timeout_ms / 2 : 1;
    int ra = pp_sink_flush(ps->a, half_ms);
    int rb = pp_sink_flush(ps->b, half_ms);
    return ra || rb ? -1 : 0;
}

static void pair_abandon(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    pp_sink_abandon(ps->a);
    pp_sink_abandon(ps->b);
}

static int pair_healthy(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    return pp_sink_healthy(ps->a) && pp_sink_healthy(ps->b);
}

static int pair_fatal(pp_sink *s, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    return pp_sink_fatal(ps->a, e, n) || pp_sink_fatal(ps->b, e, n);
}

static int pair_check(pp_sink *s, FILE *out, int timeout_ms)
{
    pair_sink *ps = (pair_sink *)s;
    int ra = pp_sink_check(ps->a, out, timeout_ms);
    int rb = pp_sink_check(ps->b, out, timeout_ms);
    return ra < rb ? ra : rb;
}

static void pair_destroy(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    pp_sink_destroy(ps->a);
    pp_sink_destroy(ps->b);
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (half *h = ps->bucket[i], *next; h; h = next) {
            next = h->next;
            free(h);
        }
    free(ps->bucket);
    free(ps);
}

static const pp_sink_ops pair_ops = {
    .prepare = pair_prepare,
    .fits = pair_fits,
    .full = pair_full,
    .produce = pair_produce,
    .poll = pair_poll,
    .flush = pair_flush,
    .abandon = pair_abandon,
    .healthy = pair_healthy,
    .fatal = pair_fatal,
    .check = pair_check,
    .destroy = pair_destroy,
};

pp_sink *pp_sink_open(const pp_config *c, const char *const topics[PP_NTABLES], int demo,
                      int dry_run, pp_stats *stats, pp_post_done_cb done, void *opaque, char *e,
                      size_t n)
{
    if (dry_run)
        return pp_sink_dry_new(stdout, topics, c->service.instance, stats, done, opaque);
    if (!c->kinesis.enabled)
        return pp_sink_kafka_new(c, topics, demo, stats, done, opaque, e, n);
    if (!c->kafka.enabled)
        return pp_sink_kinesis_new(c, stats, done, opaque, e, n);

    pair_sink *ps = pp_xcalloc(1, sizeof(*ps));
    ps->base.ops = &pair_ops;
    ps->done = done;
    ps->opaque = opaque;
    ps->a = pp_sink_kafka_new(c, topics, demo, stats, on_a, ps, e, n);
    ps->b = ps->a ? pp_sink_kinesis_new(c, stats, on_b, ps, e, n) : NULL;
    if (!ps->b) {
        pair_destroy(&ps->base);
        return NULL;
    }
    return &ps->base;
}
