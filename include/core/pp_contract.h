/* pp_contract: how a message names the run and post it belongs to, the one definition the
 * sinks write and pinpost-verify reads (README "What it guarantees", docs/kinesis.md).
 *
 * Kafka: two headers on every message, the instance name and the post's sequence number
 * in decimal. Kinesis records have no headers, so the partition key carries the same:
 * "KEY:SEQ:INSTANCE" (post key and sequence number in decimal, the instance last so it may
 * hold any character the configuration allows, ':' included). The shard is still chosen by
 * the post key alone (the sink sends ExplicitHashKey = MD5 of the decimal key, which is
 * what Kinesis computes for a partition key equal to the key), so the three records of a
 * post, and every sample of a key, land on the same shard number. */
#ifndef PP_CONTRACT_H
#define PP_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

enum pp_table { PP_PIN = 0, PP_GEO = 1, PP_USER = 2, PP_NTABLES = 3 };

/* Short names of the tables as used in config keys and topic suffixes: pin, geo, user. */
extern const char *const pp_table_names[PP_NTABLES];

#define PP_HEADER_INSTANCE "pinpostd.instance"
#define PP_HEADER_SEQ "pinpostd.seq"

/* Kinesis allows partition keys of 1 to 256 characters. */
#define PP_PARTITION_KEY_MAX 256
/* The longest instance name that still fits a partition key with any key and sequence
 * number: 256 - len("-9223372036854775808:18446744073709551615:"). */
#define PP_PARTITION_KEY_INSTANCE_MAX (PP_PARTITION_KEY_MAX - 42)

/* Write "KEY:SEQ:INSTANCE" to out. Returns its length, or -1 when it would not fit out or
 * PP_PARTITION_KEY_MAX. */
int pp_contract_partition_key(char *out, size_t out_size, int64_t key, uint64_t seq,
                              const char *instance);

/* Parse a partition key written by pp_contract_partition_key (pk need not be
 * NUL-terminated). Returns 0 and fills key, seq and instance (NUL-terminated, truncated to
 * instance_size - 1), or -1 when pk is not one (an older pinpostd's bare key, another
 * producer's record): the caller counts it as "other". */
int pp_contract_parse_partition_key(const char *pk, size_t n, int64_t *key, uint64_t *seq,
                                    char *instance, size_t instance_size);

#endif
