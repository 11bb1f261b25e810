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
    int shard;          /* the number of its shard id (shardId-000000000003 -> 3) */
    int64_t arrival_ms; /* ApproximateArrivalTimestamp, ms since the epoch; -1 unknown */
} pp_kinesis_record;

/* Called once per record, on the caller's thread; the pointers are valid during the call.
 * Non-zero stops the read (pp_kinesis_read then returns PP_KINESIS_READ_FAILED with errstr
 * untouched). */
typedef int (*pp_kinesis_record_cb)(void *opaque, const pp_kinesis_record *r);

/* What pp_kinesis_read returns. */
enum pp_kinesis_read_rc {
    PP_KINESIS_READ_OK = 0,
    /* Not everything could be read: a stream missing, access denied, credentials refused
     * or missing, the endpoint unreachable, no progress for timeout_s, a malformed answer,
     * or the callback stopped the read. */
    PP_KINESIS_READ_FAILED = -1,
    /* The configuration cannot work: no region (kinesis.region, AWS_REGION, ...), or
     * kinesis.endpoint is no http(s) URL. */
    PP_KINESIS_READ_CONFIG = -2,
};

/* Read every record of the streams of c->kinesis (pp_config_stream), every shard (closed
 * ones too), from TRIM_HORIZON, or from AT_TIMESTAMP since_ms when since_ms > 0, until each
 * shard is closed and read to its end, or caught up (an empty answer with
 * MillisBehindLatest 0). Region, endpoint and credentials are the sink's (pp_kinesis_api:
 * kinesis.region, kinesis.endpoint, kinesis.aws_profile). Throttling, HTTP 5xx and
 * unanswered calls are retried with backoff; gives up after timeout_s without a
 * successful answer. Returns PP_KINESIS_READ_OK, or another pp_kinesis_read_rc with errstr
 * saying which stream, which call (and shard), the AWS error type and what to do
 * (errstr untouched when the callback stopped the read). */
enum pp_kinesis_read_rc pp_kinesis_read(const pp_config *c, int64_t since_ms, double timeout_s,
                                        pp_kinesis_record_cb cb, void *opaque, char *errstr,
                                        size_t errstr_size);

#endif
