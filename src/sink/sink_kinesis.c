/* Amazon Kinesis sink: PutRecords over HTTPS (libcurl multi), signed with SigV4. Each post
 * is three records, one per stream; records wait per stream until a call is worth making
 * (500 records, 5 MiB, or kinesis.linger), failed records alone are resent with jittered
 * exponential backoff, and a post is done when its three records are settled. */
#include "pp_inflight.h"
#include "pp_sink.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_awsparse.h"
#include "pp_kinesis.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_rng.h"
#include "pp_util.h"
#include "pp_secret.h"

#define MAX_RECORDS_PER_CALL 500
#define MAX_BYTES_PER_CALL (5u << 20)
#define MAX_RECORD_BYTES (1u << 20)
#define MAX_QUEUED_RECORDS 60000
#define BACKOFF_BASE_US 50000
#define BACKOFF_CAP_US 5000000
#define CALL_TIMEOUT_S 30

typedef struct kpost kpost;

/* One record of a post: what waits in a stream's queue, is sent, and is resent. */
typedef struct krec {
    kpost *post;
    int table;
    int attempts;
    int maybe_kept; /* an earlier attempt may have reached Kinesis and been written */
    int64_t queued_us;
    int64_t not_before_us;
    struct krec *next;
} krec;

/* A post in flight: base.partition holds the shard numbers, base.bytes the data lengths. */
struct kpost {
    pp_inflight base;
    char pkey[PP_PARTITION_KEY_MAX + 1]; /* KEY:SEQ:INSTANCE (pp_contract.h) */
    char hash_key[48];                   /* ExplicitHashKey; "" to let Kinesis hash pkey */
    char *data[PP_NTABLES];
    krec rec[PP_NTABLES];
};

typedef struct rec_list {
    krec *head, *tail;
    size_t n;
} rec_list;

typedef struct kcall {
    CURL *easy;
    struct curl_slist *headers;
    pp_buf body, resp;
    krec **recs;
    size_t n;
    int stream;
    struct kcall *next;
} kcall;

typedef struct kinesis_sink {
    pp_sink base; /* dest: the streams */
    char *instance;
    size_t pkey_max;     /* the longest partition key of this instance */
    pp_kinesis_api *api; /* region, endpoint, credentials */
    double linger_s, record_timeout_s;
    int max_calls;
    CURLM *multi;
    rec_list ready[PP_NTABLES]; /* waiting for a call, oldest first */
    rec_list retry;             /* failed once or more, waiting out their backoff */
    kcall *calls;               /* in flight */
    int ncalls;
    size_t queued; /* records not yet settled */
    pp_rng rng;
    int down;
    pp_log_limit retry_log;
} kinesis_sink;

static void list_push(rec_list *l, krec *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static krec *list_pop(rec_list *l)
{
    krec *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
    }
    return r;
}

/* "kinesis stream S: WHAT; retrying: WHY", at most once a second: an outage would
 * otherwise write a line per call. */
static void warn_retry(kinesis_sink *k, int s, const char *what, const char *why)
{
    pp_log_limited(&k->retry_log, LOG_WARNING, "kinesis stream %s: %s; retrying: %s",
                   k->base.dest[s], what, why);
}

static void post_free(kpost *p)
{
    for (int t = 0; t < PP_NTABLES; t++)
        free(p->data[t]);
    free(p);
}

/* Settle one record: accepted into `shard`, or failed with `error` (unknown when an
 * attempt may have been written); the post once its three records are. */
static void rec_settled(kinesis_sink *k, krec *r, int shard, const char *error)
{
    kpost *p = r->post;
    int t = r->table;
    pp_outcome o = !error ? PP_DELIVERED : r->maybe_kept ? PP_UNKNOWN : PP_FAILED;
    int left = pp_inflight_message(&p->base, t, o, error ? -1 : shard, -1, error);
    pp_inflight_count(&k->base, &p->base, t, o);
    k->queued--;
    if (left)
        return;
    pp_inflight_done(&k->base, &p->base, pp_inflight_outcome(&p->base), "Kinesis");
    post_free(p);
}

/* Back off and requeue a record that failed with a retryable error, or give up on it
 * once kinesis.record_timeout has passed since it was produced. */
static void rec_retry(kinesis_sink *k, krec *r, const char *error)
{
    int64_t now = pp_now_us();
    r->attempts++;
    int shift = r->attempts < 16 ? r->attempts : 16;
    int64_t ceiling = (int64_t)BACKOFF_BASE_US << shift;
    if (ceiling > BACKOFF_CAP_US)
        ceiling = BACKOFF_CAP_US;
    /* "Equal jitter": at least half the ceiling, so a crowd of retries spreads out
     * without any of them coming straight back. */
    int64_t wait = ceiling / 2 + (int64_t)pp_rng_below(&k->rng, (uint64_t)(ceiling / 2 + 1));
    if (now + wait - r->post->base.t0_us > (int64_t)(k->record_timeout_s * 1e6)) {
        char why[300];
        snprintf(why, sizeof(why), "gave up after %d attempts (kinesis.record_timeout): %s",
                 r->attempts, error);
        rec_settled(k, r, -1, why);
        return;
    }
    r->not_before_us = now + wait;
    list_push(&k->retry, r);
}

static void call_free(kcall *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    pp_aws_http_headers_free(c->headers);
    pp_buf_free(&c->body);
    pp_buf_free(&c->resp);
    free(c->recs);
    free(c);
}

/* Could a call that ended this way have been written by Kinesis? Only when the request
 * left (a connection failure sent nothing) and no answer said what became of it. */
static int may_have_landed(kcall *c, CURLcode cc, long status)
{
    long sent = 0;
    if (cc == CURLE_OK) /* 503 ServiceUnavailable refuses the call unread */
        return status >= 500 && status != 503;
    if (cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_COULDNT_CONNECT || cc == CURLE_SSL_CONNECT_ERROR ||
        cc == CURLE_PEER_FAILED_VERIFICATION)
        return 0;
    curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &sent);
    return sent > 0;
}

static void mark_maybe_kept(kcall *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->recs[i]->maybe_kept = 1;
}

/* What became of a finished PutRecords call. */
static void call_finished(kinesis_sink *k, kcall *c, CURLcode cc)
{
    long status = 0;
    char type[128], msg[300], why[512];
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (may_have_landed(c, cc, status))
        mark_maybe_kept(c);
    if (cc != CURLE_OK) {
        k->down = 1;
        pp_aws_http_status(c->easy, cc, why, sizeof(why));
        warn_retry(k, c->stream, "PutRecords failed", why);
        for (size_t i = 0; i < c->n; i++)
            rec_retry(k, c->recs[i], why);
        return;
    }
    if (status != 200) {
        pp_kinesis_parse_error(c->resp.data, c->resp.len, status, type, sizeof(type), msg,
                               sizeof(msg));
        snprintf(why, sizeof(why), "%s: %s", type, msg);
        if (pp_kinesis_api_needs_operator(type)) {
            pp_sink_set_fatal(&k->base, "Kinesis refused PutRecords to stream %s: %s",
                              k->base.dest[c->stream], why);
            for (size_t i = 0; i < c->n; i++)
                rec_settled(k, c->recs[i], -1, why);
            return;
        }
        if (status >= 500)
            k->down = 1;
        warn_retry(k, c->stream, "PutRecords rejected", why);
        for (size_t i = 0; i < c->n; i++)
            rec_retry(k, c->recs[i], why);
        return;
    }
    k->down = 0;
    cJSON *j = cJSON_ParseWithLength(c->resp.data ? c->resp.data : "", c->resp.len);
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(j, "Records");
    if (!cJSON_IsArray(records) || (size_t)cJSON_GetArraySize(records) != c->n) {
        /* Without one answer per record nothing can be said about any of them; sending
         * them again may duplicate, keeping quiet may lose: resend, and say so. */
        mark_maybe_kept(c);
        warn_retry(k, c->stream, "PutRecords answer without one result per record",
                   "the whole call");
        for (size_t i = 0; i < c->n; i++)
            rec_retry(k, c->recs[i], "malformed PutRecords answer");
        cJSON_Delete(j);
        return;
    }
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, records)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "ErrorCode");
        if (cJSON_IsString(code)) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "ErrorMessage");
            snprintf(why, sizeof(why), "%s: %s", code->valuestring,
                     cJSON_IsString(m) ? m->valuestring : "");
            warn_retry(k, c->stream, "record not accepted (resent alone)", why);
            rec_retry(k, c->recs[i], why);
        } else {
            const cJSON *shard = cJSON_GetObjectItemCaseSensitive(r, "ShardId");
            rec_settled(k, c->recs[i], pp_kinesis_shard_number(cJSON_GetStringValue(shard)), NULL);
        }
        i++;
    }
    cJSON_Delete(j);
}

/* Serve finished calls. */
static void reap(kinesis_sink *k)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(k->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        kcall *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(k->multi, c->easy);
        for (kcall **pp = &k->calls; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        k->ncalls--;
        call_finished(k, c, cc);
        call_free(c);
    }
}

/* Start one PutRecords call for stream s with up to 500 records / 5 MiB of its queue. */
static void start_call(kinesis_sink *k, int s)
{
    kcall *c = pp_xcalloc(1, sizeof(*c));
    size_t cap = k->ready[s].n < MAX_RECORDS_PER_CALL ? k->ready[s].n : MAX_RECORDS_PER_CALL;
    c->recs = pp_xmalloc(cap * sizeof(*c->recs));
    c->stream = s;
    size_t bytes = 0;
    pp_buf_puts(&c->body, "{\"StreamName\":");
    pp_json_cstring(&c->body, k->base.dest[s]);
    pp_buf_puts(&c->body, ",\"Records\":[");
    while (c->n < cap) {
        krec *r = k->ready[s].head;
        kpost *p = r->post;
        /* Kinesis counts the data and the partition key against its limits. */
        size_t sz = p->base.bytes[s] + strlen(p->pkey);
        if (c->n && bytes + sz > MAX_BYTES_PER_CALL)
            break;
        list_pop(&k->ready[s]);
        bytes += sz;
        if (c->n)
            pp_buf_puts(&c->body, ",");
        pp_buf_puts(&c->body, "{\"Data\":\"");
        pp_buf_base64(&c->body, p->data[s], p->base.bytes[s], 0);
        pp_buf_puts(&c->body, "\",\"PartitionKey\":");
        pp_json_cstring(&c->body, p->pkey);
        if (p->hash_key[0])
            pp_buf_printf(&c->body, ",\"ExplicitHashKey\":\"%s\"", p->hash_key);
        pp_buf_puts(&c->body, "}");
        c->recs[c->n++] = r;
    }
    pp_buf_puts(&c->body, "]}");

    char err[1100];
    c->headers =
        pp_kinesis_api_headers(k->api, "PutRecords", c->body.data, c->body.len, err, sizeof(err));
    if (c->headers) {
        pp_aws_http_req rq =
            pp_kinesis_api_request(k->api, c->headers, &c->body, CALL_TIMEOUT_S * 1000L);
        c->easy = pp_aws_http_easy(&rq, &c->resp, err, sizeof(err));
    }
    if (!c->easy || curl_multi_add_handle(k->multi, c->easy) != CURLM_OK) {
        if (c->easy)
            snprintf(err, sizeof(err), "cannot start an HTTP transfer (out of memory?)");
        warn_retry(k, s, "PutRecords not sent", err);
        for (size_t i = 0; i < c->n; i++)
            rec_retry(k, c->recs[i], err);
        call_free(c);
        return;
    }
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, (char *)c);
    c->next = k->calls;
    k->calls = c;
    k->ncalls++;
}

/* Move due retries back to their streams' queues and start the calls that are due: a
 * full call's worth, or records older than kinesis.linger, or everything when flushing.
 * Returns microseconds until something else becomes due (-1: nothing waits). */
static int64_t pump(kinesis_sink *k, int flushing)
{
    int64_t now = pp_now_us(), next = -1;
    rec_list still = {0};
    krec *r;
    while ((r = list_pop(&k->retry))) {
        if (r->not_before_us <= now) {
            list_push(&k->ready[r->table], r);
        } else {
            list_push(&still, r);
            if (next < 0 || r->not_before_us - now < next)
                next = r->not_before_us - now;
        }
    }
    k->retry = still;
    for (int s = 0; s < PP_NTABLES; s++) {
        while (k->ready[s].n && k->ncalls < k->max_calls) {
            int64_t age = now - k->ready[s].head->queued_us;
            int64_t linger = (int64_t)(k->linger_s * 1e6);
            if (!flushing && k->ready[s].n < MAX_RECORDS_PER_CALL && age < linger) {
                if (next < 0 || linger - age < next)
                    next = linger - age;
                break;
            }
            start_call(k, s);
        }
    }
    return next;
}

/* One round of I/O: start what is due, move bytes for up to timeout_ms, serve answers. */
static void io_round(kinesis_sink *k, int timeout_ms, int flushing)
{
    int running;
    int64_t next = pump(k, flushing);
    curl_multi_perform(k->multi, &running);
    reap(k);
    int wait = timeout_ms;
    if (next >= 0 && next / 1000 < wait)
        wait = (int)(next / 1000);
    /* Waits the whole time even with nothing in flight: callers pace themselves by it. */
    if (wait > 0)
        curl_multi_poll(k->multi, NULL, 0, wait, NULL);
    curl_multi_perform(k->multi, &running);
    reap(k);
    pump(k, flushing);
}

static int kinesis_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    kinesis_sink *k = (kinesis_sink *)s;
    for (int t = 0; t < PP_NTABLES; t++)
        if (p->value[t].len + k->pkey_max > MAX_RECORD_BYTES) {
            pp_errf(e, n,
                    "post %" PRId64 " skipped: its %s row is %zu bytes, over the Kinesis "
                    "record limit (1 MiB with the partition key)",
                    p->key, pp_table_names[t], p->value[t].len);
            return 0;
        }
    return 1;
}

/* The ExplicitHashKey that puts a record where Kinesis puts a partition key equal to the
 * post key: the MD5 of the decimal key read as an unsigned 128-bit big-endian number, in
 * decimal. So the partition key can carry the run identity (pp_contract.h) while every
 * record of a key still lands on the shard it always did. */
static void hash_key_of(int64_t key, char *out, size_t out_size)
{
    char dec[24];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int dlen = snprintf(dec, sizeof(dec), "%" PRId64, key);
    if (!EVP_Digest(dec, (size_t)dlen, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
        /* No MD5 (a FIPS-only provider): let Kinesis hash the partition key instead. */
        out[0] = '\0';
        return;
    }
    /* Long division by 10 of the 16-byte number, least significant digit first. */
    char digits[48];
    size_t nd = 0;
    int zero;
    do {
        unsigned rem = 0;
        zero = 1;
        for (int i = 0; i < 16; i++) {
            unsigned cur = rem * 256 + md[i];
            md[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
            zero &= md[i] == 0;
        }
        digits[nd++] = (char)('0' + rem);
    } while (!zero && nd < sizeof(digits));
    size_t i = 0;
    for (; i < nd && i + 1 < out_size; i++)
        out[i] = digits[nd - 1 - i];
    out[i] = '\0';
}

static int kinesis_full(pp_sink *s)
{
    return ((kinesis_sink *)s)->queued + PP_NTABLES > MAX_QUEUED_RECORDS;
}

/* The post fits (pp_sink_produce checked). */
static pp_sink_put kinesis_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    kinesis_sink *k = (kinesis_sink *)s;
    /* A bounded backlog: wait while the streams are slower than the sampling. */
    while (kinesis_full(s) && !k->base.fatal)
        io_round(k, 100, 0);
    kpost *kp = pp_xcalloc(1, sizeof(*kp));
    pp_inflight_start(&kp->base, p, seq);
    k->queued += PP_NTABLES;
    if (pp_contract_partition_key(kp->pkey, sizeof(kp->pkey), p->key, seq, k->instance) < 0) {
        /* Not seen: the instance's length was checked when the sink was made. */
        pp_errf(e, n, "post %" PRId64 ": service.instance does not fit a partition key", p->key);
        for (int t = 0; t < PP_NTABLES; t++) {
            kp->rec[t] = (krec){.post = kp, .table = t};
            rec_settled(k, &kp->rec[t], -1, e);
        }
        return PP_SINK_FAILED;
    }
    hash_key_of(p->key, kp->hash_key, sizeof(kp->hash_key));
    for (int t = 0; t < PP_NTABLES; t++) {
        kp->data[t] = pp_xmalloc(p->value[t].len + 1);
        memcpy(kp->data[t], p->value[t].data, p->value[t].len);
        kp->rec[t] = (krec){.post = kp, .table = t, .queued_us = kp->base.t0_us};
        list_push(&k->ready[t], &kp->rec[t]);
    }
    return PP_SINK_QUEUED;
}

static void kinesis_poll(pp_sink *s, int timeout_ms)
{
    io_round((kinesis_sink *)s, timeout_ms, 0);
}

static pp_sink_drain kinesis_flush(pp_sink *s, int timeout_ms)
{
    kinesis_sink *k = (kinesis_sink *)s;
    int64_t deadline = pp_now_us() + (int64_t)timeout_ms * 1000;
    while (k->queued) {
        int64_t left = deadline - pp_now_us();
        if (left <= 0)
            break;
        io_round(k, left > 100000 ? 100 : (int)(left / 1000) + 1, 1);
    }
    return k->queued ? PP_SINK_PENDING : PP_SINK_DRAINED;
}

static void kinesis_abandon(pp_sink *s)
{
    kinesis_sink *k = (kinesis_sink *)s;
    const char *why = "abandoned at shutdown (service.drain_timeout)";
    while (k->calls) {
        kcall *c = k->calls;
        k->calls = c->next;
        curl_multi_remove_handle(k->multi, c->easy);
        if (may_have_landed(c, CURLE_ABORTED_BY_CALLBACK, 0))
            mark_maybe_kept(c); /* the request may already be with Kinesis */
        for (size_t i = 0; i < c->n; i++)
            rec_settled(k, c->recs[i], -1, why);
        call_free(c);
    }
    k->ncalls = 0;
    krec *r;
    while ((r = list_pop(&k->retry)))
        rec_settled(k, r, -1, why);
    for (int t = 0; t < PP_NTABLES; t++)
        while ((r = list_pop(&k->ready[t])))
            rec_settled(k, r, -1, why);
}

static int kinesis_healthy(pp_sink *s)
{
    return !((kinesis_sink *)s)->down;
}

/* A blocking DescribeStreamSummary. Returns the HTTP status (0: no answer, errstr says
 * why); the answer's body in resp. */
static long describe(kinesis_sink *k, int s, pp_buf *resp, int timeout_ms, char *e, size_t n)
{
    pp_buf body = {0};
    pp_buf_puts(&body, "{\"StreamName\":");
    pp_json_cstring(&body, k->base.dest[s]);
    pp_buf_puts(&body, "}");
    long status =
        pp_kinesis_api_call(k->api, "DescribeStreamSummary", &body, timeout_ms, resp, e, n);
    pp_buf_free(&body);
    return status < 0 ? 0 : status;
}

/* The state of every stream. Returns PP_SINK_READY when all take records, PP_SINK_NOT_YET
 * when the endpoint is unreachable or a stream is still being created, PP_SINK_BROKEN when
 * an operator must act; errstr names the first problem ("stream S: ..."); out, when given,
 * gets an item per stream (PP_CHECK_REJECTED when credentials or signature were refused). */
static pp_sink_ready streams_state(kinesis_sink *k, pp_check_list *out, int timeout_ms, char *e,
                                   size_t n)
{
    pp_sink_ready rc = PP_SINK_READY;
    for (int s = 0; s < PP_NTABLES; s++) {
        const char *stream = k->base.dest[s];
        pp_buf resp = {0};
        char err[1100] = "", type[128], msg[300], detail[1300];
        pp_sink_ready this_rc = PP_SINK_READY;
        pp_check_state state = PP_CHECK_OK;
        long status = describe(k, s, &resp, timeout_ms, err, sizeof(err));
        if (status == 0) {
            this_rc = PP_SINK_NOT_YET;
            snprintf(detail, sizeof(detail), "UNREACHABLE: %s", err);
        } else if (status != 200) {
            pp_kinesis_parse_error(resp.data, resp.len, status, type, sizeof(type), msg,
                                   sizeof(msg));
            if (!strcmp(type, "ResourceNotFoundException")) {
                this_rc = PP_SINK_BROKEN;
                snprintf(detail, sizeof(detail),
                         "MISSING in %s (create it with `aws kinesis create-stream "
                         "--stream-name %s --region %s`, or name another in kinesis.streams.%s)",
                         k->api->region, stream, k->api->region, pp_table_names[s]);
            } else {
                this_rc = pp_kinesis_api_needs_operator(type) ? PP_SINK_BROKEN : PP_SINK_NOT_YET;
                if (!strcmp(type, "UnrecognizedClientException") ||
                    !strcmp(type, "InvalidSignatureException") ||
                    !strcmp(type, "AccessDeniedException"))
                    state = PP_CHECK_REJECTED;
                snprintf(detail, sizeof(detail), "%s: %s", type, msg);
            }
        } else {
            cJSON *j = cJSON_ParseWithLength(resp.data, resp.len);
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "StreamDescriptionSummary");
            const char *st =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "StreamStatus"));
            const cJSON *shards = cJSON_GetObjectItemCaseSensitive(d, "OpenShardCount");
            if (st && (!strcmp(st, "ACTIVE") || !strcmp(st, "UPDATING"))) {
                snprintf(detail, sizeof(detail), "%s, %d open shard(s)", st,
                         cJSON_IsNumber(shards) ? shards->valueint : -1);
            } else {
                this_rc = st && !strcmp(st, "CREATING") ? PP_SINK_NOT_YET : PP_SINK_BROKEN;
                snprintf(detail, sizeof(detail),
                         "NOT ACTIVE (status %s); records can only be written to an ACTIVE "
                         "stream",
                         st ? st : "unknown");
            }
            cJSON_Delete(j);
        }
        pp_buf_free(&resp);
        if (this_rc != PP_SINK_READY && state == PP_CHECK_OK)
            state = PP_CHECK_FAILED;
        if (out)
            pp_check_list_add(out, k->base.name, "stream", stream, state, "%s", detail);
        /* The worst state wins: broken, then not yet, then ready. */
        if ((this_rc == PP_SINK_BROKEN && rc != PP_SINK_BROKEN) ||
            (this_rc == PP_SINK_NOT_YET && rc == PP_SINK_READY)) {
            rc = this_rc;
            pp_errf(e, n, "stream %s: %s", stream, detail);
        }
    }
    return rc;
}

static pp_sink_ready kinesis_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    return streams_state((kinesis_sink *)s, NULL, timeout_ms, e, n);
}

static void kinesis_check(pp_sink *s, int timeout_ms, pp_check_list *out)
{
    kinesis_sink *k = (kinesis_sink *)s;
    char err[1500];
    pp_check_list_add(out, s->name, NULL, NULL, PP_CHECK_OK, "endpoint %s, region %s", k->api->url,
                      k->api->region);
    streams_state(k, out, timeout_ms, err, sizeof(err));
}

static void kinesis_destroy(pp_sink *s)
{
    kinesis_sink *k = (kinesis_sink *)s;
    while (k->calls) {
        kcall *c = k->calls;
        k->calls = c->next;
        curl_multi_remove_handle(k->multi, c->easy);
        for (size_t i = 0; i < c->n; i++)
            list_push(&k->retry, c->recs[i]);
        call_free(c);
    }
    /* Posts still here were never reported: free them without a callback. */
    krec *r;
    rec_list all = k->retry;
    for (int t = 0; t < PP_NTABLES; t++)
        while ((r = list_pop(&k->ready[t])))
            list_push(&all, r);
    while ((r = list_pop(&all))) {
        kpost *p = r->post;
        if (--p->base.remaining == 0)
            post_free(p);
    }
    if (k->multi)
        curl_multi_cleanup(k->multi);
    pp_kinesis_api_destroy(k->api);
    pp_sink_base_release(&k->base);
    free(k->instance);
    free(k);
}

static const pp_sink_ops kinesis_ops = {
    .prepare = kinesis_prepare,
    .fits = kinesis_fits,
    .full = kinesis_full,
    .produce = kinesis_produce,
    .poll = kinesis_poll,
    .flush = kinesis_flush,
    .abandon = kinesis_abandon,
    .healthy = kinesis_healthy,
    .check = kinesis_check,
    .destroy = kinesis_destroy,
};

pp_sink *pp_sink_kinesis_new(const pp_config *c, pp_post_done_cb done, void *opaque, char *e,
                             size_t n)
{
    size_t ilen = strlen(c->service.instance);
    if (ilen > PP_PARTITION_KEY_INSTANCE_MAX) {
        pp_errf(e, n,
                "service.instance is %zu bytes, too long for Kinesis: every record carries "
                "it in its partition key (KEY:SEQ:INSTANCE, at most %d bytes), which leaves "
                "room for %d bytes of instance name; choose a shorter service.instance",
                ilen, PP_PARTITION_KEY_MAX, PP_PARTITION_KEY_INSTANCE_MAX);
        return NULL;
    }
    pp_kinesis_api *api = pp_kinesis_api_new(c, e, n);
    if (!api)
        return NULL;
    kinesis_sink *k = pp_xcalloc(1, sizeof(*k));
    pp_sink_base_init(&k->base, &kinesis_ops, "kinesis", c, pp_config_stream, done, opaque);
    k->instance = pp_xstrdup(c->service.instance);
    /* "KEY:SEQ:" takes at most 42 bytes (pp_contract.h). */
    k->pkey_max = PP_PARTITION_KEY_MAX - PP_PARTITION_KEY_INSTANCE_MAX + ilen;
    k->api = api;
    k->linger_s = c->kinesis.linger_s;
    k->record_timeout_s = c->kinesis.record_timeout_s;
    k->max_calls = c->kinesis.max_requests;
    k->multi = curl_multi_init();
    if (!k->multi) {
        pp_errf(e, n, "curl_multi_init failed (out of memory)");
        kinesis_destroy(&k->base);
        return NULL;
    }
    pp_rng_seed(&k->rng, pp_rng_os_seed(), 0);
    pp_log_info("kinesis: streams %s %s %s in %s at %s", k->base.dest[0], k->base.dest[1],
                k->base.dest[2], k->api->region, k->api->url);
    return &k->base;
}
