/* pp_gen: the deterministic synthetic Pinterest data set. Every row is a pure function
 * of (seed, table, key), so rows can be produced in any order, one at a time, in bounded
 * memory: as SQL for loading MySQL (pinpost-gen) or straight to JSON (--demo).
 * Keys run 1..posts; a fraction of keys can be left out of all tables (gaps) and a
 * fraction of posts can lack their geo or user row (unmatched posts). */
#ifndef PP_GEN_H
#define PP_GEN_H

#include <stdint.h>

#include "pp_contract.h"
#include "pp_buf.h"

typedef struct pp_gen_opts {
    uint64_t seed;
    uint64_t posts;                  /* keys 1..posts */
    double gap_frac;                 /* fraction of keys absent from every table */
    double missing_frac[PP_NTABLES]; /* per table: fraction of present keys without a row */
} pp_gen_opts;

/* True when table t has a row for key. */
int pp_gen_has(const pp_gen_opts *o, enum pp_table t, int64_t key);

/* Append the row of table t for key as a JSON object (the message contract). */
void pp_gen_row_json(const pp_gen_opts *o, enum pp_table t, int64_t key, pp_buf *out);

/* Append the row as a parenthesised SQL VALUES tuple. */
void pp_gen_row_sql(const pp_gen_opts *o, enum pp_table t, int64_t key, pp_buf *out);

/* CREATE TABLE statement for table t (default names), utf8mb4. */
const char *pp_gen_schema(enum pp_table t);

#endif
