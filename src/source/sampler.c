/* sampler: keys drawn over existing keys by popularity, batched fetches, unmatched skipped. */
#include "pp_sampler.h"
#include "pp_log.h"
#include "pp_popularity.h"
#include "pp_rng.h"
#include "pp_util.h"

#include <stdlib.h>
#include <string.h>

#define KEY_RNG_STREAM 1

struct pp_sampler {
    pp_source *source;
    pp_keyspace *ks;
    pp_rng rng;
    uint64_t seed;     /* the permutation of popularity ranks derives from it */
    pp_popularity pop; /* which keys are drawn more often (default: uniform) */
    int max_batch, batch;
    int64_t refresh_us, last_refresh_us;
    size_t cap;     /* room in keys[] and posts[] */
    int64_t *keys;  /* drawn keys of the current batch */
    pp_post *posts; /* their rows */
    size_t n, next; /* batch size, index of the next post to hand out */
    int pending;    /* keys drawn but not fetched yet (a fetch failed, or a reload) */
    pp_sampler_stats stats;
};

static void set_limits(pp_sampler *s, int max_batch, double refresh_s)
{
    s->max_batch = max_batch < 1 ? 1 : max_batch;
    s->batch = s->max_batch;
    s->refresh_us = (int64_t)(refresh_s * 1e6);
}

/* Room for at least want keys; the posts' buffers are kept for reuse. */
static void reserve(pp_sampler *s, size_t want)
{
    if (want <= s->cap)
        return;
    s->keys = pp_xrealloc(s->keys, want * sizeof(int64_t));
    s->posts = pp_xrealloc(s->posts, want * sizeof(pp_post));
    memset(s->posts + s->cap, 0, (want - s->cap) * sizeof(pp_post));
    s->cap = want;
}

pp_sampler *pp_sampler_new(pp_source *source, uint64_t seed, int max_batch, double refresh_s)
{
    pp_sampler *s = pp_xcalloc(1, sizeof(*s));
    s->source = source;
    s->ks = pp_keyspace_new();
    pp_rng_seed(&s->rng, seed, KEY_RNG_STREAM);
    s->seed = seed;
    pp_popularity_init(&s->pop, 0, seed);
    set_limits(s, max_batch, refresh_s);
    reserve(s, (size_t)s->max_batch);
    return s;
}

void pp_sampler_destroy(pp_sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        pp_post_release(&s->posts[i]);
    free(s->posts);
    free(s->keys);
    pp_keyspace_destroy(s->ks);
    free(s);
}

void pp_sampler_set_source(pp_sampler *s, pp_source *source, int max_batch, double refresh_s)
{
    /* Keys drawn but not handed out stay first in line: they are fetched again from the
     * new source, so the posts a seed gives do not depend on when reloads happen. */
    size_t keep = s->pending ? s->n : s->n - s->next;
    memmove(s->keys, s->keys + (s->n - keep), keep * sizeof(int64_t));
    s->n = keep;
    s->next = 0;
    s->pending = keep > 0;
    pp_keyspace_destroy(s->ks);
    s->ks = pp_keyspace_new();
    s->source = source;
    s->last_refresh_us = 0;
    set_limits(s, max_batch, refresh_s);
    reserve(s, (size_t)s->max_batch);
}

void pp_sampler_set_popularity(pp_sampler *s, double s_exp)
{
    /* Unchanged on a reload that keeps it: the permutation and the draws go on as they
     * were. Changed, the new law applies from the next batch of keys drawn. */
    if (s_exp != s->pop.s)
        pp_popularity_init(&s->pop, s_exp, s->seed);
}

void pp_sampler_set_batch(pp_sampler *s, int batch)
{
    s->batch = batch < 1 ? 1 : batch > s->max_batch ? s->max_batch : batch;
}

pp_src_status pp_sampler_refresh(pp_sampler *s, char *e, size_t n)
{
    uint64_t before = pp_keyspace_count(s->ks);
    pp_src_status rc = pp_source_load_keys(s->source, s->ks, e, n);
    if (rc != PP_SRC_OK)
        return rc;
    s->last_refresh_us = pp_now_us();
    uint64_t after = pp_keyspace_count(s->ks);
    if (before == 0 && after > 0)
        pp_log_info("keyspace: %llu posts in %llu run(s) of consecutive keys, max key %lld",
                    (unsigned long long)after, (unsigned long long)pp_keyspace_runs(s->ks),
                    (long long)pp_keyspace_max(s->ks));
    else if (after > before)
        pp_log_info("keyspace: %llu new post(s), now %llu", (unsigned long long)(after - before),
                    (unsigned long long)after);
    return PP_SRC_OK;
}

/* The next complete post of the current batch, counting the others as unmatched. */
static const pp_post *take_complete(pp_sampler *s)
{
    while (s->next < s->n) {
        pp_post *p = &s->posts[s->next++];
        if (p->found == PP_POST_COMPLETE) {
            s->stats.invalid_utf8 += p->invalid_utf8;
            s->stats.unmatched_streak = 0;
            if (p->nlive) /* live timestamps: the time it is handed out to be sent */
                pp_post_stamp(p, pp_wall_us());
            return p;
        }
        s->stats.unmatched++;
        s->stats.unmatched_streak++;
        for (int t = 0; t < PP_NTABLES; t++)
            if (!(p->found & (1u << t)))
                s->stats.missing[t]++;
        if (pp_log_enabled(LOG_DEBUG))
            pp_log_debug("post %lld unmatched: pin %s, geo %s, user %s", (long long)p->key,
                         p->found & 1 ? "found" : "missing", p->found & 2 ? "found" : "missing",
                         p->found & 4 ? "found" : "missing");
    }
    return NULL;
}

/* A source's failure as the sampler reports it. */
static pp_sample failed(pp_src_status rc)
{
    return rc == PP_SRC_FATAL ? PP_SAMPLE_FATAL : PP_SAMPLE_RETRY;
}

pp_sample pp_sampler_next(pp_sampler *s, const pp_post **out, char *e, size_t n)
{
    if (!s->pending && (*out = take_complete(s)) != NULL)
        return PP_SAMPLE_POST;
    int64_t now = pp_now_us();
    if (s->last_refresh_us == 0 || now - s->last_refresh_us >= s->refresh_us) {
        pp_src_status rc = pp_sampler_refresh(s, e, n);
        if (rc != PP_SRC_OK)
            return failed(rc);
    }
    /* Keys are drawn only once per batch and kept across a failed fetch, so a retry
     * after a lost connection fetches the same keys and the sequence is unchanged. */
    if (!s->pending) {
        uint64_t count = pp_keyspace_count(s->ks);
        if (count == 0)
            return PP_SAMPLE_EMPTY;
        s->n = (size_t)s->batch;
        for (size_t i = 0; i < s->n; i++)
            s->keys[i] = pp_keyspace_at(s->ks, pp_popularity_draw(&s->pop, &s->rng, count));
        s->pending = 1;
    }
    pp_src_status rc = pp_source_fetch(s->source, s->keys, s->n, s->posts, e, n);
    if (rc != PP_SRC_OK)
        return failed(rc);
    s->pending = 0;
    s->next = 0;
    s->stats.fetched += s->n;
    *out = take_complete(s);
    return *out ? PP_SAMPLE_POST : PP_SAMPLE_UNMATCHED;
}

void pp_sampler_get_stats(const pp_sampler *s, pp_sampler_stats *st)
{
    *st = s->stats;
    st->keys = pp_keyspace_count(s->ks);
    st->keyspace_runs = pp_keyspace_runs(s->ks);
}
