/* pp_keyspace: the set of keys that exist in the post table, as sorted runs of
 * consecutive integers. Memory grows with the number of gaps, not with the number of
 * keys; the i-th key is found by binary search, so sampling cost is O(log runs).
 * Every int64_t is a valid key, INT64_MIN and INT64_MAX included: no call overflows. */
#ifndef PP_KEYSPACE_H
#define PP_KEYSPACE_H

#include <stdint.h>

typedef struct pp_keyspace pp_keyspace;

pp_keyspace *pp_keyspace_new(void);
void pp_keyspace_destroy(pp_keyspace *ks); /* accepts NULL */

/* Append a key; keys must arrive strictly ascending. Returns 0, or -1 if key <= max. */
int pp_keyspace_add(pp_keyspace *ks, int64_t key);

uint64_t pp_keyspace_count(const pp_keyspace *ks);
uint64_t pp_keyspace_runs(const pp_keyspace *ks);
/* Largest key, valid only when count > 0. */
int64_t pp_keyspace_max(const pp_keyspace *ks);
/* The idx-th smallest key; idx < count. */
int64_t pp_keyspace_at(const pp_keyspace *ks, uint64_t idx);

#endif
