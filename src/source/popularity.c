/* popularity: uniform or Zipf ranks by rejection-inversion, spread by a keyed permutation. */
#include "pp_popularity.h"

#include <math.h>

/* Zipf by rejection-inversion (Hörmann and Derflinger, 1996). The weight of rank k is
 * h(k) = k^-s. On the real line h(x) = x^-s is convex, so the area under it over
 * [k - 1/2, k + 1/2] is at least h(k): with H an antiderivative of h, the intervals
 * [H(k + 1/2) - h(k), H(k + 1/2)] of length exactly h(k) are disjoint. A u uniform over
 * their hull [H(3/2) - h(1), H(n + 1/2)] is mapped back to x = H^-1(u), rounded to the
 * rank k whose cell contains x, and kept when it falls in the interval of k. Each rank
 * is then kept with probability proportional to h(k) exactly, the hull is barely larger
 * than the intervals (1.0 to 1.02 candidates per draw for every n and s), and no
 * step depends on n. */

/* The constants c[] of a pp_popularity, computed for its n. */
enum {
    C_A,       /* a = 1 - s */
    C_ULO,     /* H(3/2) - h(1): lower end of the hull */
    C_UHI,     /* H(n + 1/2): upper end */
    C_SQUEEZE, /* x with k - x <= this is inside the interval of k, no test needed */
    C_XRES,    /* below this x, double precision resolves single ranks */
    C_JIT,     /* 2^-50 (|ulo| + |uhi|): the u resolution, for the width of a stretch */
    C_N        /* n as a double */
};

/* expm1(t) / t and log1p(t) / t, continuous at t = 0 where both are 1: with them H and
 * its inverse have no 0 / 0 at s = 1 and lose no digits near it, where (x^a - 1) / a
 * written out would cancel. expm1 and log1p are accurate for tiny t, so only t = 0
 * itself needs its limit. */
static double expm1_over(double t)
{
    return t == 0 ? 1 : expm1(t) / t;
}

static double log1p_over(double t)
{
    return t == 0 ? 1 : log1p(t) / t;
}

/* H(x) = (x^a - 1) / a, which is ln x at s = 1, and its inverse (1 + a u)^(1/a). */
static double big_h(const double *c, double x)
{
    double lx = log(x);
    return lx * expm1_over(c[C_A] * lx);
}

static double big_h_inv(const double *c, double u)
{
    double t = c[C_A] * u;
    if (t <= -1) /* only by rounding at the top of the hull: the largest x */
        return INFINITY;
    return exp(u * log1p_over(t));
}

static double small_h(double s, double x)
{
    return exp(-s * log(x));
}

static void setup(pp_popularity *z, uint64_t n)
{
    double *c = z->c;
    double s = z->s, nd = (double)n;
    c[C_A] = 1 - s;
    c[C_N] = nd;
    c[C_ULO] = big_h(c, 1.5) - 1;
    c[C_UHI] = big_h(c, nd + 0.5);
    c[C_SQUEEZE] = 2 - big_h_inv(c, big_h(c, 2.5) - small_h(s, 2));
    /* A candidate u lies on a grid of step (uhi - ulo) 2^-53, is rounded to a double, and
     * H^-1 adds a relative error of about ln(x) 2^-53. In x that is a width of about
     * w(x) = jit x^s + (1 + ln x) x 2^-50 ranks. Below the x where either term could
     * reach 1/8 (the second bounded with ln x <= 45), w < 1/4: single ranks are resolved
     * and the draw is exact. */
    c[C_JIT] = 0x1p-50 * (fabs(c[C_ULO]) + fabs(c[C_UHI]));
    double xres = 0x1p-3 / 0x1p-50 / 46;
    if (c[C_JIT] > 0) {
        double by_u = pow(0x1p-3 / c[C_JIT], 1 / s);
        if (by_u < xres)
            xres = by_u;
    }
    c[C_XRES] = xres;
    z->n = n;
}

void pp_popularity_init(pp_popularity *z, double s, uint64_t seed)
{
    *z = (pp_popularity){0};
    z->s = s > 10 ? 10 : s > 0 ? s : 0; /* NaN fails both tests: uniform */
    z->seed = seed;
    /* Round keys from the seed through splitmix64, in a domain of their own so that they
     * are unrelated to any RNG stream seeded with the same value. */
    uint64_t x = seed ^ 0x6A09E667F3BCC909ull;
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ull;
        z->key[i] = pp_rng_mix64(x);
    }
}

/* The mask of the low bits bits, without an undefined shift at 64. */
static uint64_t low_mask(unsigned bits)
{
    return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}

/* A permutation of [0, 2^bits): a four-round Feistel network whose halves have hi and
 * lo bits (hi = lo or lo + 1 when bits is odd). Each round maps (L, R) to
 * (R, L ^ F(R)) and so swaps the widths of the halves: x = L 2^lo + R becomes
 * R 2^hi + (L ^ F(R)), which is invertible (R is its top lo bits, L follows) whatever F,
 * so the map is a bijection for every width, 1 and 64 included. F is the keyed mixer,
 * its top bits taken as the better mixed ones. */
static uint64_t feistel(const uint64_t *key, unsigned bits, uint64_t x)
{
    unsigned lo = bits / 2, hi = bits - lo;
    for (int i = 0; i < 4; i++) {
        uint64_t r = x & low_mask(lo);
        uint64_t l = lo >= 64 ? 0 : x >> lo;
        uint64_t f = hi == 0 ? 0 : pp_rng_mix64(r + key[i]) >> (64 - hi);
        x = (hi >= 64 ? 0 : r << hi) | (l ^ f);
        unsigned t = lo;
        lo = hi;
        hi = t;
    }
    return x;
}

uint64_t pp_popularity_index_of_rank(const pp_popularity *z, uint64_t r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    /* The permutation acts on the smallest power of two holding [0, n); cycle walking
     * (apply it again until the value falls below n) restricts it to a bijection of
     * [0, n). The walk from a value below n returns below n before it could cycle, and
     * since 2^bits < 2n it takes fewer than 2 steps on average. */
    unsigned bits = 64 - (unsigned)__builtin_clzll(n - 1);
    uint64_t x = feistel(z->key, bits, r - 1);
    while (x >= n)
        x = feistel(z->key, bits, x);
    return x;
}

/* The rank of a candidate x >= 1/2, clamped to [1, n] without a double out of range. */
static uint64_t rank_of(double x, double nd, uint64_t n)
{
    double kd = floor(x + 0.5);
    if (!(kd >= 1)) /* NaN included, which the clamps above make impossible anyway */
        return 1;
    if (kd >= nd)
        return n;
    uint64_t k = (uint64_t)kd;
    return k > n ? n : k;
}

/* Beyond what doubles resolve, x is only known to about w ranks: the rank k is moved by
 * a uniform offset in about [-w/2, w/2], reflected at 1 and n, so that the probability of
 * each stretch stays as drawn and no rank is favoured by the rounding. The rejection test
 * is skipped: it cannot be evaluated there, and the part of a cell it rejects (about
 * s(s+1) / 24k^2) changes probabilities only below 2^-50 where w > 1/4. The offset is
 * at most x / 2 + 1 < 2^64, so every conversion stays in range. */
static uint64_t spread(pp_rng *rng, uint64_t k, uint64_t n, double w)
{
    double off = floor((pp_rng_unit(rng) - 0.5) * w + 0.5);
    uint64_t r;
    if (off < 0) {
        uint64_t d = (uint64_t)-off;
        r = d < k ? k - d : 1 + (d - k);
    } else {
        uint64_t d = (uint64_t)off;
        r = d <= n - k ? k + d : n - (d - (n - k) - 1);
    }
    return r < 1 ? 1 : r > n ? n : r;
}

/* A Zipf rank for n >= 2 (constants set up for n). */
static uint64_t zipf_rank(pp_popularity *z, pp_rng *rng, uint64_t n)
{
    const double *c = z->c;
    for (;;) {
        z->candidates++;
        double u = c[C_ULO] + pp_rng_unit(rng) * (c[C_UHI] - c[C_ULO]);
        double x = big_h_inv(c, u);
        uint64_t k = rank_of(x, c[C_N], n);
        double kd = (double)k;
        if (x >= c[C_XRES]) {
            double xc = x < c[C_N] ? x : c[C_N]; /* x is infinite at the very top */
            double lx = log(xc);
            double w = c[C_JIT] * exp(z->s * lx) + (1 + lx) * xc * 0x1p-50;
            if (w > 0.25)
                return spread(rng, k, n, w < xc ? w : xc);
        }
        /* The squeeze: for every k >= 2 the interval of k starts left of k - squeeze
         * (its share of the cell grows with k), so no H is needed there; rank 1 is
         * always inside since the hull starts with its interval. */
        if (kd - x <= c[C_SQUEEZE] || u >= big_h(c, kd + 0.5) - small_h(z->s, kd))
            return k;
    }
}

uint64_t pp_popularity_rank(pp_popularity *z, pp_rng *rng, uint64_t n)
{
    z->draws++;
    if (z->s == 0) {
        z->candidates++;
        return n ? 1 + pp_rng_below(rng, n) : 1;
    }
    if (n <= 1)
        return 1;
    if (z->n != n)
        setup(z, n);
    return zipf_rank(z, rng, n);
}

uint64_t pp_popularity_draw(pp_popularity *z, pp_rng *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    if (z->s == 0) {
        /* Exactly the uniform draw of before: same values, no permutation (a permuted
         * uniform draw is just as uniform, but would change every seed's sequence). */
        z->draws++;
        z->candidates++;
        return pp_rng_below(rng, n);
    }
    return pp_popularity_index_of_rank(z, pp_popularity_rank(z, rng, n), n);
}
