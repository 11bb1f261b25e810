/* sampler: uniform keys over existing keys, batched fetches, unmatched posts skipped. */
#include "pp_sampler.h"
#include "pp_log.h"
#include "pp_rng.h"
#include "pp_util.h"

#include <stdlib.h>

#define KEY_RNG_STREAM 1

struct pp_sampler {
    pp_source *source;
    pp_keyspace *ks;
    pp_rng rng;
    int max_batch, batch;
    int64_t refresh_us, last_refresh_us;
    int64_t *keys;  /* drawn keys of the current batch */
    pp_post *posts; /* their rows */
    size_t n, next; /* batch size, index of the next post to hand out */
    int pending;    /* keys drawn but not fetched yet (a fetch failed or is due) */
    pp_sampler_stats stats;
};

pp_sampler *pp_sampler_new(pp_source *source, uint64_t seed, int max_batch, double refresh_s)
{
    pp_sampler *s = pp_xcalloc(1, sizeof(*s));
    s->source = source;
    s->ks = pp_keyspace_new();
    pp_rng_seed(&s->rng, seed, KEY_RNG_STREAM);
    s->max_batch = max_batch < 1 ? 1 : max_batch;
    s->batch = s->max_batch;
    s->refresh_us = (int64_t)(refresh_s * 1e6);
    s->keys = pp_xcalloc((size_t)s->max_batch, sizeof(int64_t));
    s->posts = pp_xcalloc((size_t)s->max_batch, sizeof(pp_post));
    return s;
}

void pp_sampler_destroy(pp_sampler *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->max_batch; i++)
        pp_post_release(&s->posts[i]);
    free(s->posts);
    free(s->keys);
    pp_keyspace_destroy(s->ks);
    free(s);
}

void pp_sampler_set_source(pp_sampler *s, pp_source *source, int max_batch, double refresh_s)
{
    for (int i = 0; i < s->max_batch; i++)
        pp_post_release(&s->posts[i]);
    free(s->posts);
    free(s->keys);
    pp_keyspace_destroy(s->ks);
    s->source = source;
    s->ks = pp_keyspace_new();
    s->max_batch = max_batch < 1 ? 1 : max_batch;
    s->batch = s->max_batch;
    s->refresh_us = (int64_t)(refresh_s * 1e6);
    s->last_refresh_us = 0;
    s->keys = pp_xcalloc((size_t)s->max_batch, sizeof(int64_t));
    s->posts = pp_xcalloc((size_t)s->max_batch, sizeof(pp_post));
    s->n = s->next = 0;
    s->pending = 0;
}

void pp_sampler_set_batch(pp_sampler *s, int batch)
{
    s->batch = batch < 1 ? 1 : batch > s->max_batch ? s->max_batch : batch;
}

int pp_sampler_refresh(pp_sampler *s, char *e, size_t n)
{
    uint64_t before = pp_keyspace_count(s->ks);
    int rc = pp_source_load_keys(s->source, s->ks, e, n);
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

int pp_sampler_next(pp_sampler *s, const pp_post **out, char *e, size_t n)
{
    for (;;) {
        while (s->next < s->n) {
            const pp_post *p = &s->posts[s->next++];
            if (p->found == PP_POST_COMPLETE) {
                s->stats.invalid_utf8 += p->invalid_utf8;
                *out = p;
                return PP_SRC_OK;
            }
            s->stats.unmatched++;
            if (pp_log_enabled(LOG_DEBUG))
                pp_log_debug("post %lld unmatched: pin %s, geo %s, user %s", (long long)p->key,
                             p->found & 1 ? "found" : "missing", p->found & 2 ? "found" : "missing",
                             p->found & 4 ? "found" : "missing");
        }
        int64_t now = pp_now_us();
        if (s->last_refresh_us == 0 || now - s->last_refresh_us >= s->refresh_us) {
            int rc = pp_sampler_refresh(s, e, n);
            if (rc != PP_SRC_OK)
                return rc;
        }
        uint64_t count = pp_keyspace_count(s->ks);
        if (count == 0)
            return 1;
        /* Keys are drawn only once per batch and kept across a failed fetch, so a retry
         * after a lost connection fetches the same keys and the sequence is unchanged. */
        if (!s->pending) {
            s->n = (size_t)s->batch;
            for (size_t i = 0; i < s->n; i++)
                s->keys[i] = pp_keyspace_at(s->ks, pp_rng_below(&s->rng, count));
            s->pending = 1;
        }
        int rc = pp_source_fetch(s->source, s->keys, s->n, s->posts, e, n);
        if (rc != PP_SRC_OK)
            return rc;
        s->pending = 0;
        s->next = 0;
    }
}

void pp_sampler_get_stats(const pp_sampler *s, pp_sampler_stats *st)
{
    *st = s->stats;
    st->keys = pp_keyspace_count(s->ks);
    st->keyspace_runs = pp_keyspace_runs(s->ks);
}

void pp_post_release(pp_post *p)
{
    for (int t = 0; t < PP_NTABLES; t++)
        pp_buf_free(&p->value[t]);
}
