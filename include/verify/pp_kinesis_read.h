/* pp_kinesis_read: read the three Kinesis streams of a run back, for pinpost-verify.
 * Every shard of every stream is read with GetShardIterator / GetRecords (SigV4-signed,
 * credentials from the same chain as the sink), from TRIM_HORIZON or from a time. */
#ifndef PP_KINESIS_READ_H
#define PP_KINESIS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "pp_config.h"

typedef struct pp_kinesis_record {
    enum pp_table table;       /* which of the three streams */
    const char *partition_key; /* not NUL-terminated */
    size_t partition_key_len;
    const char *data; /* the record's bytes (base64-decoded) */
    size_t data_len;
    int shard; /* the number of its shard id (shardId-000000000003 -> 3) */
    int64_t arrival_ms;
} pp_kinesis_record;

/* Called once per record, on the caller's thread; the pointers are valid during the call.
 * Non-zero stops the read (pp_kinesis_read then returns -1 with errstr untouched). */
typedef int (*pp_kinesis_record_cb)(void *opaque, const pp_kinesis_record *r);

/* Read every record of the streams of c->kinesis (pp_config_stream), every shard (closed
 * ones too), from TRIM_HORIZON, or from AT_TIMESTAMP since_ms when since_ms > 0, until each
 * shard is caught up (an answer with MillisBehindLatest 0) or closed. Gives up after
 * timeout_s without progress. Returns 0, or -1 with errstr saying what failed and where
 * (stream missing, access denied, endpoint unreachable, timeout). */
int pp_kinesis_read(const pp_config *c, int64_t since_ms, double timeout_s, pp_kinesis_record_cb cb,
                    void *opaque, char *errstr, size_t errstr_size);

#endif
