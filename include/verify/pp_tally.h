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

/* Record only the messages of these n instances (a fleet, or the one --instance names):
 * any other instance's count as other. Call before the first message; names are copied,
 * a name given twice counts once. */
void pp_tally_restrict(pp_tally *t, const char *const *names, size_t n);

/* Record one message of instance's post seq (seq >= 1). Returns 1 when recorded, or 0
 * when counted as other (seq 0, or an instance outside pp_tally_restrict's). */
int pp_tally_add(pp_tally *t, const char *instance, uint64_t seq, enum pp_table table, int64_t key,
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

/* True when r, the summary of one instance or of all of them with expected posts, shows
 * a problem: a post partial, missing or beyond expected, a duplicate, a key or partition
 * mismatch, or fewer than expected posts complete. */
int pp_tally_problems(const pp_tally_result *r, uint64_t expected);

/* One instance of a fleet and the posts it reported delivered (0: 1..its max_seq). */
typedef struct pp_tally_member {
    const char *instance;
    uint64_t expected;
} pp_tally_member;

/* Summarise each of the n instances of a fleet (distinct names) into each[i], as
 * pp_tally_summarise(t, fleet[i].instance, fleet[i].expected) does, and the fleet into
 * total: the sums of each[] (max_seq the largest), and as other every message of no
 * member. */
void pp_tally_summarise_fleet(const pp_tally *t, const pp_tally_member *fleet, size_t n,
                              pp_tally_result *each, pp_tally_result *total);

/* Print up to max examples of partial, missing, duplicated, mismatched and unexpected
 * posts, in sequence order, the instance name escaped (pp_log_escape). */
void pp_tally_print_problems(const pp_tally *t, const char *instance, uint64_t expected, FILE *out,
                             int max);

/* Number of instances whose messages were recorded. */
size_t pp_tally_instances(const pp_tally *t);

#endif
