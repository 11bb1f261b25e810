/* pp_tally: the verifier's ledger. Messages are recorded by (instance, sequence number,
 * table) from their headers; the ledger then tells which posts arrived whole, which are
 * partial, which sequence numbers are missing, and which messages are duplicates or
 * disagree on the post key or partition. Sequence numbers come from message headers, which
 * anybody who can write to the topics chooses: memory and time follow the messages
 * recorded, never the numbers they carry (16 bytes per post for a run read roughly in
 * order, a hash table for scattered numbers such as 2^62). */
#ifndef PP_TALLY_H
#define PP_TALLY_H

#include <stdint.h>
#include <stdio.h>

#include "pp_config.h"

typedef struct pp_tally pp_tally;

typedef struct pp_tally_result {
    uint64_t messages;           /* messages recorded */
    uint64_t other;              /* messages without pinpostd headers, or of other instances */
    uint64_t posts_complete;     /* all three messages present */
    uint64_t posts_partial;      /* one or two of three */
    uint64_t posts_missing;      /* sequence numbers in 1..expected with no message at all */
    uint64_t posts_unexpected;   /* posts numbered beyond expected (only when expected > 0) */
    uint64_t duplicates;         /* messages beyond the first for a (seq, table) */
    uint64_t key_mismatch;       /* posts whose three messages carry different keys */
    uint64_t partition_mismatch; /* posts spread over different partition numbers */
    uint64_t max_seq;
} pp_tally_result;

pp_tally *pp_tally_new(void);
void pp_tally_destroy(pp_tally *t); /* accepts NULL */

/* Record one message of instance's post seq (seq >= 1; 0 is counted as other). */
void pp_tally_add(pp_tally *t, const char *instance, uint64_t seq, enum pp_table table, int64_t key,
                  int32_t partition);
void pp_tally_add_other(pp_tally *t);

/* Record one Kinesis record by its partition key "KEY:SEQ:INSTANCE" (pp_contract; pk need
 * not be NUL-terminated) on this partition (its shard number). A key that does not parse
 * (another producer's record, an older pinpostd's bare key), or one of another instance
 * than only (when not NULL), counts as other. Returns 1 when recorded as a message of a
 * post, with *key and *seq set, or 0 when counted as other. */
int pp_tally_add_partition_key(pp_tally *t, const char *only, const char *pk, size_t n,
                               enum pp_table table, int32_t partition, int64_t *key, uint64_t *seq);

/* Summarise one instance (NULL: the only instance seen, or all of them). Sequence
 * numbers 1..expected must all be present; expected 0 means 1..max_seq. Posts numbered
 * beyond expected count only as posts_unexpected (and in key/partition_mismatch). Time
 * follows the posts recorded: missing ones are counted, not visited. */
void pp_tally_summarise(const pp_tally *t, const char *instance, uint64_t expected,
                        pp_tally_result *out);

/* Print up to max examples of partial, missing, duplicated, mismatched and unexpected
 * posts, in sequence order, the instance name escaped (pp_log_escape). */
void pp_tally_print_problems(const pp_tally *t, const char *instance, uint64_t expected, FILE *out,
                             int max);

/* Number of instances seen. */
size_t pp_tally_instances(const pp_tally *t);

#endif
