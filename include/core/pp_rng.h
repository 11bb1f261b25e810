/* pp_rng: a small seeded PRNG (xoshiro256**, seeded through splitmix64) so that the same
 * seed gives the same sequence on every platform. Independent streams for independent
 * uses (keys, delays) keep one use from perturbing another. */
#ifndef PP_RNG_H
#define PP_RNG_H

#include <stdint.h>

typedef struct pp_rng {
    uint64_t s[4];
} pp_rng;

/* Seed the generator; different stream values give unrelated sequences for one seed. */
void pp_rng_seed(pp_rng *r, uint64_t seed, uint64_t stream);
uint64_t pp_rng_next(pp_rng *r);
/* Uniform integer in [0, n), without modulo bias; n must be > 0. */
uint64_t pp_rng_below(pp_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double pp_rng_unit(pp_rng *r);
/* splitmix64's output function: a bijective 64-bit mixer whose every output bit depends on
 * every input bit (seeds derived from other seeds, keyed permutations). */
uint64_t pp_rng_mix64(uint64_t x);
/* A seed from the operating system, for runs without --seed. */
uint64_t pp_rng_os_seed(void);

#endif
