/* sink_kafka: produce posts to the three topics through librdkafka, counting deliveries
 * from delivery reports only. */
#define _POSIX_C_SOURCE 200809L
#include "pp_log.h"
#include "pp_msk.h"
#include "pp_sink.h"
#include "pp_util.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct inflight inflight;

/* The opaque of one message: which post, which table. */
typedef struct msg_ref {
    inflight *post;
    int table;
} msg_ref;

/* A post between its produce call and its last delivery report. Recycled via a free
 * list; every record ever allocated is on the `all` chain so destroy frees them. */
struct inflight {
    uint64_t seq;
    int64_t key;
    int remaining;
    int ok;
    int64_t t0_us;
    char category[64], country[64];
    int32_t partition[PP_NTABLES];
    int64_t offset[PP_NTABLES];
    size_t bytes[PP_NTABLES];
    rd_kafka_resp_err_t err;
    msg_ref ref[PP_NTABLES];
    inflight *next_free;
    inflight *all_next;
    inflight *txn_next; /* on the committed-when-the-transaction-commits list */
};

typedef struct kafka_sink {
    pp_sink base;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt[PP_NTABLES];
    char *topics[PP_NTABLES];
    char *instance;
    size_t max_message_bytes;
    int max_queue_messages; /* queue.buffering.max.messages */
    pp_stats *stats;
    pp_post_done_cb done;
    void *opaque;
    inflight *free_list, *all;
    int fatal;
    char fatal_reason[640];
    int brokers_down; /* all brokers unreachable, until the next delivery */
    int auth_failed;  /* authentication or TLS rejected: retrying will not help */
    char auth_reason[512];
    rd_kafka_resp_err_t last_err;
    int64_t last_err_us;
    int64_t last_fail_log_us;
    uint64_t fails_suppressed;
    /* topics */
    int create_topics, partitions, replication_factor;
    int topics_ok;
    /* exactly-once: posts are grouped into transactions committed every interval */
    int exactly_once;
    int txn_ready, txn_open;
    int64_t txn_started_us, txn_interval_us;
    inflight *txn_done; /* delivered posts of the open transaction, settled at commit */
    /* Amazon MSK IAM: OAUTHBEARER tokens signed from the AWS credential chain */
    pp_aws_chain *aws;
    char region[64];
} kafka_sink;

#define TXN_TIMEOUT_MS 60000

static inflight *rec_get(kafka_sink *k)
{
    inflight *r = k->free_list;
    if (r) {
        k->free_list = r->next_free;
    } else {
        r = pp_xcalloc(1, sizeof(*r));
        r->all_next = k->all;
        k->all = r;
    }
    return r;
}

static void rec_put(kafka_sink *k, inflight *r)
{
    r->next_free = k->free_list;
    k->free_list = r;
}

static void post_settled(kafka_sink *k, inflight *r)
{
    int64_t now = pp_now_us();
    pp_post_result res = {.seq = r->seq, .key = r->key, .ok = r->ok, .category = r->category,
                          .country = r->country, .latency_us = now - r->t0_us,
                          .error = r->ok ? NULL : rd_kafka_err2str(r->err)};
    memcpy(res.partition, r->partition, sizeof(res.partition));
    memcpy(res.offset, r->offset, sizeof(res.offset));
    if (!r->ok) {
        /* One line per failed post would flood the log during an outage. */
        if (now - k->last_fail_log_us >= 1000000) {
            pp_log_warn("post %" PRId64 " (seq %" PRIu64 ") failed: %s%s", r->key, r->seq,
                        rd_kafka_err2str(r->err),
                        k->fails_suppressed ? " (and earlier failures not shown)" : "");
            k->last_fail_log_us = now;
            k->fails_suppressed = 0;
        } else {
            k->fails_suppressed++;
        }
    }
    if (k->done)
        k->done(k->opaque, &res);
    rec_put(k, r);
}

/* Settle one message of a post. */
static void message_settled(kafka_sink *k, msg_ref *ref, rd_kafka_resp_err_t err,
                            int32_t partition, int64_t offset)
{
    inflight *r = ref->post;
    int t = ref->table;
    pp_hist_record(&k->stats->latency_us, (uint64_t)(pp_now_us() - r->t0_us));
    if (err) {
        k->stats->topic[t].failed++;
        if (r->ok) {
            r->ok = 0;
            r->err = err;
        }
    } else {
        k->stats->topic[t].delivered++;
        k->stats->topic[t].bytes += r->bytes[t];
        k->brokers_down = 0;
    }
    r->partition[t] = partition;
    r->offset[t] = offset;
    if (--r->remaining)
        return;
    if (k->exactly_once && r->ok) {
        /* Visible to read_committed consumers only once the transaction commits. */
        r->txn_next = k->txn_done;
        k->txn_done = r;
        return;
    }
    post_settled(k, r);
}

/* Settle every post of the transaction: delivered when it committed, failed otherwise. */
static void txn_settle(kafka_sink *k, int committed, rd_kafka_resp_err_t err)
{
    inflight *r = k->txn_done;
    k->txn_done = NULL;
    while (r) {
        inflight *next = r->txn_next;
        if (!committed) {
            r->ok = 0;
            r->err = err;
        }
        post_settled(k, r);
        r = next;
    }
}

static void txn_abort(kafka_sink *k)
{
    rd_kafka_error_t *e = rd_kafka_abort_transaction(k->rk, TXN_TIMEOUT_MS);
    if (e) {
        pp_log_err("kafka: aborting the transaction failed: %s", rd_kafka_error_string(e));
        if (rd_kafka_error_is_fatal(e)) {
            snprintf(k->fatal_reason, sizeof(k->fatal_reason), "%s", rd_kafka_error_string(e));
            k->fatal = 1;
        }
        rd_kafka_error_destroy(e);
    }
    /* Purged messages of the aborted transaction report back through poll. */
    rd_kafka_poll(k->rk, 0);
    txn_settle(k, 0, RD_KAFKA_RESP_ERR__TRANSPORT);
    k->txn_open = 0;
}

/* Commit the open transaction; on failure abort it, so no partial post ever becomes
 * visible, and count its posts failed. */
static void txn_commit(kafka_sink *k, int timeout_ms)
{
    if (!k->txn_open)
        return;
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_commit_transaction(k->rk, timeout_ms);
        if (!e) {
            k->txn_open = 0;
            txn_settle(k, 1, RD_KAFKA_RESP_ERR_NO_ERROR);
            return;
        }
        int retriable = rd_kafka_error_is_retriable(e);
        int abortable = rd_kafka_error_txn_requires_abort(e);
        int fatal = rd_kafka_error_is_fatal(e);
        pp_log_warn("kafka: committing the transaction failed (attempt %d): %s", attempt,
                    rd_kafka_error_string(e));
        if (fatal) {
            snprintf(k->fatal_reason, sizeof(k->fatal_reason), "%s", rd_kafka_error_string(e));
            k->fatal = 1;
        }
        rd_kafka_error_destroy(e);
        if (retriable && attempt < 3 && !fatal)
            continue;
        if (abortable || !fatal) {
            txn_abort(k);
        } else {
            txn_settle(k, 0, RD_KAFKA_RESP_ERR__FATAL);
            k->txn_open = 0;
        }
        return;
    }
}

/* @locality: the thread calling rd_kafka_poll/flush, i.e. the main loop. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    message_settled(opaque, m->_private, m->err, m->partition, m->offset);
}

/* @locality: the main loop (error events are served by rd_kafka_poll). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_sink *k = opaque;
    int64_t now = pp_now_us();
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        snprintf(k->fatal_reason, sizeof(k->fatal_reason), "%s: %s", rd_kafka_err2name(orig),
                 why);
        k->fatal = 1;
        pp_log_err("kafka: fatal producer error: %s", k->fatal_reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        k->brokers_down = 1;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL) {
        k->auth_failed = 1;
        snprintf(k->auth_reason, sizeof(k->auth_reason), "%s", reason);
    }
    /* Repeats of the same transient error are logged at most every 30 s. */
    if (err == (int)k->last_err && now - k->last_err_us < 30000000)
        return;
    k->last_err = (rd_kafka_resp_err_t)err;
    k->last_err_us = now;
    pp_log_warn("kafka: %s: %s%s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason,
                err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                    ? " (messages stay queued and are retried until message.timeout.ms)"
                    : "");
}

/* Every path ends in set_token or set_token_failure, with the reason in the log.
 * @locality: librdkafka's background thread (SASL queue forwarded to it), so a long
 * idle gap between posts never lets the token lapse. */
static void on_token_refresh(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque)
{
    kafka_sink *k = opaque;
    pp_aws_creds creds = {0};
    char err[1024], source[160];
    (void)oauthbearer_config;
    if (pp_aws_chain_get(k->aws, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
        pp_log_err("MSK IAM: cannot sign a token: %s", err);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
        return;
    }
    pp_buf token = {0};
    int64_t lifetime_ms = 0;
    pp_msk_token(&creds, k->region, time(NULL), 900, &token, &lifetime_ms);
    pp_aws_creds_clear(&creds);
    if (rd_kafka_oauthbearer_set_token(rk, token.data, lifetime_ms, "pinpostd", NULL, 0, err,
                                       sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pp_log_err("MSK IAM: token rejected by librdkafka: %s", err);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
    } else {
        pp_log_info("MSK IAM: new token for %s, valid for %lld s (credentials: %s)", k->region,
                    (long long)(lifetime_ms / 1000 - (int64_t)time(NULL)), source);
    }
    memset(token.data, 0, token.len);
    pp_buf_free(&token);
}

/* @locality: any librdkafka thread; pp_log only writes one line to stderr. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    /* Connection trouble is reported once, with context, by on_error; librdkafka's own
     * line for each failed attempt is a warning, not an error of the daemon. */
    if (level < LOG_WARNING)
        level = LOG_WARNING;
    if (pp_log_enabled(level))
        pp_log(level, "kafka %s: %s", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                    const char *origin, char *e, size_t n)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        pp_errf(e, n, "%s: kafka setting '%s': %s", origin, key, err);
        return -1;
    }
    return 0;
}

static int kafka_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    char key[24];
    int klen = snprintf(key, sizeof(key), "%" PRId64, p->key);
    for (int t = 0; t < PP_NTABLES; t++) {
        if (p->value[t].len + (size_t)klen + 256 > k->max_message_bytes) {
            pp_errf(e, n,
                    "post %" PRId64 " skipped: its %s row is %zu bytes, "
                    "over message.max.bytes (%zu); raise message.max.bytes in "
                    "client.properties (and the topic's max.message.bytes) to send such rows",
                    p->key, pp_table_names[t], p->value[t].len, k->max_message_bytes);
            return PP_SINK_SKIPPED;
        }
    }
    return 0;
}

static int kafka_full(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    return rd_kafka_outq_len(k->rk) + PP_NTABLES > k->max_queue_messages;
}

static int kafka_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    char key[24], seqstr[24];
    int klen = snprintf(key, sizeof(key), "%" PRId64, p->key);
    snprintf(seqstr, sizeof(seqstr), "%" PRIu64, seq);

    /* Refuse the whole post up front rather than leave a partial one in Kafka. */
    if (kafka_fits(s, p, e, n))
        return PP_SINK_SKIPPED;

    if (k->exactly_once && !k->txn_open) {
        rd_kafka_error_t *te = rd_kafka_begin_transaction(k->rk);
        if (te) {
            snprintf(k->fatal_reason, sizeof(k->fatal_reason), "begin transaction: %s",
                     rd_kafka_error_string(te));
            k->fatal = 1;
            rd_kafka_error_destroy(te);
            pp_errf(e, n, "%s", k->fatal_reason);
            return -1;
        }
        k->txn_open = 1;
        k->txn_started_us = pp_now_us();
    }

    inflight *r = rec_get(k);
    r->seq = seq;
    r->key = p->key;
    r->remaining = PP_NTABLES;
    r->ok = 1;
    r->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    r->t0_us = pp_now_us();
    memcpy(r->category, p->category, sizeof(r->category));
    memcpy(r->country, p->country, sizeof(r->country));

    int rc = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        r->ref[t] = (msg_ref){r, t};
        r->bytes[t] = p->value[t].len;
        r->partition[t] = -1;
        r->offset[t] = -1;
    }
    for (int t = 0; t < PP_NTABLES; t++) {
        rd_kafka_resp_err_t err;
        int64_t wait_start = 0;
        for (;;) {
            rd_kafka_headers_t *h = rd_kafka_headers_new(2);
            rd_kafka_header_add(h, PP_HEADER_INSTANCE, -1, k->instance, -1);
            rd_kafka_header_add(h, PP_HEADER_SEQ, -1, seqstr, -1);
            err = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt[t]),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, (size_t)klen),
                                    RD_KAFKA_V_VALUE(p->value[t].data, p->value[t].len),
                                    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&r->ref[t]),
                                    RD_KAFKA_V_END);
            if (!err)
                break; /* h is owned by librdkafka now */
            rd_kafka_headers_destroy(h);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || k->fatal)
                break;
            /* Never drop: wait for deliveries to make room. The rest of the post must
             * follow its first message, so this waits even while stopping. */
            if (!wait_start)
                wait_start = pp_now_us();
            else if (pp_now_us() - wait_start > 5000000) {
                pp_log_warn("kafka: local queue full for 5 s (%d messages); waiting for the "
                            "brokers", rd_kafka_outq_len(k->rk));
                wait_start = pp_now_us();
            }
            rd_kafka_poll(k->rk, 100);
        }
        if (err) {
            pp_errf(e, n, "producing post %" PRId64 " to %s: %s", p->key, k->topics[t],
                    rd_kafka_err2str(err));
            message_settled(k, &r->ref[t], err, -1, -1);
            rc = -1;
        }
    }
    return rc;
}

static void kafka_poll(pp_sink *s, int timeout_ms)
{
    kafka_sink *k = (kafka_sink *)s;
    rd_kafka_poll(k->rk, timeout_ms);
    if (k->txn_open && pp_now_us() - k->txn_started_us >= k->txn_interval_us)
        txn_commit(k, TXN_TIMEOUT_MS);
}

static int kafka_flush(pp_sink *s, int timeout_ms)
{
    kafka_sink *k = (kafka_sink *)s;
    rd_kafka_flush(k->rk, timeout_ms);
    /* Commit once every message of the transaction is delivered, so a slow flush never
     * makes a commit time out and abort good posts. */
    if (k->exactly_once && rd_kafka_outq_len(k->rk) == 0)
        txn_commit(k, TXN_TIMEOUT_MS);
    return rd_kafka_outq_len(k->rk) > 0 || pp_stats_in_flight(k->stats) > 0;
}

static void kafka_abandon(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    if (k->txn_open)
        txn_abort(k);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Purged messages get delivery reports (ERR__PURGE_*): serve them so every post is
     * accounted for. */
    for (int i = 0; i < 50 && pp_stats_in_flight(k->stats) > 0; i++)
        rd_kafka_poll(k->rk, 100);
}

static int kafka_healthy(pp_sink *s)
{
    return !((kafka_sink *)s)->brokers_down;
}

static int kafka_fatal(pp_sink *s, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    if (k->fatal)
        pp_errf(e, n, "%s", k->fatal_reason);
    return k->fatal;
}

/* Create the missing topics with the admin API. */
static int create_topics(kafka_sink *k, int *missing, int timeout_ms, char *e, size_t n)
{
    rd_kafka_NewTopic_t *nt[PP_NTABLES];
    int cnt = 0, rc = PP_SINK_READY;
    char err[512];
    for (int t = 0; t < PP_NTABLES; t++) {
        if (!missing[t])
            continue;
        nt[cnt] = rd_kafka_NewTopic_new(k->topics[t], k->partitions, k->replication_factor,
                                        err, sizeof(err));
        if (!nt[cnt]) {
            pp_errf(e, n, "kafka.create_topics: %s: %s", k->topics[t], err);
            rd_kafka_NewTopic_destroy_array(nt, (size_t)cnt);
            return PP_SINK_BROKEN;
        }
        cnt++;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, err, sizeof(err));
    rd_kafka_CreateTopics(k->rk, nt, (size_t)cnt, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        pp_errf(e, n, "creating topics: %s", ev ? rd_kafka_event_error_string(ev) : "timed out");
        rc = PP_SINK_NOT_YET;
    } else if (rd_kafka_event_error(ev)) {
        pp_errf(e, n, "creating topics: %s", rd_kafka_event_error_string(ev));
        rc = PP_SINK_NOT_YET;
    } else {
        size_t nres;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &nres);
        for (size_t i = 0; i < nres; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te == RD_KAFKA_RESP_ERR_NO_ERROR || te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                if (!te)
                    pp_log_notice("kafka: created topic %s", rd_kafka_topic_result_name(tr[i]));
                continue;
            }
            pp_errf(e, n, "creating topic %s: %s (set kafka.partitions and "
                          "kafka.replication_factor to values the cluster accepts)",
                    rd_kafka_topic_result_name(tr[i]),
                    rd_kafka_topic_result_error_string(tr[i]) ? rd_kafka_topic_result_error_string(tr[i])
                                                              : rd_kafka_err2str(te));
            rc = te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                         te == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
                         te == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
                         te == RD_KAFKA_RESP_ERR_POLICY_VIOLATION ||
                         te == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED
                     ? PP_SINK_BROKEN
                     : PP_SINK_NOT_YET;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, (size_t)cnt);
    return rc;
}

/* Do the three topics exist? A broker that auto-creates topics creates them on this
 * metadata request, so "unknown" is believed only after a few tries. */
static int check_topics(kafka_sink *k, int timeout_ms, char *e, size_t n)
{
    int missing[PP_NTABLES] = {0}, nmissing = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        rd_kafka_resp_err_t te = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int attempt = 0; attempt < 4; attempt++) {
            const struct rd_kafka_metadata *md = NULL;
            rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, k->rkt[t], &md, timeout_ms);
            if (err) {
                rd_kafka_poll(k->rk, 0); /* serve error events: was it authentication? */
                if (k->auth_failed) {
                    pp_errf(e, n, "Kafka rejected our credentials or TLS settings: %s",
                            k->auth_reason);
                    return PP_SINK_BROKEN;
                }
                pp_errf(e, n, "Kafka unreachable: metadata for %s: %s", k->topics[t],
                        rd_kafka_err2str(err));
                return PP_SINK_NOT_YET;
            }
            te = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
            rd_kafka_metadata_destroy(md);
            if (!te || k->create_topics)
                break;
            rd_kafka_poll(k->rk, 500);
        }
        if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || te == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            missing[t] = 1;
            nmissing++;
        } else if (te) {
            pp_errf(e, n, "topic %s: %s", k->topics[t], rd_kafka_err2str(te));
            return te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ? PP_SINK_BROKEN
                                                                       : PP_SINK_NOT_YET;
        }
    }
    if (!nmissing)
        return PP_SINK_READY;
    if (k->create_topics)
        return create_topics(k, missing, timeout_ms, e, n);
    pp_errf(e, n, "topic(s)%s%s%s%s%s%s do not exist and the cluster does not create them "
                  "automatically: create them (kafka-topics.sh --create --topic NAME "
                  "--partitions N --replication-factor R) or set kafka.create_topics: true",
            missing[0] ? " " : "", missing[0] ? k->topics[0] : "", missing[1] ? " " : "",
            missing[1] ? k->topics[1] : "", missing[2] ? " " : "", missing[2] ? k->topics[2] : "");
    return PP_SINK_BROKEN;
}

static int kafka_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!k->topics_ok) {
        int rc = check_topics(k, timeout_ms, e, n);
        if (rc != PP_SINK_READY)
            return rc;
        k->topics_ok = 1;
        k->brokers_down = 0;
    }
    if (k->exactly_once && !k->txn_ready) {
        /* Also fences an earlier instance with the same transactional.id and aborts its
         * open transaction, so a killed predecessor never leaves a partial post. */
        rd_kafka_error_t *te = rd_kafka_init_transactions(k->rk, timeout_ms);
        if (te) {
            int retriable = rd_kafka_error_is_retriable(te);
            pp_errf(e, n, "starting transactions: %s", rd_kafka_error_string(te));
            rd_kafka_error_destroy(te);
            return retriable ? PP_SINK_NOT_YET : PP_SINK_BROKEN;
        }
        k->txn_ready = 1;
    }
    return PP_SINK_READY;
}

static int kafka_check(pp_sink *s, FILE *out, int timeout_ms)
{
    kafka_sink *k = (kafka_sink *)s;
    int rc = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, k->rkt[t], &md, timeout_ms);
        if (err) {
            rd_kafka_poll(k->rk, 0);
            if (k->auth_failed) {
                fprintf(out, "kafka: authentication or TLS failed: %s\n", k->auth_reason);
                return -2;
            }
            fprintf(out, "kafka: cannot get metadata for %s: %s\n", k->topics[t],
                    rd_kafka_err2str(err));
            rc = -1;
            continue;
        }
        if (t == 0)
            fprintf(out, "kafka: reachable, %d broker(s)\n", md->broker_cnt);
        if (md->topic_cnt != 1 || md->topics[0].err) {
            fprintf(out, "kafka: topic %s: %s\n", k->topics[t],
                    md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not returned");
            rc = -1;
        } else {
            fprintf(out, "kafka: topic %s: %d partition(s)\n", k->topics[t],
                    md->topics[0].partition_cnt);
        }
        rd_kafka_metadata_destroy(md);
    }
    return rc;
}

static void kafka_destroy(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!k)
        return;
    for (int t = 0; t < PP_NTABLES; t++) {
        if (k->rkt[t])
            rd_kafka_topic_destroy(k->rkt[t]);
        free(k->topics[t]);
    }
    if (k->rk)
        rd_kafka_destroy(k->rk);
    while (k->all) {
        inflight *next = k->all->all_next;
        free(k->all);
        k->all = next;
    }
    pp_aws_chain_destroy(k->aws);
    free(k->instance);
    free(k);
}

static const pp_sink_ops kafka_ops = {
    .prepare = kafka_prepare, .fits = kafka_fits,       .full = kafka_full,
    .produce = kafka_produce,
    .poll = kafka_poll,       .flush = kafka_flush,     .abandon = kafka_abandon,
    .healthy = kafka_healthy, .fatal = kafka_fatal,     .check = kafka_check,
    .destroy = kafka_destroy,
};

pp_sink *pp_sink_kafka_new(const pp_config *c, const char *const topics[PP_NTABLES], int demo,
                           pp_stats *stats, pp_post_done_cb done, void *opaque, char *e,
                           size_t n)
{
    kafka_sink *k = pp_xcalloc(1, sizeof(*k));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512], buf[64];
    size_t len = sizeof(buf);

    k->base.ops = &kafka_ops;
    k->stats = stats;
    k->done = done;
    k->opaque = opaque;
    k->instance = pp_xstrdup(c->service.instance);
    for (int t = 0; t < PP_NTABLES; t++)
        k->topics[t] = pp_xstrdup(topics[t]);
    k->exactly_once = c->kafka.exactly_once;
    k->txn_interval_us = (int64_t)(c->kafka.transaction_interval_s * 1e6);
    k->create_topics = c->kafka.create_topics;
    k->partitions = c->kafka.partitions;
    k->replication_factor = c->kafka.replication_factor;

    /* Delivery guarantees first; the user's settings below may override them. */
    const char *const defaults[][2] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"client.id", "pinpostd"},
        {"linger.ms", "5"},
        /* In exactly-once mode this may not exceed transaction.timeout.ms (60 s). */
        {"message.timeout.ms", c->kafka.exactly_once ? "60000" : "300000"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (conf_set(conf, defaults[i][0], defaults[i][1], "built-in default", e, n))
            goto fail;
    if (demo && conf_set(conf, "test.mock.num.brokers", "3", "--demo", e, n))
        goto fail;
    for (size_t i = 0; i < c->kafka.nsettings; i++) {
        const pp_kv *kv = &c->kafka.settings[i];
        if (demo && !strcmp(kv->key, "bootstrap.servers"))
            continue; /* the demo talks to its in-process cluster only */
        if (conf_set(conf, kv->key, kv->value, kv->origin, e, n))
            goto fail;
    }
    if (k->exactly_once) {
        char txid[512];
        snprintf(txid, sizeof(txid), "pinpostd-%s", c->service.instance);
        if (conf_set(conf, "transactional.id",
                     c->kafka.transactional_id ? c->kafka.transactional_id : txid,
                     "kafka.transactional_id", e, n))
            goto fail;
    }
    if (!demo && !pp_config_get_kafka(c, "bootstrap.servers")) {
        pp_errf(e, n, "no Kafka bootstrap servers: set bootstrap.servers in the file named by "
                      "kafka.properties, or kafka.bootstrap_servers");
        goto fail;
    }
    if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &len) != RD_KAFKA_CONF_OK ||
        (k->max_message_bytes = strtoul(buf, NULL, 10)) == 0)
        k->max_message_bytes = 1000000;
    len = sizeof(buf);
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &len) != RD_KAFKA_CONF_OK ||
        (k->max_queue_messages = atoi(buf)) <= 0)
        k->max_queue_messages = 100000;
    if (c->msk.enabled && !demo) {
        if (pp_msk_region(c, k->region, sizeof(k->region), e, n))
            goto fail;
        k->aws = pp_msk_chain_new(c);
        rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, on_token_refresh);
        rd_kafka_conf_enable_sasl_queue(conf, 1);
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);

    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->rk) {
        pp_errf(e, n, "creating the Kafka producer: %s", err);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    if (k->aws) {
        rd_kafka_error_t *bg = rd_kafka_sasl_background_callbacks_enable(k->rk);
        if (bg) {
            pp_errf(e, n, "enabling background token refresh: %s", rd_kafka_error_string(bg));
            rd_kafka_error_destroy(bg);
            goto fail;
        }
    }

    if (demo) {
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(k->rk);
        for (int t = 0; mc && t < PP_NTABLES; t++)
            rd_kafka_mock_topic_create(mc, topics[t], 3, 3);
    }
    for (int t = 0; t < PP_NTABLES; t++) {
        k->rkt[t] = rd_kafka_topic_new(k->rk, topics[t], NULL);
        if (!k->rkt[t]) {
            pp_errf(e, n, "topic %s: %s", topics[t], rd_kafka_err2str(rd_kafka_last_error()));
            goto fail;
        }
    }
    return &k->base;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    kafka_destroy(&k->base);
    return NULL;
}
