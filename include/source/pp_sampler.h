/* pp_sampler: turns a source into a stream of complete posts. Keys are drawn from the
 * keys that exist (pp_keyspace) with a seeded RNG, uniformly or with a Zipf popularity
 * (pp_popularity), fetched in batches, and handed out in draw order; posts lacking a geo
 * or user row are counted as unmatched and skipped. The sequence of posts depends only
 * on the seed, the popularity and the data, not on batch sizes. */
#ifndef PP_SAMPLER_H
#define PP_SAMPLER_H

#include <stdint.h>

#include "pp_source.h"

typedef struct pp_sampler pp_sampler;

typedef struct pp_sampler_stats {
    uint64_t fetched;             /* keys whose rows were looked up */
    uint64_t unmatched;           /* keys whose geo or user row (or the post itself) was missing */
    uint64_t missing[PP_NTABLES]; /* per table: keys whose row in it was missing */
    uint64_t unmatched_streak;    /* keys in a row, up to now, without a complete post */
    uint64_t invalid_utf8;        /* bytes replaced by U+FFFD in handed-out posts */
    uint64_t keys;                /* keys known */
    uint64_t keyspace_runs;       /* runs of consecutive keys (memory is per run) */
} pp_sampler_stats;

/* The sampler uses source (not owned) and refreshes its keyspace every refresh_s seconds
 * so that appended rows are picked up. */
pp_sampler *pp_sampler_new(pp_source *source, uint64_t seed, int max_batch, double refresh_s);
void pp_sampler_destroy(pp_sampler *s); /* accepts NULL */

/* Switch to another source (a reload): the keyspace is learnt anew from it; the keys
 * already drawn but not handed out yet are fetched again from the new source, and the
 * RNG goes on, so the sequence a seed gives is the same with or without reloads (on the
 * same data) and a reload never replays earlier posts. */
void pp_sampler_set_source(pp_sampler *s, pp_source *source, int max_batch, double refresh_s);

/* The popularity of keys: s_exp = 0 uniform (the default), otherwise the Zipf exponent
 * (0 < s_exp <= 10; see pp_popularity): the key at index i of the keyspace has the rank
 * whose pp_popularity_index_of_rank is i, for a pp_popularity of the sampler's seed. Call
 * after pp_sampler_new and on a reload; the same value again changes nothing, another
 * applies from the next batch of keys drawn. Uniform draws are those of before. */
void pp_sampler_set_popularity(pp_sampler *s, double s_exp);

/* Keys per round trip (1..max_batch): small for slow paced runs so each post is fresh,
 * large when running fast. Takes effect at the next fetch. */
void pp_sampler_set_batch(pp_sampler *s, int batch);

/* Learn the keyspace now (first call, or to force a refresh). */
pp_src_status pp_sampler_refresh(pp_sampler *s, char *errstr, size_t errstr_size);

/* What pp_sampler_next found. */
typedef enum pp_sample {
    PP_SAMPLE_POST,      /* *out is the next complete post */
    PP_SAMPLE_EMPTY,     /* no key to sample yet (empty post table) */
    PP_SAMPLE_UNMATCHED, /* a round trip found no complete post: call again */
    PP_SAMPLE_RETRY,     /* the source is unavailable (PP_SRC_RETRY): back off, call again */
    PP_SAMPLE_FATAL      /* the source needs an operator (PP_SRC_FATAL): errstr says why */
} pp_sample;

/* Hand out the next complete post: PP_SAMPLE_POST with *out pointing at a post owned by
 * the sampler (valid until the next call), or what else it found. It makes at most one
 * round trip to the source per call, so however few sampled keys have all three rows,
 * control returns to the caller (signals, limits, the watchdog) after every fetch. */
pp_sample pp_sampler_next(pp_sampler *s, const pp_post **out, char *errstr, size_t errstr_size);

void pp_sampler_get_stats(const pp_sampler *s, pp_sampler_stats *st);

#endif
