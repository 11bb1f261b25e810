/* Unit tests of key popularity: Zipf rank frequencies against the exact rank probabilities
 * (chi-square, seeded), the rank permutation (a bijection that depends on the seed), the
 * uniform mode (the draws of before), and a cost that does not grow with n. */
#include "unit.h"

#include <math.h>
#include <time.h>

#include "pp_keyspace.h"
#include "pp_log.h"
#include "pp_popularity.h"
#include "pp_rng.h"
#include "pp_sampler.h"
#include "pp_source.h"

/* Every chi-square below rejects at significance ALPHA = 1e-4 (one-sided upper quantile,
 * z = 3.7190). The draws are seeded, so a test passes or fails the same way on every run;
 * the small ALPHA makes it unlikely that a correct sampler fails for an unlucky seed. */
#define Z_ALPHA 3.7190
#define SEEDS 3
static const uint64_t seeds[SEEDS] = {11, 12, 13};

/* Upper ALPHA quantile of the chi-square distribution with df degrees of freedom, by the
 * Wilson-Hilferty cube-root normal approximation (within 1% for df >= 5). */
static double chi2_critical(int df)
{
    double d = df, v = 2 / (9 * d);
    double c = 1 - v + Z_ALPHA * sqrt(v);
    return d * c * c * c;
}

/* sum_{k=a}^{b} k^-s, from the definition: directly below 10^4, and by the
 * Euler-Maclaurin formula (integral, end corrections up to the third derivative; the
 * next term is below 1e-20 of the sum from 10^4 on) above, as far as ranks up to 2^64. */
static long double zeta_part(long double s, uint64_t a, uint64_t b)
{
    const uint64_t em_from = 10000;
    long double sum = 0;
    for (uint64_t k = b < em_from ? b : em_from - 1; k >= a && k > 0; k--)
        sum += powl((long double)k, -s);
    if (b < em_from)
        return sum;
    long double A = a > em_from ? a : em_from, B = b;
    long double integral = s == 1 ? logl(B / A) : (powl(B, 1 - s) - powl(A, 1 - s)) / (1 - s);
    long double ends = (powl(A, -s) + powl(B, -s)) / 2;
    long double d1 = s / 12 * (powl(A, -s - 1) - powl(B, -s - 1));
    long double d3 = s * (s + 1) * (s + 2) / 720 * (powl(A, -s - 3) - powl(B, -s - 3));
    return sum + integral + ends + d1 - d3;
}

/* Buckets of ranks [start[i], start[i+1]) (the last up to n), each expecting at least
 * MIN_EXPECTED draws: the top ranks one by one while they expect enough, then stretches
 * doubling in length, merged until they expect enough. */
#define MAX_BUCKETS 400
#define MIN_EXPECTED 20
typedef struct buckets {
    int nb;
    uint64_t start[MAX_BUCKETS + 1];
    double p[MAX_BUCKETS]; /* probability of each */
} buckets;

static void make_buckets(buckets *bk, double s, uint64_t n, uint64_t draws)
{
    long double total = zeta_part(s, 1, n);
    bk->nb = 0;
    uint64_t a = 1, len = 1;
    long double pending = 0;
    uint64_t pending_start = 1;
    while (a <= n) {
        uint64_t b = n - a < len - 1 ? n : a + len - 1;
        long double p = zeta_part(s, a, b) / total;
        if (pending == 0)
            pending_start = a;
        pending += p;
        if (b < 300 && p * draws >= MIN_EXPECTED)
            len = 1; /* still resolving single top ranks */
        else if (len < (UINT64_MAX >> 2))
            len *= 2;
        if (pending * draws >= MIN_EXPECTED && bk->nb < MAX_BUCKETS) {
            bk->start[bk->nb] = pending_start;
            bk->p[bk->nb++] = (double)pending;
            pending = 0;
        }
        if (b == n)
            break;
        a = b + 1;
    }
    if (pending > 0) /* a short last stretch joins the bucket before it */
        bk->p[bk->nb - 1] += (double)pending;
    bk->start[bk->nb] = n; /* sentinel: unused beyond the search */
}

static int bucket_of(const buckets *bk, uint64_t r)
{
    int lo = 0, hi = bk->nb - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (bk->start[mid] <= r)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static double chi2_stat(const buckets *bk, const uint64_t *obs, uint64_t draws)
{
    double chi2 = 0;
    for (int i = 0; i < bk->nb; i++) {
        double e = bk->p[i] * (double)draws, d = (double)obs[i] - e;
        chi2 += d * d / e;
    }
    return chi2;
}

/* Draw ranks with s_draw and test them against the probabilities of s_theory. Returns
 * whether the chi-square accepts; *stat and *crit say by how much. */
static int zipf_fits(double s_draw, double s_theory, uint64_t n, uint64_t seed, uint64_t draws,
                     double *stat, double *crit)
{
    static buckets bk;
    static double bk_s = -1;
    static uint64_t bk_n, bk_draws;
    static uint64_t obs[MAX_BUCKETS];
    if (bk_s != s_theory || bk_n != n || bk_draws != draws) { /* the same for every seed */
        make_buckets(&bk, s_theory, n, draws);
        bk_s = s_theory, bk_n = n, bk_draws = draws;
    }
    memset(obs, 0, sizeof(obs));
    pp_popularity z;
    pp_popularity_init(&z, s_draw, seed);
    pp_rng r;
    pp_rng_seed(&r, seed, 1);
    for (uint64_t i = 0; i < draws; i++) {
        uint64_t k = pp_popularity_rank(&z, &r, n);
        assert_true(k >= 1 && k <= n);
        obs[bucket_of(&bk, k)]++;
    }
    *stat = chi2_stat(&bk, obs, draws);
    *crit = chi2_critical(bk.nb - 1);
    return *stat <= *crit;
}

static void check_zipf(double s, uint64_t n)
{
    const uint64_t draws = 200000;
    for (int i = 0; i < SEEDS; i++) {
        double stat, crit;
        if (!zipf_fits(s, s, n, seeds[i], draws, &stat, &crit))
            fail_msg("zipf s=%g n=%llu seed %llu: chi-square %.1f > %.1f (alpha 1e-4)", s,
                     (unsigned long long)n, (unsigned long long)seeds[i], stat, crit);
    }
}

static void zipf__rank_frequencies__match_theory(void **state)
{
    (void)state;
    static const double ss[] = {0.5, 1, 1.2, 2};
    static const uint64_t ns[] = {10, 1000, 1000000};
    for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++)
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
            check_zipf(ss[i], ns[j]);
}

/* Huge tables: the bucket masses come from the Euler-Maclaurin sums, the stretches cover
 * ranks up to 2^63, where double precision no longer resolves single ranks. */
static void zipf__huge_n__stretch_frequencies_match_theory(void **state)
{
    (void)state;
    static const double ss[] = {0.5, 1, 1.1, 2};
    static const uint64_t ns[] = {1000000000000ull, 1ull << 63};
    for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++)
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
            check_zipf(ss[i], ns[j]);
}

/* The chi-square above can fail: a slightly different exponent is rejected. */
static void zipf__wrong_exponent__rejected(void **state)
{
    (void)state;
    double stat, crit;
    assert_false(zipf_fits(1.2, 1.15, 1000, 1, 200000, &stat, &crit));
    assert_false(zipf_fits(0.5, 0.45, 1000000, 1, 200000, &stat, &crit));
    assert_false(zipf_fits(1.0, 1.05, 1ull << 63, 1, 200000, &stat, &crit));
}

/* Near s = 1 the draw neither divides by zero nor loses digits: s = 1 +- 1e-9 draws
 * almost the same ranks as s = 1 from the same RNG values, and fits the s = 1 law. */
static void zipf__s_near_one__stable(void **state)
{
    (void)state;
    static const double near[] = {1 - 1e-9, 1 + 1e-9, 1 - 1e-15, 1 + 1e-15};
    const uint64_t n = 1000000;
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        pp_popularity a, b;
        pp_popularity_init(&a, 1, 3);
        pp_popularity_init(&b, near[i], 3);
        pp_rng ra, rb;
        pp_rng_seed(&ra, 3, 1);
        pp_rng_seed(&rb, 3, 1);
        int same = 0;
        for (int k = 0; k < 10000; k++)
            same += pp_popularity_rank(&a, &ra, n) == pp_popularity_rank(&b, &rb, n);
        if (same < 9900)
            fail_msg("s = 1%+g: %d of 10000 ranks as with s = 1", near[i] - 1, same);
        double stat, crit;
        if (!zipf_fits(near[i], 1, n, 5, 200000, &stat, &crit))
            fail_msg("s = 1%+g seed 5: chi-square %.1f > %.1f", near[i] - 1, stat, crit);
    }
}

/* Where doubles cannot tell single ranks apart (ranks above about 2^50 at n = 2^63), the
 * ranks are still spread over every value: their last bits are uniform, where a draw
 * rounded to doubles would give only multiples of 2, 4, ... 1024 up there. */
static void zipf__huge_ranks__low_bits_uniform(void **state)
{
    (void)state;
    for (int i = 0; i < SEEDS; i++) {
        pp_popularity z;
        pp_popularity_init(&z, 0.5, seeds[i]);
        pp_rng r;
        pp_rng_seed(&r, seeds[i], 1);
        uint64_t obs[16] = {0};
        const int draws = 160000;
        for (int k = 0; k < draws; k++)
            obs[pp_popularity_rank(&z, &r, 1ull << 63) & 15]++;
        double chi2 = 0, e = draws / 16.0;
        for (int b = 0; b < 16; b++)
            chi2 += (obs[b] - e) * (obs[b] - e) / e;
        if (chi2 > chi2_critical(15))
            fail_msg("seed %llu: rank mod 16 chi-square %.1f > %.1f", (unsigned long long)seeds[i],
                     chi2, chi2_critical(15));
    }
}

/* End to end through the permutation: the index drawn maps back to a rank (by the
 * inverse of pp_popularity_index_of_rank, built here) that follows the law. */
static void zipf__draw__indexes_follow_ranks(void **state)
{
    (void)state;
    const uint64_t n = 1000, draws = 200000;
    static uint64_t rank_at[1000];
    static buckets bk;
    static uint64_t obs[MAX_BUCKETS];
    for (int i = 0; i < SEEDS; i++) {
        pp_popularity z;
        pp_popularity_init(&z, 1.2, seeds[i]);
        for (uint64_t r = 1; r <= n; r++)
            rank_at[pp_popularity_index_of_rank(&z, r, n)] = r;
        make_buckets(&bk, 1.2, n, draws);
        memset(obs, 0, sizeof(obs));
        pp_rng rng;
        pp_rng_seed(&rng, seeds[i], 1);
        for (uint64_t d = 0; d < draws; d++) {
            uint64_t idx = pp_popularity_draw(&z, &rng, n);
            assert_true(idx < n);
            obs[bucket_of(&bk, rank_at[idx])]++;
        }
        double stat = chi2_stat(&bk, obs, draws), crit = chi2_critical(bk.nb - 1);
        if (stat > crit)
            fail_msg("seed %llu: chi-square %.1f > %.1f", (unsigned long long)seeds[i], stat, crit);
    }
}

static void permutation__small_n__bijection(void **state)
{
    (void)state;
    static const uint64_t ns[] = {1,    2,    3,    4,     5,     7,     8,
                                  9,    10,   16,   17,    100,   1000,  1023,
                                  1024, 1025, 4097, 65535, 65536, 65537, 1000003};
    static unsigned char seen[1000003];
    for (int i = 0; i < SEEDS; i++)
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
            uint64_t n = ns[j];
            pp_popularity z;
            pp_popularity_init(&z, 1.1, seeds[i]);
            memset(seen, 0, n);
            for (uint64_t r = 1; r <= n; r++) {
                uint64_t x = pp_popularity_index_of_rank(&z, r, n);
                if (x >= n || seen[x])
                    fail_msg("n %llu seed %llu: rank %llu -> %llu (%s)", (unsigned long long)n,
                             (unsigned long long)seeds[i], (unsigned long long)r,
                             (unsigned long long)x, x >= n ? "out of range" : "taken twice");
                seen[x] = 1;
            }
        }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* For huge n, a sample: the first and last 50 000 ranks map into [0, n) without two on
 * one index. */
static void permutation__huge_n__in_range_and_injective_on_sample(void **state)
{
    (void)state;
    static const uint64_t ns[] = {1000000000000ull, (1ull << 40) + 1, 1ull << 63, UINT64_MAX};
    enum { HALF = 50000 };
    static uint64_t got[2 * HALF];
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
        uint64_t n = ns[j];
        pp_popularity z;
        pp_popularity_init(&z, 1, seeds[j % SEEDS]);
        for (uint64_t r = 0; r < HALF; r++) {
            got[r] = pp_popularity_index_of_rank(&z, 1 + r, n);
            got[HALF + r] = pp_popularity_index_of_rank(&z, n - r, n);
            assert_true(got[r] < n && got[HALF + r] < n);
        }
        qsort(got, 2 * HALF, sizeof(got[0]), cmp_u64);
        for (int i = 1; i < 2 * HALF; i++)
            if (got[i] == got[i - 1])
                fail_msg("n %llu: index %llu taken twice", (unsigned long long)n,
                         (unsigned long long)got[i]);
    }
}

/* Pearson correlation of x[i] (i itself when x is NULL) and y[i], i < m. */
static double correlation(const double *x, const double *y, int m)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < m; i++) {
        mx += x ? x[i] : i;
        my += y[i];
    }
    mx /= m, my /= m;
    for (int i = 0; i < m; i++) {
        double dx = (x ? x[i] : i) - mx, dy = y[i] - my;
        sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
    }
    return sxy / sqrt(sxx * syy);
}

/* The permutation depends on the seed, and spreads the top ranks over the whole table
 * (the 10 000 most popular of 10^6 fall evenly into 10 slices of the index range). */
static void permutation__seeded_and_spread(void **state)
{
    (void)state;
    pp_popularity a, b;
    pp_popularity_init(&a, 1, 1);
    pp_popularity_init(&b, 1, 2);
    int same = 0;
    for (uint64_t r = 1; r <= 1000; r++)
        same +=
            pp_popularity_index_of_rank(&a, r, 1000) == pp_popularity_index_of_rank(&b, r, 1000);
    assert_true(same < 20); /* two random permutations share about 1 */
    for (uint64_t r = 1; r <= 100; r++)
        assert_true(pp_popularity_index_of_rank(&a, r, 1ull << 63) !=
                    pp_popularity_index_of_rank(&b, r, 1ull << 63));
    /* Nor does the rank order survive in the index order: over the top 1000 ranks the
     * correlation of rank and index, and of the indices of consecutive ranks, is that of
     * a random permutation (standard deviation 1/sqrt(1000) = 0.032; bound 5 of them). */
    static const uint64_t ns[] = {1000, 1 << 20, 1000000, 1ull << 63};
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
        for (int i = 0; i < SEEDS; i++) {
            pp_popularity z;
            pp_popularity_init(&z, 1, seeds[i]);
            double idx[1001];
            for (int r = 1; r <= 1001; r++)
                idx[r - 1] = (double)pp_popularity_index_of_rank(&z, (uint64_t)r, ns[j]);
            double rank_idx = correlation(NULL, idx, 1000);
            double next_idx = correlation(idx, idx + 1, 1000);
            if (fabs(rank_idx) > 0.16 || fabs(next_idx) > 0.16)
                fail_msg("n %llu seed %llu: correlation of rank and index %.3f, of consecutive "
                         "ranks' indices %.3f",
                         (unsigned long long)ns[j], (unsigned long long)seeds[i], rank_idx,
                         next_idx);
        }
    for (int i = 0; i < SEEDS; i++) {
        pp_popularity z;
        pp_popularity_init(&z, 1, seeds[i]);
        uint64_t obs[10] = {0};
        for (uint64_t r = 1; r <= 10000; r++)
            obs[pp_popularity_index_of_rank(&z, r, 1000000) / 100000]++;
        double chi2 = 0;
        for (int k = 0; k < 10; k++)
            chi2 += (obs[k] - 1000.0) * (obs[k] - 1000.0) / 1000.0;
        if (chi2 > chi2_critical(9))
            fail_msg("seed %llu: top ranks by index slice chi-square %.1f > %.1f",
                     (unsigned long long)seeds[i], chi2, chi2_critical(9));
    }
}

static void draw__same_seed__same_draws(void **state)
{
    (void)state;
    static const double ss[] = {0, 0.8, 1, 1.3};
    for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++) {
        pp_popularity a, b, c;
        pp_popularity_init(&a, ss[i], 77);
        pp_popularity_init(&b, ss[i], 77);
        pp_popularity_init(&c, ss[i], 78);
        pp_rng ra, rb, rc;
        pp_rng_seed(&ra, 5, 1);
        pp_rng_seed(&rb, 5, 1);
        pp_rng_seed(&rc, 5, 1);
        int differs = 0;
        for (int k = 0; k < 10000; k++) {
            uint64_t n = k < 5000 ? 100000 : 100500; /* the keyspace grows midway */
            uint64_t x = pp_popularity_draw(&a, &ra, n);
            assert_true(x == pp_popularity_draw(&b, &rb, n));
            differs += x != pp_popularity_draw(&c, &rc, n);
        }
        /* Another permutation seed moves the Zipf indices; uniform draws ignore it. */
        if (ss[i] == 0)
            assert_int_equal(differs, 0);
        else
            assert_true(differs > 5000);
    }
}

/* Uniform is the draw of before, value for value, and uniform. */
static void uniform__is_rng_below__and_uniform(void **state)
{
    (void)state;
    pp_popularity z;
    pp_popularity_init(&z, 0, 9);
    pp_rng a, b;
    pp_rng_seed(&a, 9, 1);
    pp_rng_seed(&b, 9, 1);
    static const uint64_t ns[] = {1, 2, 3, 1000, 1ull << 63, UINT64_MAX};
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
        for (int k = 0; k < 1000; k++)
            assert_true(pp_popularity_draw(&z, &a, ns[j]) == pp_rng_below(&b, ns[j]));
    static uint64_t obs[1000];
    const int draws = 500000;
    for (int i = 0; i < SEEDS; i++) {
        pp_popularity_init(&z, 0, seeds[i]);
        pp_rng_seed(&a, seeds[i], 1);
        memset(obs, 0, sizeof(obs));
        for (int k = 0; k < draws; k++)
            obs[pp_popularity_draw(&z, &a, 1000)]++;
        double chi2 = 0, e = draws / 1000.0;
        for (int k = 0; k < 1000; k++)
            chi2 += (obs[k] - e) * (obs[k] - e) / e;
        if (chi2 > chi2_critical(999))
            fail_msg("seed %llu: uniform chi-square %.1f > %.1f", (unsigned long long)seeds[i],
                     chi2, chi2_critical(999));
    }
}

/* Edges: one post, the largest tables, exponents out of range. Nothing undefined (the
 * sanitizers watch), every result in range. */
static void edges__defined_and_in_range(void **state)
{
    (void)state;
    static const double ss[] = {0, 1e-9, 0.5, 1, 1.1, 2, 10, 1e300, INFINITY, -1, NAN};
    static const uint64_t ns[] = {1, 2, 3, 1ull << 53, (1ull << 53) + 1, 1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++) {
        pp_popularity z;
        pp_popularity_init(&z, ss[i], 4);
        assert_true(z.s >= 0 && z.s <= 10);
        pp_rng r;
        pp_rng_seed(&r, 4, 1);
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
            for (int k = 0; k < 2000; k++) {
                uint64_t x = pp_popularity_draw(&z, &r, ns[j]);
                assert_true(x < ns[j]);
                uint64_t rank = pp_popularity_rank(&z, &r, ns[j]);
                assert_true(rank >= 1 && rank <= ns[j]);
            }
    }
    pp_popularity z;
    pp_popularity_init(&z, 1e300, 4);
    assert_true(z.s == 10);
    pp_popularity_init(&z, NAN, 4);
    assert_true(z.s == 0);
    /* Rank 1 of n = 2^63 with s = 10 takes 1/zeta(10) = 99.9% of the draws. */
    pp_popularity_init(&z, 10, 4);
    pp_rng r;
    pp_rng_seed(&r, 4, 1);
    int ones = 0;
    for (int k = 0; k < 10000; k++)
        ones += pp_popularity_rank(&z, &r, 1ull << 63) == 1;
    assert_true(ones > 9950);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fastest of five runs, in ns per draw. */
static double ns_per_draw(double s, uint64_t n)
{
    const int draws = 100000;
    double best = INFINITY;
    uint64_t sink = 0;
    for (int run = 0; run < 5; run++) {
        pp_popularity z;
        pp_popularity_init(&z, s, 1);
        pp_rng r;
        pp_rng_seed(&r, 1, 1);
        double t0 = now_s();
        for (int i = 0; i < draws; i++)
            sink += pp_popularity_draw(&z, &r, n);
        double t = (now_s() - t0) / draws * 1e9;
        if (t < best)
            best = t;
    }
    assert_true(sink != 1); /* keeps the loop */
    return best;
}

/* The cost does not grow with n: the rejection loop tries about one candidate per draw
 * for every n and s (asserted: the count is exact and machine independent), and the time
 * per draw at n = 10^12 is within a generous factor of that at n = 10^3 (measured as the
 * fastest of five runs, so a loaded machine slows both alike). */
static void cost__independent_of_n(void **state)
{
    (void)state;
    static const double ss[] = {1e-6, 0.1, 0.5, 0.9, 1, 1.1, 1.5, 2, 4, 10};
    static const uint64_t ns[] = {2, 10, 1000, 1000000, 1000000000000ull, 1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++)
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
            pp_popularity z;
            pp_popularity_init(&z, ss[i], 2);
            pp_rng r;
            pp_rng_seed(&r, 2, 1);
            for (int k = 0; k < 20000; k++)
                pp_popularity_draw(&z, &r, ns[j]);
            double per = (double)z.candidates / (double)z.draws;
            if (z.draws != 20000 || per > 1.05)
                fail_msg("s=%g n=%llu: %.3f candidates per draw", ss[i], (unsigned long long)ns[j],
                         per);
        }
    static const double ts[] = {0, 1.1};
    for (size_t i = 0; i < 2; i++) {
        double small = ns_per_draw(ts[i], 1000), huge = ns_per_draw(ts[i], 1000000000000ull);
        print_message("s=%g: %.1f ns per draw at n=10^3, %.1f at n=10^12\n", ts[i], small, huge);
        if (huge > 4 * small)
            fail_msg("s=%g: %.1f ns per draw at n=10^12 vs %.1f at n=10^3", ts[i], huge, small);
    }
}

/* A source of 1000 complete posts with keys 10, 20, ... 10000 (gaps between keys, so
 * that indexes and keys differ). */
enum { TEN_KEYS = 1000 };

static pp_src_status tens_connect(pp_source *s, char *e, size_t n)
{
    (void)s, (void)e, (void)n;
    return PP_SRC_OK;
}

static pp_src_status tens_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    (void)s, (void)e, (void)n;
    for (int64_t k = pp_keyspace_count(ks) ? pp_keyspace_max(ks) + 10 : 10; k <= 10 * TEN_KEYS;
         k += 10)
        pp_keyspace_add(ks, k);
    return PP_SRC_OK;
}

static pp_src_status tens_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts,
                                char *e, size_t n)
{
    (void)s, (void)e, (void)n;
    for (size_t i = 0; i < nkeys; i++) {
        posts[i].key = keys[i];
        posts[i].found = PP_POST_COMPLETE;
    }
    return PP_SRC_OK;
}

static void tens_describe(pp_source *s, char *out, size_t n)
{
    (void)s;
    snprintf(out, n, "tens");
}

static void tens_destroy(pp_source *s)
{
    (void)s;
}

static const pp_source_ops tens_ops = {tens_connect, tens_load_keys, tens_fetch, tens_describe,
                                       tens_destroy};

/* n keys from a sampler of seed with popularity s_exp (switched to another source every
 * reload_every posts, 0: never), or before any pp_sampler_set_popularity when s_exp < 0. */
static void sample_keys(uint64_t seed, double s_exp, size_t reload_every, size_t n, int64_t *out)
{
    char err[256];
    pp_source a = {.ops = &tens_ops}, b = {.ops = &tens_ops};
    pp_sampler *s = pp_sampler_new(&a, seed, 64, 10);
    if (s_exp >= 0)
        pp_sampler_set_popularity(s, s_exp);
    for (size_t i = 0; i < n; i++) {
        if (reload_every && i % reload_every == reload_every - 1) {
            pp_sampler_set_source(s, i / reload_every % 2 ? &a : &b, (int)(i % 60) + 1, 10);
            pp_sampler_set_popularity(s, s_exp);
        }
        const pp_post *p;
        assert_int_equal(pp_sampler_next(s, &p, err, sizeof(err)), PP_SAMPLE_POST);
        out[i] = p->key;
    }
    pp_sampler_destroy(s);
}

/* The sampler draws keys by popularity: the rank of each key (through the permutation of
 * the sampler's seed) follows the Zipf law; reloads that keep the exponent keep the
 * sequence; uniform stays the default and is what set_popularity(0) gives. */
static void sampler__zipf__keys_follow_ranks(void **state)
{
    (void)state;
    enum { DRAWS = 100000 };
    static int64_t keys[DRAWS], again[DRAWS];
    static uint64_t rank_at[TEN_KEYS], obs[MAX_BUCKETS];
    static buckets bk;
    make_buckets(&bk, 1.1, TEN_KEYS, DRAWS);
    for (int i = 0; i < SEEDS; i++) {
        sample_keys(seeds[i], 1.1, 0, DRAWS, keys);
        pp_popularity z;
        pp_popularity_init(&z, 1.1, seeds[i]);
        for (uint64_t r = 1; r <= TEN_KEYS; r++)
            rank_at[pp_popularity_index_of_rank(&z, r, TEN_KEYS)] = r;
        memset(obs, 0, sizeof(obs));
        for (int d = 0; d < DRAWS; d++) {
            assert_true(keys[d] % 10 == 0 && keys[d] >= 10 && keys[d] <= 10 * TEN_KEYS);
            obs[bucket_of(&bk, rank_at[keys[d] / 10 - 1])]++;
        }
        double stat = chi2_stat(&bk, obs, DRAWS), crit = chi2_critical(bk.nb - 1);
        if (stat > crit)
            fail_msg("seed %llu: sampler chi-square %.1f > %.1f", (unsigned long long)seeds[i],
                     stat, crit);
        sample_keys(seeds[i], 1.1, 777, DRAWS, again);
        assert_memory_equal(keys, again, sizeof(keys));
    }
    sample_keys(5, -1, 0, 5000, keys);
    sample_keys(5, 0, 300, 5000, again);
    assert_memory_equal(keys, again, 5000 * sizeof(keys[0]));
    /* The default is uniform: each key about 5 times in 5000, no key 50 times. */
    static uint64_t count[TEN_KEYS];
    memset(count, 0, sizeof(count));
    for (int d = 0; d < 5000; d++)
        assert_true(++count[keys[d] / 10 - 1] < 30);
}

int main(void)
{
    pp_log_init(-2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zipf__rank_frequencies__match_theory),
        cmocka_unit_test(zipf__huge_n__stretch_frequencies_match_theory),
        cmocka_unit_test(zipf__wrong_exponent__rejected),
        cmocka_unit_test(zipf__s_near_one__stable),
        cmocka_unit_test(zipf__huge_ranks__low_bits_uniform),
        cmocka_unit_test(zipf__draw__indexes_follow_ranks),
        cmocka_unit_test(permutation__small_n__bijection),
        cmocka_unit_test(permutation__huge_n__in_range_and_injective_on_sample),
        cmocka_unit_test(permutation__seeded_and_spread),
        cmocka_unit_test(draw__same_seed__same_draws),
        cmocka_unit_test(uniform__is_rng_below__and_uniform),
        cmocka_unit_test(edges__defined_and_in_range),
        cmocka_unit_test(cost__independent_of_n),
        cmocka_unit_test(sampler__zipf__keys_follow_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
