/* source_demo: the generated data set of --demo, served from memory-free pure functions. */
#include "pp_gen.h"
#include "pp_source.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct demo_source {
    pp_source base;
    pp_gen_opts gen;
} demo_source;

static pp_src_status demo_connect(pp_source *s, char *e, size_t n)
{
    (void)s;
    (void)e;
    (void)n;
    return PP_SRC_OK;
}

static pp_src_status demo_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    demo_source *d = (demo_source *)s;
    int64_t from = pp_keyspace_count(ks) ? pp_keyspace_max(ks) + 1 : 1;
    (void)e;
    (void)n;
    for (int64_t k = from; k <= (int64_t)d->gen.posts; k++)
        if (pp_gen_has(&d->gen, PP_PIN, k))
            pp_keyspace_add(ks, k);
    return PP_SRC_OK;
}

static pp_src_status demo_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts,
                                char *e, size_t n)
{
    demo_source *d = (demo_source *)s;
    (void)e;
    (void)n;
    for (size_t i = 0; i < nkeys; i++) {
        pp_post *p = &posts[i];
        p->key = keys[i];
        p->found = 0;
        p->invalid_utf8 = 0;
        for (int t = 0; t < PP_NTABLES; t++) {
            pp_buf_reset(&p->value[t]);
            if (!pp_gen_has(&d->gen, t, keys[i]))
                continue;
            pp_gen_row_json(&d->gen, t, keys[i], &p->value[t]);
            p->found |= 1u << t;
        }
    }
    return PP_SRC_OK;
}

static void demo_describe(pp_source *s, char *out, size_t n)
{
    demo_source *d = (demo_source *)s;
    snprintf(out, n, "built-in demo data (%llu posts, data seed %llu)",
             (unsigned long long)d->gen.posts, (unsigned long long)d->gen.seed);
}

static void demo_destroy(pp_source *s)
{
    free(s);
}

static const pp_source_ops demo_ops = {demo_connect, demo_load_keys, demo_fetch, demo_describe,
                                       demo_destroy};

pp_source *pp_source_demo_new(uint64_t data_seed, uint64_t posts)
{
    demo_source *d = pp_xcalloc(1, sizeof(*d));
    d->base.ops = &demo_ops;
    d->gen.seed = data_seed;
    d->gen.posts = posts;
    /* A few posts without their user row show how unmatched posts are handled. */
    d->gen.missing_frac[PP_USER] = 0.005;
    return &d->base;
}
