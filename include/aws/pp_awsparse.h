/* pp_awsparse: parsers of the answers of AWS endpoints and of the shared files, kept
 * apart from the HTTP code so they can be fuzzed. Secrets they return are freed with
 * pp_secret_free (pp_secret.h) or pp_aws_creds_clear, which erase them first. */
#ifndef PP_AWSPARSE_H
#define PP_AWSPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "pp_buf.h"
#include "pp_sigv4.h"

/* Parse an ISO 8601 UTC time ("2015-08-30T12:36:00Z", fractions allowed); -1 if bad. */
long long pp_aws_parse_time(const char *s);

/* Replace the strings of c with copies of these (token may be NULL or empty). */
void pp_aws_creds_set(pp_aws_creds *c, const char *id, const char *secret, const char *token,
                      time_t expiration);

/* The text of the first <tag>...</tag> in xml with entities decoded, or NULL. Caller
 * frees. */
char *pp_aws_xml_text(const char *xml, const char *tag);

/* Credentials from an STS AssumeRole / AssumeRoleWithWebIdentity answer. 0 or -1. */
int pp_aws_parse_sts(const char *xml, pp_aws_creds *out, char *errstr, size_t errstr_size);

/* Credentials from the container / instance metadata JSON. 0 or -1. */
int pp_aws_parse_json_creds(const char *text, pp_aws_creds *out, char *errstr, size_t errstr_size);

/* The value of key in [section] of an INI text, or NULL. Caller frees. */
char *pp_aws_ini_get(const char *text, const char *section, const char *key);

/* Append the bytes of the base64 text s[0..n) (RFC 4648 standard alphabet, '=' padding
 * optional, no other characters) to out. Returns 0, or -1 (out then holds a part). */
int pp_aws_base64_decode(pp_buf *out, const char *s, size_t n);

/* ---- Kinesis Data Streams answers (JSON 1.1 protocol) ---- */

/* The number in a shard id: "shardId-000000000003" -> 3; -1 when it has none. */
int pp_kinesis_shard_number(const char *shard_id);

/* "__type" (the part after '#') and "message" of an error answer of `status`: type gets
 * "HTTP <status>" when the answer names none, msg "" when it has none. */
void pp_kinesis_parse_error(const char *json, size_t len, long status, char *type, size_t type_size,
                            char *msg, size_t msg_size);

/* A ListShards answer: the shard ids appended to ids (*n of them; the array grows, caller
 * frees each id and the array), and *next_token the token of the next page (caller frees;
 * NULL on the last page). Returns 0, or -1 with errstr. */
int pp_kinesis_parse_list_shards(const char *json, size_t len, char ***ids, size_t *n,
                                 char **next_token, char *errstr, size_t errstr_size);

/* A GetShardIterator answer: 0 with *iterator (caller frees; NULL when the answer's
 * ShardIterator is null: a closed shard with nothing to read from there), or -1 with
 * errstr. */
int pp_kinesis_parse_shard_iterator(const char *json, size_t len, char **iterator, char *errstr,
                                    size_t errstr_size);

typedef struct pp_kinesis_got_record {
    const char *partition_key; /* into the answer; may hold any character */
    size_t partition_key_len;
    size_t data_off, data_len; /* the record's bytes in pp_kinesis_got.data */
    const char *sequence;      /* SequenceNumber, decimal text */
    int64_t arrival_ms;        /* ApproximateArrivalTimestamp; -1 when absent or absurd */
} pp_kinesis_got_record;

/* A GetRecords answer. Release with pp_kinesis_got_free; a zeroed one is empty. */
typedef struct pp_kinesis_got {
    pp_kinesis_got_record *records;
    size_t n;
    pp_buf data;           /* every record's data, base64-decoded, back to back */
    char *next_iterator;   /* NULL: the shard is closed and read to its end */
    int64_t millis_behind; /* MillisBehindLatest; 0 when absent */
    void *doc;             /* the parsed answer the strings above point into */
} pp_kinesis_got;

/* Parse a GetRecords answer into out (released first; release it with pp_kinesis_got_free
 * whatever the result). Returns 0, or -1 with errstr naming the record that is malformed
 * (no PartitionKey, Data not base64, ...). */
int pp_kinesis_parse_get_records(const char *json, size_t len, pp_kinesis_got *out, char *errstr,
                                 size_t errstr_size);
void pp_kinesis_got_free(pp_kinesis_got *g);

#endif
