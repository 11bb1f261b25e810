/* pp_popularity: which of the n known posts is sampled next. Uniform (every post alike,
 * the default), or Zipf with exponent s: the post of popularity rank r is drawn with
 * probability proportional to 1 / r^s, as engagement is heavy-tailed. Ranks are given to
 * posts through a permutation of [0, n) fixed by the seed, so the popular posts are spread
 * over the table rather than being its first keys. A draw costs O(1) expected whatever n
 * (no table of n weights), and the same seed gives the same draws. */
#ifndef PP_POPULARITY_H
#define PP_POPULARITY_H

#include <stdint.h>

#include "pp_rng.h"

typedef struct pp_popularity {
    double s;        /* 0: uniform */
    uint64_t seed;   /* of the rank permutation */
    uint64_t n;      /* the n the constants below were computed for; 0: none yet */
    double c[8];     /* constants of the draw for this n (private) */
    uint64_t key[4]; /* round keys of the rank permutation, from the seed (private) */
    /* Counters, for tests and diagnostics: draws made, and Zipf candidates tried by the
     * rejection loop (candidates / draws stays close to 1 whatever n and s). */
    uint64_t draws, candidates;
} pp_popularity;

/* s = 0 for uniform, or the Zipf exponent, 0 < s <= 10. Out of range values are clamped
 * rather than undefined: s > 10 is 10 (rank 1 already takes 99.9% of the draws), and a
 * negative or NaN s is uniform. */
void pp_popularity_init(pp_popularity *z, double s, uint64_t seed);

/* An index in [0, n), n > 0, drawn with rng. When n changes (the keyspace grew) the
 * constants are recomputed in O(1) and the permutation becomes one of [0, n). Uniform
 * draws are exactly pp_rng_below(rng, n) (one value of rng, no permutation), so a seed
 * gives the keys it gave before popularity existed; a Zipf draw takes a variable number
 * of values from rng (1.0 to 1.02 candidates on average, of one value each, whatever
 * n and s). */
uint64_t pp_popularity_draw(pp_popularity *z, pp_rng *rng, uint64_t n);

/* A popularity rank in [1, n], n > 0, drawn with rng: what pp_popularity_draw maps
 * through pp_popularity_index_of_rank (uniform: 1 + pp_rng_below(rng, n)). Each rank has
 * its exact probability to double precision wherever that can resolve it: all ranks of
 * tables up to about 2^45 posts, and every rank whose probability is above about 2^-50.
 * Beyond, a rank is spread uniformly over the stretch of neighbours it cannot be told
 * from, so the probability of every stretch of ranks stays right to about 2^-50. */
uint64_t pp_popularity_rank(pp_popularity *z, pp_rng *rng, uint64_t n);

/* The index that has popularity rank r (1 = the most popular), r in [1, n] (clamped).
 * A bijection of ranks onto [0, n) that depends on the seed and n; O(1) expected. */
uint64_t pp_popularity_index_of_rank(const pp_popularity *z, uint64_t r, uint64_t n);

#endif
