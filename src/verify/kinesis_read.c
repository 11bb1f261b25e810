/* kinesis_read: reading the three Kinesis streams of a run back, every shard from its start
 * (or a time) to its end, for pinpost-verify (see pp_kinesis_read.h). */
#include "pp_kinesis_read.h"
#include "pp_awsparse.h"
#include "pp_json.h"
#include "pp_kinesis.h"
#include "pp_log.h"
#include "pp_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_TIMEOUT_MS 30000L
#define BACKOFF_FIRST_US 100000
#define BACKOFF_CAP_US 5000000
/* The most records one GetRecords answer may hold (the API's limit). */
#define GET_RECORDS_LIMIT 10000
/* After an empty answer of a shard that is not caught up: Kinesis allows 5 GetRecords a
 * second per shard, and an empty answer says there is nothing to hurry for. */
#define EMPTY_ANSWER_PAUSE_US 200000
/* A new iterator expiring again and again means something else is wrong (a clock, a
 * stand-in): give up rather than loop. */
#define MAX_EXPIRED_IN_A_ROW 5

typedef struct reader {
    pp_kinesis_api *api;
    const char *stream; /* the stream being read */
    enum pp_table table;
    long call_timeout_ms;
    int64_t patience_us;      /* timeout_s */
    int64_t last_progress_us; /* the last successful answer */
    pp_kinesis_record_cb cb;
    void *opaque;
    char *err;
    size_t errn;
    uint64_t records, calls, retries;
} reader;

/* "stream S (table): ACTION[ on SHARD]: ..." into the caller's errstr. Returns -1. */
static int fail(reader *r, const char *action, const char *shard, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(reader *r, const char *action, const char *shard, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    pp_errf(r->err, r->errn, "Kinesis stream %s (%s): %s%s%s: %s", r->stream,
            pp_table_names[r->table], action, shard ? " on " : "", shard ? shard : "", what);
    return -1;
}

/* What an operator does about an error type that retrying cannot fix. */
static const char *advice(reader *r, const char *type, char *buf, size_t n)
{
    if (!strcmp(type, "ResourceNotFoundException"))
        snprintf(buf, n,
                 "the stream does not exist in %s at %s: check kinesis.streams.%s (default "
                 "streaming-<kafka.topic_prefix>-%s; -p sets the prefix), kinesis.region and "
                 "kinesis.endpoint",
                 r->api->region, r->api->url, pp_table_names[r->table], pp_table_names[r->table]);
    else if (!strcmp(type, "AccessDeniedException"))
        snprintf(buf, n,
                 "these credentials may not read the stream: grant kinesis:ListShards, "
                 "kinesis:GetShardIterator and kinesis:GetRecords on it");
    else if (!strncmp(type, "KMS", 3))
        snprintf(buf, n,
                 "the stream's KMS key cannot be used: grant kms:Decrypt on it to these "
                 "credentials");
    else if (!strcmp(type, "InvalidArgumentException") || !strcmp(type, "ValidationException"))
        snprintf(buf, n,
                 "Kinesis refused the request as invalid: check kinesis.streams.%s and --since",
                 pp_table_names[r->table]);
    else
        snprintf(buf, n,
                 "the credentials were refused: check the AWS credential chain "
                 "(kinesis.aws_profile, AWS_ACCESS_KEY_ID, ...) and the system clock");
    return buf;
}

/* One call of action with body, retried with exponential backoff (100 ms doubling to 5 s)
 * while the endpoint does not answer, answers 5xx or throttles, until timeout_s passes
 * without a successful answer. Returns 0 with the answer in resp, 1 for an expired shard
 * iterator (the caller asks for a new one), or -1 with errstr. */
static int call(reader *r, const char *action, const char *shard, const pp_buf *body, pp_buf *resp)
{
    int64_t wait = BACKOFF_FIRST_US;
    for (;;) {
        char e[1100], type[128], msg[300], why[1500], adv[400];
        r->calls++;
        long status =
            pp_kinesis_api_call(r->api, action, body, r->call_timeout_ms, resp, e, sizeof(e));
        if (status == 200) {
            r->last_progress_us = pp_now_us();
            return 0;
        }
        if (status == PP_KINESIS_UNSIGNED)
            return fail(r, action, shard, "%s", e);
        if (status == PP_KINESIS_UNANSWERED) {
            snprintf(why, sizeof(why), "%s", e);
        } else {
            pp_kinesis_parse_error(resp->data, resp->len, status, type, sizeof(type), msg,
                                   sizeof(msg));
            if (!strcmp(type, "ExpiredIteratorException"))
                return 1;
            size_t ml = strlen(msg);
            if (ml && msg[ml - 1] == '.')
                msg[ml - 1] = '\0'; /* the advice follows */
            if (pp_kinesis_api_needs_operator(type))
                return fail(r, action, shard, "%s: %s; %s", type, msg,
                            advice(r, type, adv, sizeof(adv)));
            if (status < 500 && !pp_kinesis_api_throttled(type))
                return fail(r, action, shard, "%s (HTTP %ld): %s", type, status, msg);
            snprintf(why, sizeof(why), "%s (HTTP %ld): %s", type, status, msg);
        }
        int64_t now = pp_now_us(), left = r->last_progress_us + r->patience_us - now;
        if (left <= 0)
            return fail(r, action, shard,
                        "gave up after %.3g s without a successful answer (--timeout); the "
                        "last attempt: %s",
                        (double)(now - r->last_progress_us) / 1e6, why);
        if (wait > left)
            wait = left; /* one more attempt when the time is up */
        pp_log_info("kinesis: stream %s: %s: %s; retrying in %.1f s", r->stream, action, why,
                    (double)wait / 1e6);
        r->retries++;
        pp_sleep_us(wait);
        wait = wait * 2 > BACKOFF_CAP_US ? BACKOFF_CAP_US : wait * 2;
    }
}

/* Every shard id of the stream (ListShards, page by page). Returns 0, or -1 with errstr. */
static int list_shards(reader *r, char ***ids, size_t *n)
{
    pp_buf body = {0}, resp = {0};
    char *token = NULL, e[300];
    int rc = 0;
    do {
        pp_buf_reset(&body);
        /* A page after the first names only its token (the API refuses both). */
        pp_buf_puts(&body, token ? "{\"NextToken\":" : "{\"StreamName\":");
        pp_json_cstring(&body, token ? token : r->stream);
        pp_buf_puts(&body, "}");
        free(token);
        token = NULL;
        int c = call(r, "ListShards", NULL, &body, &resp);
        if (c) {
            rc = c < 0 ? -1 : fail(r, "ListShards", NULL, "ExpiredIteratorException");
            break;
        }
        if (pp_kinesis_parse_list_shards(resp.data, resp.len, ids, n, &token, e, sizeof(e)))
            rc = fail(r, "ListShards", NULL, "%s", e);
    } while (rc == 0 && token);
    free(token);
    pp_buf_free(&body);
    pp_buf_free(&resp);
    return rc;
}

/* An iterator for the shard: after `after` (a sequence number) when given, else from
 * since_ms when > 0, else from the oldest record. *it is NULL when there is nothing to read
 * from there. Returns 0, or -1 with errstr. */
static int shard_iterator(reader *r, const char *shard, const char *after, int64_t since_ms,
                          char **it)
{
    pp_buf body = {0}, resp = {0};
    char e[300];
    pp_buf_puts(&body, "{\"StreamName\":");
    pp_json_cstring(&body, r->stream);
    pp_buf_puts(&body, ",\"ShardId\":");
    pp_json_cstring(&body, shard);
    if (after) {
        pp_buf_puts(&body, ",\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
                           "\"StartingSequenceNumber\":");
        pp_json_cstring(&body, after);
    } else if (since_ms > 0) {
        /* Seconds since the epoch, as the JSON protocol writes a timestamp. */
        pp_buf_printf(&body,
                      ",\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":%" PRId64 ".%03d",
                      since_ms / 1000, (int)(since_ms % 1000));
    } else {
        pp_buf_puts(&body, ",\"ShardIteratorType\":\"TRIM_HORIZON\"");
    }
    pp_buf_puts(&body, "}");
    int rc = call(r, "GetShardIterator", shard, &body, &resp);
    if (rc == 0 && pp_kinesis_parse_shard_iterator(resp.data, resp.len, it, e, sizeof(e)))
        rc = fail(r, "GetShardIterator", shard, "%s", e);
    else if (rc > 0) /* an ExpiredIteratorException here would be nonsense */
        rc = fail(r, "GetShardIterator", shard, "ExpiredIteratorException for a new iterator");
    pp_buf_free(&body);
    pp_buf_free(&resp);
    return rc;
}

/* Every record of the shard from its start (or since_ms) until it is closed and read to
 * its end, or caught up (an empty answer with MillisBehindLatest 0). Returns 0, or -1 (with
 * errstr, or untouched when the callback stopped the read). */
static int read_shard(reader *r, const char *shard, int64_t since_ms)
{
    pp_buf body = {0}, resp = {0};
    pp_kinesis_got got = {0};
    char *it = NULL, *last_seq = NULL, e[300];
    int rc = shard_iterator(r, shard, NULL, since_ms, &it);
    uint64_t n = 0;
    int expired = 0; /* expired iterators since the last answer */
    /* Answers keep coming, but an empty one that says the shard is still behind is no
     * progress: a shard that never catches up must not keep us past --timeout. */
    int64_t last_record_us = pp_now_us();
    while (rc == 0 && it) {
        pp_buf_reset(&body);
        pp_buf_puts(&body, "{\"ShardIterator\":");
        pp_json_cstring(&body, it);
        pp_buf_printf(&body, ",\"Limit\":%d}", GET_RECORDS_LIMIT);
        int c = call(r, "GetRecords", shard, &body, &resp);
        if (c > 0 && ++expired > MAX_EXPIRED_IN_A_ROW) {
            rc = fail(r, "GetRecords", shard,
                      "ExpiredIteratorException %d times in a row, each time on a new iterator",
                      expired);
            break;
        }
        if (c > 0) {
            /* Iterators live five minutes: a long backoff outlived this one. Go on from
             * the last record read (or the start again, when none was). */
            free(it);
            it = NULL;
            rc = shard_iterator(r, shard, last_seq, since_ms, &it);
            continue;
        }
        if (c < 0 || pp_kinesis_parse_get_records(resp.data, resp.len, &got, e, sizeof(e))) {
            rc = c < 0 ? -1 : fail(r, "GetRecords", shard, "%s", e);
            break;
        }
        expired = 0;
        for (size_t i = 0; i < got.n; i++) {
            const pp_kinesis_got_record *g = &got.records[i];
            pp_kinesis_record rec = {.table = r->table,
                                     .partition_key = g->partition_key,
                                     .partition_key_len = g->partition_key_len,
                                     .data = got.data.data + g->data_off,
                                     .data_len = g->data_len,
                                     .shard = pp_kinesis_shard_number(shard),
                                     .arrival_ms = g->arrival_ms};
            if (r->cb(r->opaque, &rec) != 0) {
                rc = -1;
                break;
            }
        }
        if (rc)
            break;
        n += got.n;
        if (got.n) {
            free(last_seq);
            last_seq = pp_xstrdup(got.records[got.n - 1].sequence);
        }
        free(it);
        it = got.next_iterator; /* NULL: closed, and read to its end */
        got.next_iterator = NULL;
        if (!got.n && got.millis_behind == 0)
            break; /* caught up */
        if (got.n) {
            last_record_us = pp_now_us();
        } else if (it && pp_now_us() - last_record_us >= r->patience_us) {
            rc = fail(r, "GetRecords", shard,
                      "gave up after %.3g s without a record while the shard stays %lld ms "
                      "behind its latest record (--timeout)",
                      (double)(pp_now_us() - last_record_us) / 1e6, (long long)got.millis_behind);
            break;
        }
        if (!got.n)
            pp_sleep_us(EMPTY_ANSWER_PAUSE_US);
    }
    pp_log_debug("kinesis: stream %s %s: %" PRIu64 " record(s)", r->stream, shard, n);
    r->records += n;
    pp_kinesis_got_free(&got);
    free(it);
    free(last_seq);
    pp_buf_free(&body);
    pp_buf_free(&resp);
    return rc;
}

enum pp_kinesis_read_rc pp_kinesis_read(const pp_config *c, int64_t since_ms, double timeout_s,
                                        pp_kinesis_record_cb cb, void *opaque, char *err,
                                        size_t errn)
{
    reader r = {.cb = cb, .opaque = opaque, .err = err, .errn = errn};
    r.api = pp_kinesis_api_new(c, err, errn);
    if (!r.api)
        return PP_KINESIS_READ_CONFIG;
    r.patience_us = (int64_t)(timeout_s * 1e6);
    r.call_timeout_ms =
        timeout_s * 1000 < CALL_TIMEOUT_MS ? (long)(timeout_s * 1000) + 1 : CALL_TIMEOUT_MS;
    r.last_progress_us = pp_now_us();
    int rc = 0;
    for (int t = 0; t < PP_NTABLES && rc == 0; t++) {
        char *stream = pp_config_stream(c, (enum pp_table)t);
        char **shards = NULL;
        size_t nshards = 0;
        uint64_t before = r.records;
        r.stream = stream;
        r.table = (enum pp_table)t;
        rc = list_shards(&r, &shards, &nshards);
        for (size_t i = 0; i < nshards && rc == 0; i++)
            rc = read_shard(&r, shards[i], since_ms);
        if (rc == 0)
            pp_log_info("kinesis: stream %s: %" PRIu64 " record(s) from %zu shard(s)", stream,
                        r.records - before, nshards);
        for (size_t i = 0; i < nshards; i++)
            free(shards[i]);
        free(shards);
        free(stream);
    }
    pp_log_debug("kinesis: %" PRIu64 " call(s), %" PRIu64 " retried, at %s in %s", r.calls,
                 r.retries, r.api->url, r.api->region);
    pp_kinesis_api_destroy(r.api);
    return rc ? PP_KINESIS_READ_FAILED : PP_KINESIS_READ_OK;
}
