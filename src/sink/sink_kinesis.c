/* Amazon Kinesis sink: PutRecords over HTTPS (libcurl multi), signed with SigV4. Each post
 * is three records, one per stream; records wait per stream until a call is worth making
 * (500 records, 5 MiB, or kinesis.linger), failed records alone are resent with jittered
 * exponential backoff, and a post is done when its three records are settled. */
#include "pp_sink.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp_awscreds.h"
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

typedef struct krec {
    kpost *post;
    int table;
    int attempts;
    int maybe_kept; /* an earlier attempt may have reached Kinesis and been written */
    int64_t queued_us;
    int64_t not_before_us;
    struct krec *next;
} krec;

struct kpost {
    uint64_t seq;
    int64_t key;
    int remaining;
    int maybe;     /* a record failed but may have been written */
    int delivered; /* records accepted */
    int64_t t0_us;
    char pkey[24];
    char category[64], country[64];
    int32_t shard[PP_NTABLES];
    char error[200];
    char *data[PP_NTABLES];
    size_t len[PP_NTABLES];
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

typedef struct log_limit {
    int64_t last_us;
    uint64_t suppressed;
} log_limit;

typedef struct kinesis_sink {
    pp_sink base;
    char *stream[PP_NTABLES];
    char *region, *url, *host, *path;
    double linger_s, record_timeout_s;
    int max_calls;
    pp_aws_chain *chain;
    CURLM *multi;
    rec_list ready[PP_NTABLES]; /* waiting for a call, oldest first */
    rec_list retry;             /* failed once or more, waiting out their backoff */
    kcall *calls;               /* in flight */
    int ncalls;
    size_t queued; /* records not yet settled */
    pp_rng rng;
    pp_stats *stats;
    pp_post_done_cb done;
    void *opaque;
    int down, fatal;
    char fatal_reason[1024];
    log_limit retry_log, fail_log;
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

/* A warning at most once a second per kind; the ones in between are counted. An outage
 * would otherwise write a line per record. */
static void warn_limited(log_limit *l, const char *msg)
{
    int64_t now = pp_now_us();
    if (now - l->last_us < 1000000) {
        l->suppressed++;
        return;
    }
    if (l->suppressed)
        pp_log_warn("kinesis %s (and %" PRIu64 " similar messages not shown)", msg, l->suppressed);
    else
        pp_log_warn("kinesis %s", msg);
    l->last_us = now;
    l->suppressed = 0;
}

/* "kinesis stream S: WHAT; retrying: WHY" */
static void warn_retry(kinesis_sink *k, int s, const char *what, const char *why)
{
    char msg[1400];
    snprintf(msg, sizeof(msg), "stream %s: %s; retrying: %s", k->stream[s], what, why);
    warn_limited(&k->retry_log, msg);
}

static void post_settled(kinesis_sink *k, kpost *p)
{
    /* Failed only when no record of it can be in a stream, so that a consumer never finds
     * a post counted failed; partly or possibly written posts are unknown. */
    int ok = p->delivered == PP_NTABLES;
    pp_post_result res = {.seq = p->seq,
                          .key = p->key,
                          .ok = ok,
                          .unknown = !ok && (p->delivered || p->maybe),
                          .category = p->category,
                          .country = p->country,
                          .latency_us = pp_now_us() - p->t0_us,
                          .error = ok ? NULL : p->error};
    for (int t = 0; t < PP_NTABLES; t++) {
        res.partition[t] = p->shard[t];
        res.offset[t] = -1;
    }
    if (!ok) {
        char msg[400];
        snprintf(msg, sizeof(msg), "post %" PRId64 " (seq %" PRIu64 ") %s: %s", p->key, p->seq,
                 res.unknown ? "not acknowledged whole, Kinesis may hold it" : "failed", p->error);
        warn_limited(&k->fail_log, msg);
    }
    if (k->done)
        k->done(k->opaque, &res);
    for (int t = 0; t < PP_NTABLES; t++)
        free(p->data[t]);
    free(p);
}

/* Settle one record: accepted into `shard`, or failed with `error` (unknown when an
 * attempt may have been written). Latency percentiles describe deliveries only. */
static void rec_settled(kinesis_sink *k, krec *r, int shard, const char *error)
{
    kpost *p = r->post;
    int t = r->table;
    if (error) {
        if (r->maybe_kept) {
            k->stats->topic[t].unknown++;
            p->maybe = 1;
        } else {
            k->stats->topic[t].failed++;
        }
        if (!p->error[0])
            snprintf(p->error, sizeof(p->error), "%s", error);
    } else {
        pp_hist_record(&k->stats->latency_us, (uint64_t)(pp_now_us() - p->t0_us));
        k->stats->topic[t].delivered++;
        k->stats->topic[t].bytes += p->len[t];
        p->shard[t] = shard;
        p->delivered++;
    }
    k->queued--;
    if (--p->remaining == 0)
        post_settled(k, p);
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
    if (now + wait - r->post->t0_us > (int64_t)(k->record_timeout_s * 1e6)) {
        char why[300];
        snprintf(why, sizeof(why), "gave up after %d attempts (kinesis.record_timeout): %s",
                 r->attempts, error);
        rec_settled(k, r, -1, why);
        return;
    }
    r->not_before_us = now + wait;
    list_push(&k->retry, r);
}

static int shard_number(const char *shard_id)
{
    const char *d = shard_id ? strrchr(shard_id, '-') : NULL;
    return d ? atoi(d + 1) : -1;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    pp_buf *b = userdata;
    if (b->len + size * nmemb > (16u << 20))
        return 0; /* no answer of ours is that long */
    pp_buf_append(b, ptr, size * nmemb);
    return size * nmemb;
}

/* Headers and signature for one Kinesis API call with this JSON body. Returns the
 * header list, or NULL with errstr set. */
static struct curl_slist *signed_headers(kinesis_sink *k, const char *target, const pp_buf *body,
                                         char *e, size_t n)
{
    pp_aws_creds cr = {0};
    char err[1024];
    if (pp_aws_chain_get(k->chain, &cr, NULL, 0, err, sizeof(err))) {
        pp_errf(e, n, "no AWS credentials for Kinesis: %s", err);
        return NULL;
    }
    time_t now = time(NULL);
    char date[17], full_target[80];
    pp_sigv4_amz_date(now, date);
    snprintf(full_target, sizeof(full_target), "Kinesis_20131202.%s", target);
    const char *hdr[10] = {"Content-Type",
                           "application/x-amz-json-1.1",
                           "Host",
                           k->host,
                           "X-Amz-Date",
                           date,
                           "X-Amz-Target",
                           full_target,
                           "X-Amz-Security-Token",
                           cr.session_token};
    size_t nh = cr.session_token ? 5 : 4;
    pp_sigv4_request rq = {.method = "POST",
                           .path = k->path,
                           .query = "",
                           .headers = hdr,
                           .nheaders = nh,
                           .payload = body->data,
                           .payload_len = body->len,
                           .region = k->region,
                           .service = "kinesis",
                           .when = now};
    pp_buf auth = {0}, line = {0};
    pp_sigv4_authorization(&cr, &rq, &auth, NULL);
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < nh; i++) {
        if (!strcmp(hdr[2 * i], "Host"))
            continue; /* curl sends it from the URL */
        pp_buf_reset(&line);
        pp_buf_printf(&line, "%s: %s", hdr[2 * i], hdr[2 * i + 1]);
        list = curl_slist_append(list, line.data);
    }
    pp_buf_reset(&line);
    pp_buf_printf(&line, "Authorization: %s", auth.data);
    list = curl_slist_append(list, line.data);
    list = curl_slist_append(list, "Expect:");
    pp_secret_buf_free(&line);
    pp_secret_buf_free(&auth);
    pp_aws_creds_clear(&cr);
    return list;
}

static CURL *new_easy(kinesis_sink *k, struct curl_slist *headers, const pp_buf *body, pp_buf *resp,
                      long timeout_ms)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, k->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    return h;
}

/* "__type" and "message" of an error answer, for messages and retry decisions. */
static void error_of(const pp_buf *resp, long status, char *type, size_t tn, char *msg, size_t mn)
{
    snprintf(type, tn, "HTTP %ld", status);
    msg[0] = '\0';
    cJSON *j = resp->len ? cJSON_ParseWithLength(resp->data, resp->len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (!m)
        m = cJSON_GetObjectItemCaseSensitive(j, "Message");
    if (cJSON_IsString(t)) {
        const char *hash = strrchr(t->valuestring, '#');
        snprintf(type, tn, "%s", hash ? hash + 1 : t->valuestring);
    }
    if (cJSON_IsString(m))
        snprintf(msg, mn, "%s", m->valuestring);
    cJSON_Delete(j);
}

/* Errors an operator must fix: retrying cannot help. */
static int needs_operator(const char *type)
{
    static const char *const fatal[] = {
        "ResourceNotFoundException", "AccessDeniedException",    "UnrecognizedClientException",
        "InvalidSignatureException", "IncompleteSignature",      "MissingAuthenticationToken",
        "KMSAccessDeniedException",  "KMSDisabledException",     "KMSNotFoundException",
        "KMSInvalidStateException",  "InvalidArgumentException", "ValidationException"};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        if (!strcmp(type, fatal[i]))
            return 1;
    return 0;
}

static void call_free(kcall *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
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
        snprintf(why, sizeof(why), "%s: %s", k->url, curl_easy_strerror(cc));
        warn_retry(k, c->stream, "PutRecords failed", why);
        for (size_t i = 0; i < c->n; i++)
            rec_retry(k, c->recs[i], why);
        return;
    }
    if (status != 200) {
        error_of(&c->resp, status, type, sizeof(type), msg, sizeof(msg));
        snprintf(why, sizeof(why), "%s: %s", type, msg);
        if (needs_operator(type)) {
            snprintf(k->fatal_reason, sizeof(k->fatal_reason),
                     "Kinesis refused PutRecords to stream %s: %s", k->stream[c->stream], why);
            k->fatal = 1;
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
            rec_settled(k, c->recs[i], shard_number(cJSON_GetStringValue(shard)), NULL);
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
    pp_json_cstring(&c->body, k->stream[s]);
    pp_buf_puts(&c->body, ",\"Records\":[");
    while (c->n < cap) {
        krec *r = k->ready[s].head;
        size_t sz = r->post->len[s] + strlen(r->post->pkey);
        if (c->n && bytes + sz > MAX_BYTES_PER_CALL)
            break;
        list_pop(&k->ready[s]);
        bytes += sz;
        if (c->n)
            pp_buf_puts(&c->body, ",");
        pp_buf_puts(&c->body, "{\"Data\":\"");
        pp_buf_base64(&c->body, r->post->data[s], r->post->len[s], 0);
        pp_buf_printf(&c->body, "\",\"PartitionKey\":\"%s\"}", r->post->pkey);
        c->recs[c->n++] = r;
    }
    pp_buf_puts(&c->body, "]}");

    char err[1100];
    c->headers = signed_headers(k, "PutRecords", &c->body, err, sizeof(err));
    c->easy =
        c->headers ? new_easy(k, c->headers, &c->body, &c->resp, CALL_TIMEOUT_S * 1000L) : NULL;
    if (!c->easy || curl_multi_add_handle(k->multi, c->easy) != CURLM_OK) {
        if (c->headers)
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
    (void)s;
    for (int t = 0; t < PP_NTABLES; t++)
        if (p->value[t].len + 20 > MAX_RECORD_BYTES) {
            pp_errf(e, n,
                    "post %" PRId64 " skipped: its %s row is %zu bytes, over the Kinesis "
                    "record limit (1 MiB with the partition key)",
                    p->key, pp_table_names[t], p->value[t].len);
            return PP_SINK_SKIPPED;
        }
    return 0;
}

static int kinesis_full(pp_sink *s)
{
    return ((kinesis_sink *)s)->queued + PP_NTABLES > MAX_QUEUED_RECORDS;
}

static int kinesis_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    kinesis_sink *k = (kinesis_sink *)s;
    if (kinesis_fits(s, p, e, n))
        return PP_SINK_SKIPPED;
    /* A bounded backlog: wait while the streams are slower than the sampling. */
    while (kinesis_full(s) && !k->fatal)
        io_round(k, 100, 0);
    kpost *kp = pp_xcalloc(1, sizeof(*kp));
    kp->seq = seq;
    kp->key = p->key;
    kp->remaining = PP_NTABLES;
    kp->t0_us = pp_now_us();
    snprintf(kp->pkey, sizeof(kp->pkey), "%" PRId64, p->key);
    memcpy(kp->category, p->category, sizeof(kp->category));
    memcpy(kp->country, p->country, sizeof(kp->country));
    for (int t = 0; t < PP_NTABLES; t++) {
        kp->shard[t] = -1;
        kp->len[t] = p->value[t].len;
        kp->data[t] = pp_xmalloc(p->value[t].len + 1);
        memcpy(kp->data[t], p->value[t].data, p->value[t].len);
        kp->rec[t] = (krec){.post = kp, .table = t, .queued_us = kp->t0_us};
        list_push(&k->ready[t], &kp->rec[t]);
    }
    k->queued += PP_NTABLES;
    return 0;
}

static void kinesis_poll(pp_sink *s, int timeout_ms)
{
    io_round((kinesis_sink *)s, timeout_ms, 0);
}

static int kinesis_flush(pp_sink *s, int timeout_ms)
{
    kinesis_sink *k = (kinesis_sink *)s;
    int64_t deadline = pp_now_us() + (int64_t)timeout_ms * 1000;
    while (k->queued) {
        int64_t left = deadline - pp_now_us();
        if (left <= 0)
            break;
        io_round(k, left > 100000 ? 100 : (int)(left / 1000) + 1, 1);
    }
    return k->queued ? -1 : 0;
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

static int kinesis_fatal(pp_sink *s, char *e, size_t n)
{
    kinesis_sink *k = (kinesis_sink *)s;
    if (k->fatal)
        pp_errf(e, n, "%s", k->fatal_reason);
    return k->fatal;
}

/* A blocking DescribeStreamSummary. Returns the HTTP status (0: no answer, errstr says
 * why); the answer's body in resp. */
static long describe(kinesis_sink *k, int s, pp_buf *resp, int timeout_ms, char *e, size_t n)
{
    pp_buf body = {0};
    pp_buf_puts(&body, "{\"StreamName\":");
    pp_json_cstring(&body, k->stream[s]);
    pp_buf_puts(&body, "}");
    long status = 0;
    struct curl_slist *h = signed_headers(k, "DescribeStreamSummary", &body, e, n);
    CURL *easy = h ? new_easy(k, h, &body, resp, timeout_ms) : NULL;
    if (easy) {
        CURLcode cc = curl_easy_perform(easy);
        if (cc == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        else
            pp_errf(e, n, "Kinesis endpoint %s: %s", k->url, curl_easy_strerror(cc));
        curl_easy_cleanup(easy);
    } else if (h) {
        pp_errf(e, n, "cannot start an HTTP transfer (out of memory?)");
    }
    curl_slist_free_all(h);
    pp_buf_free(&body);
    return status;
}

/* The state of every stream. Returns PP_SINK_READY when all take records, PP_SINK_NOT_YET
 * when the endpoint is unreachable or a stream is still being created, PP_SINK_BROKEN when
 * an operator must act; errstr names the first problem; out, when given, gets a line per
 * stream. *auth is set when credentials or signature were refused. */
static int streams_state(kinesis_sink *k, FILE *out, int timeout_ms, int *auth, char *e, size_t n)
{
    int rc = PP_SINK_READY;
    *auth = 0;
    for (int s = 0; s < PP_NTABLES; s++) {
        pp_buf resp = {0};
        char err[1100] = "", type[128], msg[300], line[1400];
        int this_rc = PP_SINK_READY;
        long status = describe(k, s, &resp, timeout_ms, err, sizeof(err));
        if (status == 0) {
            this_rc = PP_SINK_NOT_YET;
            snprintf(line, sizeof(line), "stream %s: UNREACHABLE: %s", k->stream[s], err);
        } else if (status != 200) {
            error_of(&resp, status, type, sizeof(type), msg, sizeof(msg));
            if (!strcmp(type, "ResourceNotFoundException")) {
                this_rc = PP_SINK_BROKEN;
                snprintf(line, sizeof(line),
                         "stream %s: MISSING in %s (create it with `aws kinesis create-stream "
                         "--stream-name %s --region %s`, or name another in kinesis.streams.%s)",
                         k->stream[s], k->region, k->stream[s], k->region, pp_table_names[s]);
            } else {
                this_rc = needs_operator(type) ? PP_SINK_BROKEN : PP_SINK_NOT_YET;
                if (!strcmp(type, "UnrecognizedClientException") ||
                    !strcmp(type, "InvalidSignatureException") ||
                    !strcmp(type, "AccessDeniedException"))
                    *auth = 1;
                snprintf(line, sizeof(line), "stream %s: %s: %s", k->stream[s], type, msg);
            }
        } else {
            cJSON *j = cJSON_ParseWithLength(resp.data, resp.len);
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "StreamDescriptionSummary");
            const char *st =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "StreamStatus"));
            const cJSON *shards = cJSON_GetObjectItemCaseSensitive(d, "OpenShardCount");
            if (st && (!strcmp(st, "ACTIVE") || !strcmp(st, "UPDATING"))) {
                snprintf(line, sizeof(line), "stream %s: %s, %d open shard(s)", k->stream[s], st,
                         cJSON_IsNumber(shards) ? shards->valueint : -1);
            } else {
                this_rc = st && !strcmp(st, "CREATING") ? PP_SINK_NOT_YET : PP_SINK_BROKEN;
                snprintf(line, sizeof(line),
                         "stream %s: NOT ACTIVE (status %s); records can "
                         "only be written to an ACTIVE stream",
                         k->stream[s], st ? st : "unknown");
            }
            cJSON_Delete(j);
        }
        pp_buf_free(&resp);
        if (out)
            fprintf(out, "  %s\n", line);
        /* The worst state wins: broken, then not yet, then ready. */
        if ((this_rc == PP_SINK_BROKEN && rc != PP_SINK_BROKEN) ||
            (this_rc == PP_SINK_NOT_YET && rc == PP_SINK_READY)) {
            rc = this_rc;
            pp_errf(e, n, "%s", line);
        }
    }
    return rc;
}

static int kinesis_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    int auth;
    return streams_state((kinesis_sink *)s, NULL, timeout_ms, &auth, e, n);
}

static int kinesis_check(pp_sink *s, FILE *out, int timeout_ms)
{
    kinesis_sink *k = (kinesis_sink *)s;
    char err[1500];
    int auth;
    fprintf(out, "kinesis: endpoint %s, region %s\n", k->url, k->region);
    int rc = streams_state(k, out, timeout_ms, &auth, err, sizeof(err));
    if (rc == PP_SINK_READY)
        return 0;
    return auth ? -2 : -1;
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
        if (--p->remaining == 0) {
            for (int t = 0; t < PP_NTABLES; t++)
                free(p->data[t]);
            free(p);
        }
    }
    if (k->multi)
        curl_multi_cleanup(k->multi);
    pp_aws_chain_destroy(k->chain);
    for (int t = 0; t < PP_NTABLES; t++)
        free(k->stream[t]);
    free(k->region);
    free(k->url);
    free(k->host);
    free(k->path);
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
    .fatal = kinesis_fatal,
    .check = kinesis_check,
    .destroy = kinesis_destroy,
};

/* Split an endpoint URL into the Host header and the path to sign. */
static int parse_endpoint(kinesis_sink *k, const char *url, char *e, size_t n)
{
    const char *rest = !strncmp(url, "https://", 8)  ? url + 8
                       : !strncmp(url, "http://", 7) ? url + 7
                                                     : NULL;
    if (!rest || !*rest || *rest == '/')
        return pp_errf(e, n, "kinesis.endpoint '%s' is not an http:// or https:// URL", url), -1;
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    k->host = pp_xmalloc(hl + 1);
    memcpy(k->host, rest, hl);
    k->host[hl] = '\0';
    k->path = pp_xstrdup(slash ? slash : "/");
    size_t ul = strlen(url);
    k->url = pp_xmalloc(ul + 2);
    snprintf(k->url, ul + 2, "%s%s", url, slash ? "" : "/");
    return 0;
}

pp_sink *pp_sink_kinesis_new(const pp_config *c, pp_stats *stats, pp_post_done_cb done,
                             void *opaque, char *e, size_t n)
{
    const char *region = c->kinesis.region;
    if (!region || !*region)
        region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region) {
        pp_errf(e, n, "no AWS region for Kinesis: set kinesis.region (or AWS_REGION)");
        return NULL;
    }
    kinesis_sink *k = pp_xcalloc(1, sizeof(*k));
    k->base.ops = &kinesis_ops;
    k->region = pp_xstrdup(region);
    int bad;
    if (c->kinesis.endpoint) {
        bad = parse_endpoint(k, c->kinesis.endpoint, e, n);
    } else {
        char url[300];
        snprintf(url, sizeof(url), "https://kinesis.%s.amazonaws.com", region);
        bad = parse_endpoint(k, url, e, n);
    }
    if (bad) {
        kinesis_destroy(&k->base);
        return NULL;
    }
    for (int t = 0; t < PP_NTABLES; t++)
        k->stream[t] = pp_config_stream(c, t);
    k->linger_s = c->kinesis.linger_s;
    k->record_timeout_s = c->kinesis.record_timeout_s;
    k->max_calls = c->kinesis.max_requests;
    pp_aws_chain_opts opts = {.profile = c->kinesis.profile};
    k->chain = pp_aws_chain_new(&opts);
    k->multi = curl_multi_init();
    if (!k->multi) {
        pp_errf(e, n, "curl_multi_init failed (out of memory)");
        kinesis_destroy(&k->base);
        return NULL;
    }
    pp_rng_seed(&k->rng, pp_rng_os_seed(), 0);
    pp_log_info("kinesis: streams %s %s %s in %s at %s", k->stream[0], k->stream[1], k->stream[2],
                k->region, k->url);
    k->stats = stats;
    k->done = done;
    k->opaque = opaque;
    return &k->base;
}
