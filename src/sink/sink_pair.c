/* sink_pair: several sinks as one (Kafka and Kinesis when both are enabled), treated
 * alike: every post goes to each child and is reported once, when all have settled it. The
 * reports of a post wait in a table keyed by sequence number. Also pp_sink_open. */
#include "pp_inflight.h"
#include "pp_sink.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pp_util.h"

typedef struct pair_sink pair_sink;

/* The done opaque of one child. */
typedef struct child_ref {
    pair_sink *pair;
    size_t index;
} child_ref;

/* A post some children have settled and others not yet. */
typedef struct pending {
    uint64_t seq;
    int64_t key;
    size_t settled; /* children that reported it */
    int all_delivered, any_held;
    size_t where_from; /* the child whose partitions and offsets are kept; SIZE_MAX: none */
    int32_t partition[PP_NTABLES];
    int64_t offset[PP_NTABLES];
    int64_t latency_us;
    size_t error_from; /* the child whose error is kept; SIZE_MAX: none */
    char error[256];
    struct pending *next;
} pending;

struct pair_sink {
    pp_sink base;
    pp_sink **child;
    child_ref *ref;
    size_t n;
    pending **bucket;
    size_t nbuckets, count;
};

static size_t slot(const pair_sink *ps, uint64_t seq)
{
    return (size_t)((seq * 0x9e3779b97f4a7c15ULL) >> 20) & (ps->nbuckets - 1);
}

static void grow(pair_sink *ps)
{
    size_t old_n = ps->nbuckets;
    pending **old = ps->bucket;
    ps->nbuckets = old_n ? old_n * 2 : 1024;
    ps->bucket = pp_xcalloc(ps->nbuckets, sizeof(*ps->bucket));
    for (size_t i = 0; i < old_n; i++) {
        for (pending *h = old[i], *next; h; h = next) {
            next = h->next;
            size_t j = slot(ps, h->seq);
            h->next = ps->bucket[j];
            ps->bucket[j] = h;
        }
    }
    free(old);
}

/* The pending entry of seq, made on its first report. */
static pending *find(pair_sink *ps, uint64_t seq, int64_t key)
{
    if (ps->nbuckets)
        for (pending *h = ps->bucket[slot(ps, seq)]; h; h = h->next)
            if (h->seq == seq)
                return h;
    if (ps->count >= ps->nbuckets)
        grow(ps);
    pending *h = pp_xcalloc(1, sizeof(*h));
    h->seq = seq;
    h->key = key;
    h->all_delivered = 1;
    h->where_from = SIZE_MAX;
    h->error_from = SIZE_MAX;
    size_t j = slot(ps, seq);
    h->next = ps->bucket[j];
    ps->bucket[j] = h;
    ps->count++;
    return h;
}

static void forget(pair_sink *ps, const pending *h)
{
    for (pending **pp = &ps->bucket[slot(ps, h->seq)]; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            ps->count--;
            return;
        }
}

/* One child settled a post; the post is reported once every child has. */
static void on_child(void *opaque, const pp_post_result *r)
{
    const child_ref *ref = opaque;
    pair_sink *ps = ref->pair;
    pending *h = find(ps, r->seq, r->key);
    h->settled++;
    if (r->outcome != PP_DELIVERED)
        h->all_delivered = 0;
    /* Some of it may be in this child's destination, where a consumer may see it. */
    if (r->outcome != PP_FAILED)
        h->any_held = 1;
    int reports_where = 0;
    for (int t = 0; t < PP_NTABLES; t++)
        reports_where |= r->partition[t] >= 0 || r->offset[t] >= 0;
    if (reports_where && ref->index < h->where_from) {
        h->where_from = ref->index;
        memcpy(h->partition, r->partition, sizeof(h->partition));
        memcpy(h->offset, r->offset, sizeof(h->offset));
    }
    if (r->latency_us > h->latency_us)
        h->latency_us = r->latency_us;
    if (r->outcome != PP_DELIVERED && ref->index < h->error_from) {
        h->error_from = ref->index;
        snprintf(h->error, sizeof(h->error), "%s: %s", ps->child[ref->index]->name,
                 r->error ? r->error : "failed");
    }
    if (h->settled < ps->n)
        return;
    forget(ps, h);
    pp_post_result res = {.seq = h->seq,
                          .key = h->key,
                          /* Failed only when no child can hold any of it. */
                          .outcome = h->all_delivered ? PP_DELIVERED
                                     : h->any_held    ? PP_UNKNOWN
                                                      : PP_FAILED,
                          .latency_us = h->latency_us,
                          .error = h->all_delivered ? NULL : h->error};
    for (int t = 0; t < PP_NTABLES; t++) {
        res.partition[t] = h->where_from == SIZE_MAX ? -1 : h->partition[t];
        res.offset[t] = h->where_from == SIZE_MAX ? -1 : h->offset[t];
    }
    if (ps->base.done)
        ps->base.done(ps->base.opaque, &res);
    free(h);
}

/* The worst state wins: broken, then not yet, then ready; errstr names the first child in
 * the worst state. */
static pp_sink_ready pair_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    pp_sink_ready rc = PP_SINK_READY;
    for (size_t i = 0; i < ps->n && rc != PP_SINK_BROKEN; i++) {
        char err[1024] = "";
        pp_sink_ready r = pp_sink_prepare(ps->child[i], timeout_ms, err, sizeof(err));
        if (r > rc) {
            rc = r;
            pp_errf(e, n, "%s", err);
        }
    }
    return rc;
}

/* Each child's fits, once per post: the children's produce slots are called directly. */
static int pair_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        if (!pp_sink_fits(ps->child[i], p, e, n))
            return 0;
    return 1;
}

static int pair_full(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        if (pp_sink_full(ps->child[i]))
            return 1;
    return 0;
}

/* The post fits every child (pp_sink_produce checked). */
static pp_sink_put pair_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    pp_sink_put rc = PP_SINK_QUEUED;
    for (size_t i = 0; i < ps->n; i++) {
        char err[1024];
        if (ps->child[i]->ops->produce(ps->child[i], p, seq, err, sizeof(err)) != PP_SINK_QUEUED &&
            rc == PP_SINK_QUEUED) {
            rc = PP_SINK_FAILED;
            pp_errf(e, n, "%s", err);
        }
    }
    return rc;
}

/* The wait is shared among the children, so each is served within timeout_ms. */
static void pair_poll(pp_sink *s, int timeout_ms)
{
    pair_sink *ps = (pair_sink *)s;
    int share = timeout_ms > 0 ? timeout_ms / (int)ps->n : 0;
    if (timeout_ms > 0 && share < 1)
        share = 1;
    for (size_t i = 0; i < ps->n; i++)
        pp_sink_poll(ps->child[i], share);
}

static pp_sink_drain pair_flush(pp_sink *s, int timeout_ms)
{
    pair_sink *ps = (pair_sink *)s;
    int share = timeout_ms / (int)ps->n > 0 ? timeout_ms / (int)ps->n : 1;
    pp_sink_drain rc = PP_SINK_DRAINED;
    for (size_t i = 0; i < ps->n; i++)
        if (pp_sink_flush(ps->child[i], share) != PP_SINK_DRAINED)
            rc = PP_SINK_PENDING;
    return rc;
}

static void pair_abandon(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        pp_sink_abandon(ps->child[i]);
}

static int pair_healthy(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        if (!pp_sink_healthy(ps->child[i]))
            return 0;
    return 1;
}

static int pair_fatal(pp_sink *s, char *e, size_t n)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        if (pp_sink_fatal(ps->child[i], e, n))
            return 1;
    return 0;
}

static void pair_check(pp_sink *s, int timeout_ms, pp_check_list *out)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        pp_sink_check(ps->child[i], timeout_ms, out);
}

static size_t pair_stats(pp_sink *s, pp_sink_stats *out, size_t max)
{
    pair_sink *ps = (pair_sink *)s;
    size_t got = 0;
    for (size_t i = 0; i < ps->n && got < max; i++)
        got += pp_sink_stats_get(ps->child[i], out + got, max - got);
    return got;
}

static void pair_destroy(pp_sink *s)
{
    pair_sink *ps = (pair_sink *)s;
    for (size_t i = 0; i < ps->n; i++)
        pp_sink_destroy(ps->child[i]);
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (pending *h = ps->bucket[i], *next; h; h = next) {
            next = h->next;
            free(h);
        }
    free(ps->bucket);
    free(ps->child);
    free(ps->ref);
    pp_sink_base_release(&ps->base);
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
    .stats = pair_stats,
    .destroy = pair_destroy,
};

pp_sink *pp_sink_pair_new(pp_sink *const *children, size_t n, pp_post_done_cb done, void *opaque)
{
    pair_sink *ps = pp_xcalloc(1, sizeof(*ps));
    pp_sink_base_init(&ps->base, &pair_ops, "pair", NULL, NULL, done, opaque);
    ps->n = n;
    ps->child = pp_xcalloc(n, sizeof(*ps->child));
    ps->ref = pp_xcalloc(n, sizeof(*ps->ref));
    for (size_t i = 0; i < n; i++) {
        ps->child[i] = children[i];
        ps->ref[i] = (child_ref){ps, i};
        ps->child[i]->done = on_child;
        ps->child[i]->opaque = &ps->ref[i];
    }
    return &ps->base;
}

pp_sink *pp_sink_open(const pp_config *c, int demo, int dry_run, pp_post_done_cb done, void *opaque,
                      char *e, size_t n)
{
    if (dry_run) {
        /* Whatever stdio holds goes first, so the lines follow it in order. */
        fflush(stdout);
        return pp_sink_dry_new(c, STDOUT_FILENO, done, opaque);
    }
    pp_sink *child[2];
    size_t nchild = 0;
    /* Configuration validation refuses a configuration with neither sink. */
    if (c->kafka.enabled) {
        if (!(child[nchild] = pp_sink_kafka_new(c, demo, done, opaque, e, n)))
            goto fail;
        nchild++;
    }
    if (c->kinesis.enabled) {
        if (!(child[nchild] = pp_sink_kinesis_new(c, done, opaque, e, n)))
            goto fail;
        nchild++;
    }
    return nchild == 1 ? child[0] : pp_sink_pair_new(child, nchild, done, opaque);
fail:
    while (nchild)
        pp_sink_destroy(child[--nchild]);
    return NULL;
}
