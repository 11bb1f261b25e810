/* Unit tests of the keyspace, the RNG and the sampler: exact indexing, determinism,
 * independence from batch size, unmatched posts, and uniformity (chi-square, fixed seed). */
#include "unit.h"

#include <math.h>

#include "pp_gen.h"
#include "pp_keyspace.h"
#include "pp_log.h"
#include "pp_rng.h"
#include "pp_sampler.h"
#include "pp_source.h"

static void keyspace__runs__indexes_every_key(void **state)
{
    (void)state;
    static const int64_t keys[] = {-5, -4, 0, 1, 2, 3, 10, 11, 100, 1000, 1001, 1002};
    pp_keyspace *ks = pp_keyspace_new();
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(pp_keyspace_add(ks, keys[i]), 0);
    assert_int_equal(pp_keyspace_count(ks), 12);
    assert_int_equal(pp_keyspace_runs(ks), 5);
    assert_int_equal(pp_keyspace_max(ks), 1002);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(pp_keyspace_at(ks, i), keys[i]);
    assert_int_equal(pp_keyspace_add(ks, 1002), -1);
    assert_int_equal(pp_keyspace_add(ks, 5), -1);
    assert_int_equal(pp_keyspace_count(ks), 12);
    pp_keyspace_destroy(ks);
    pp_keyspace_destroy(NULL);
}

static void keyspace__ten_million_dense__one_run(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    for (int64_t k = 1; k <= 10000000; k++)
        pp_keyspace_add(ks, k);
    assert_int_equal(pp_keyspace_runs(ks), 1);
    assert_int_equal(pp_keyspace_at(ks, 9999999), 10000000);
    pp_keyspace_destroy(ks);
}

static void rng__same_seed__same_sequence(void **state)
{
    (void)state;
    pp_rng a, b, c;
    pp_rng_seed(&a, 7, 1);
    pp_rng_seed(&b, 7, 1);
    pp_rng_seed(&c, 7, 2);
    int differs = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = pp_rng_next(&a);
        assert_true(x == pp_rng_next(&b));
        differs |= x != pp_rng_next(&c);
    }
    assert_true(differs);
    /* Pinned values: the sequence for a seed must not change between releases, or
     * --seed would stop reproducing earlier runs. Computed with an independent Python
     * transcription of splitmix64 seeding (first output 0xe220a8397b1dcdaf, the published
     * value for seed 0) and xoshiro256**. */
    static const uint64_t pinned[] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                                      0x1a5f849d4933e6e0ull};
    pp_rng_seed(&a, 0, 0);
    for (int i = 0; i < 3; i++)
        assert_true(pp_rng_next(&a) == pinned[i]);
}

static void rng__below__in_range_and_unbiased(void **state)
{
    (void)state;
    pp_rng r;
    pp_rng_seed(&r, 123, 0);
    uint64_t counts[3] = {0};
    for (int i = 0; i < 300000; i++) {
        uint64_t v = pp_rng_below(&r, 3);
        assert_true(v < 3);
        counts[v]++;
    }
    for (int i = 0; i < 3; i++)
        assert_true(counts[i] > 99000 && counts[i] < 101000);
    for (int i = 0; i < 1000; i++) {
        double u = pp_rng_unit(&r);
        assert_true(u >= 0 && u < 1);
    }
}

/* Draw n posts with a batch size; write their keys to out. */
static void draw(uint64_t seed, int batch, size_t n, int64_t *out, uint64_t *unmatched)
{
    char err[256];
    pp_source *src = pp_source_demo_new(1, 1000);
    pp_sampler *s = pp_sampler_new(src, seed, 64, 10);
    pp_sampler_set_batch(s, batch);
    for (size_t i = 0; i < n; i++) {
        const pp_post *p;
        pp_sample rc;
        while ((rc = pp_sampler_next(s, &p, err, sizeof(err))) == PP_SAMPLE_UNMATCHED)
            ;
        assert_int_equal(rc, PP_SAMPLE_POST);
        assert_int_equal(p->found, PP_POST_COMPLETE);
        out[i] = p->key;
    }
    pp_sampler_stats st;
    pp_sampler_get_stats(s, &st);
    if (unmatched)
        *unmatched = st.unmatched;
    pp_sampler_destroy(s);
    pp_source_destroy(src);
}

static void sampler__same_seed__same_posts_for_any_batch(void **state)
{
    (void)state;
    int64_t a[500], b[500], c[500];
    draw(42, 1, 500, a, NULL);
    draw(42, 7, 500, b, NULL);
    draw(42, 64, 500, c, NULL);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(a, c, sizeof(a));
    draw(43, 64, 500, b, NULL);
    assert_true(memcmp(a, b, sizeof(a)) != 0);
}

/* A source whose keys 1..keys have a post and a geo row but never a user row, counting
 * its round trips. */
typedef struct orphan_source {
    pp_source base;
    int64_t keys;
    int fetches;
} orphan_source;

static int orphan_connect(pp_source *s, char *e, size_t n)
{
    (void)s, (void)e, (void)n;
    return PP_SRC_OK;
}

static int orphan_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    (void)e, (void)n;
    orphan_source *o = (orphan_source *)s;
    for (int64_t k = pp_keyspace_count(ks) ? pp_keyspace_max(ks) + 1 : 1; k <= o->keys; k++)
        pp_keyspace_add(ks, k);
    return PP_SRC_OK;
}

static int orphan_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts, char *e,
                        size_t n)
{
    (void)e, (void)n;
    ((orphan_source *)s)->fetches++;
    for (size_t i = 0; i < nkeys; i++) {
        posts[i].key = keys[i];
        posts[i].found = (1u << PP_PIN) | (1u << PP_GEO);
    }
    return PP_SRC_OK;
}

static void orphan_describe(pp_source *s, char *out, size_t n)
{
    (void)s;
    snprintf(out, n, "orphans");
}

static void orphan_destroy(pp_source *s)
{
    (void)s;
}

static const pp_source_ops orphan_ops = {orphan_connect, orphan_load_keys, orphan_fetch,
                                         orphan_describe, orphan_destroy};

static void sampler__never_whole__one_round_trip_per_call(void **state)
{
    (void)state;
    char err[256];
    orphan_source src = {{.ops = &orphan_ops}, 3, 0};
    pp_sampler *s = pp_sampler_new(&src.base, 1, 16, 10);
    for (int i = 1; i <= 50; i++) {
        const pp_post *p = NULL;
        assert_int_equal(pp_sampler_next(s, &p, err, sizeof(err)), PP_SAMPLE_UNMATCHED);
        assert_int_equal(src.fetches, i);
    }
    pp_sampler_stats st;
    pp_sampler_get_stats(s, &st);
    assert_int_equal(st.fetched, 50 * 16);
    assert_int_equal(st.unmatched, 50 * 16);
    assert_int_equal(st.unmatched_streak, 50 * 16);
    assert_int_equal(st.missing[PP_PIN], 0);
    assert_int_equal(st.missing[PP_GEO], 0);
    assert_int_equal(st.missing[PP_USER], 50 * 16);
    pp_sampler_destroy(s);
}

/* Switching sources (a reload) at any point keeps the sequence: keys drawn but not yet
 * handed out are fetched again from the new source. */
static void sampler__set_source_midway__same_sequence(void **state)
{
    (void)state;
    char err[256];
    int64_t plain[300];
    draw(9, 64, 300, plain, NULL);
    pp_source *a = pp_source_demo_new(1, 1000);
    pp_sampler *s = pp_sampler_new(a, 9, 64, 10);
    pp_source *cur = a;
    for (size_t i = 0; i < 300; i++) {
        if (i % 37 == 5) {
            pp_source *b = pp_source_demo_new(1, 1000);
            pp_sampler_set_source(s, b, (int)(i % 50) + 1, 10);
            pp_source_destroy(cur);
            cur = b;
        }
        const pp_post *p;
        pp_sample rc;
        while ((rc = pp_sampler_next(s, &p, err, sizeof(err))) == PP_SAMPLE_UNMATCHED)
            ;
        assert_int_equal(rc, PP_SAMPLE_POST);
        assert_int_equal(p->key, plain[i]);
    }
    pp_sampler_destroy(s);
    pp_source_destroy(cur);
}

static void sampler__missing_user_rows__skipped_and_counted(void **state)
{
    (void)state;
    /* The demo data set lacks a user row for about 0.5% of posts. */
    pp_gen_opts g = {.seed = 1, .posts = 1000, .missing_frac = {0, 0, 0.005}};
    int64_t keys[20000];
    uint64_t unmatched = 0;
    draw(5, 64, 20000, keys, &unmatched);
    for (size_t i = 0; i < 20000; i++)
        assert_true(pp_gen_has(&g, PP_USER, keys[i]));
    assert_true(unmatched > 0);
}

static void sampler__uniform_over_existing_keys__chi_square(void **state)
{
    (void)state;
    /* Keys with gaps: 1..200 minus every key divisible by 3 or in 50..99. */
    pp_keyspace *ks = pp_keyspace_new();
    int64_t keys[200];
    size_t n = 0;
    for (int64_t k = 1; k <= 200; k++)
        if (k % 3 && (k < 50 || k > 99)) {
            pp_keyspace_add(ks, k);
            keys[n++] = k;
        }
    uint64_t counts[201] = {0};
    pp_rng r;
    pp_rng_seed(&r, 2024, 1);
    const int draws = 200000;
    for (int i = 0; i < draws; i++) {
        int64_t k = pp_keyspace_at(ks, pp_rng_below(&r, pp_keyspace_count(ks)));
        assert_true(k >= 1 && k <= 200 && k % 3 && (k < 50 || k > 99));
        counts[k]++;
    }
    double expected = (double)draws / (double)n, chi2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)counts[keys[i]] - expected;
        chi2 += d * d / expected;
    }
    /* n-1 = 100 degrees of freedom: the 99.9th percentile is about 149.4. */
    assert_int_equal(n, 101);
    if (chi2 > 149.4)
        fail_msg("chi-square %.1f over 100 dof: not uniform", chi2);

    /* The same statistic must reject the classic biased method (uniform over the key
     * range, then the next key that exists): keys after a gap come up too often. */
    memset(counts, 0, sizeof(counts));
    for (int i = 0; i < draws; i++) {
        int64_t k = 1 + (int64_t)pp_rng_below(&r, 200);
        while (!(k % 3 && (k < 50 || k > 99)) && k <= 200)
            k++;
        if (k > 200)
            k = 1;
        counts[k]++;
    }
    double biased = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)counts[keys[i]] - expected;
        biased += d * d / expected;
    }
    assert_true(biased > 149.4);
    pp_keyspace_destroy(ks);
}

int main(void)
{
    pp_log_init(-2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyspace__runs__indexes_every_key),
        cmocka_unit_test(keyspace__ten_million_dense__one_run),
        cmocka_unit_test(rng__same_seed__same_sequence),
        cmocka_unit_test(rng__below__in_range_and_unbiased),
        cmocka_unit_test(sampler__same_seed__same_posts_for_any_batch),
        cmocka_unit_test(sampler__missing_user_rows__skipped_and_counted),
        cmocka_unit_test(sampler__never_whole__one_round_trip_per_call),
        cmocka_unit_test(sampler__set_source_midway__same_sequence),
        cmocka_unit_test(sampler__uniform_over_existing_keys__chi_square),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
