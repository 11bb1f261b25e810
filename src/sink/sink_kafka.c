/* sink_kafka: produce posts to the three topics through librdkafka, counting deliveries
 * from delivery reports only. */
#include "pp_inflight.h"
#include "pp_log.h"
#include "pp_kafka.h"
#include "pp_sink.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct kafka_post kafka_post;

/* The opaque of one message: which post, which table. */
typedef struct msg_ref {
    kafka_post *post;
    int table;
} msg_ref;

/* A post between its produce call and its settlement (its last delivery report, or in
 * exactly-once mode the end of its transaction). Recycled via a free list; every record
 * ever allocated is on the `all` chain so destroy frees them. */
struct kafka_post {
    pp_inflight base;
    uint64_t txn; /* exactly-once: the transaction it was produced in */
    msg_ref ref[PP_NTABLES];
    kafka_post *next_free;
    kafka_post *all_next;
    kafka_post *txn_next; /* on the committed-when-the-transaction-commits list */
};

typedef struct kafka_sink {
    pp_sink base; /* dest: the topics */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt[PP_NTABLES];
    char *instance;
    size_t max_message_bytes;
    int max_queue_messages; /* queue.buffering.max.messages */
    kafka_post *free_list, *all;
    int brokers_down;    /* all brokers unreachable, until the next delivery */
    uint64_t posts_open; /* produced, not yet reported through done */
    rd_kafka_resp_err_t last_err;
    pp_log_limit err_log; /* repeats of last_err */
    /* topics */
    int create_topics, partitions, replication_factor;
    int client_auto_create; /* allow.auto.create.topics is not false */
    int topics_ok;
    /* exactly-once: posts are grouped into transactions committed every interval */
    int exactly_once;
    int txn_ready, txn_open;
    int txn_failed; /* a message of the open transaction failed: it must abort */
    int committing; /* a commit is under way, resumed slice by slice from poll/flush */
    int64_t commit_deadline_us;
    uint64_t txn_id; /* counts begun transactions */
    int64_t txn_started_us, txn_interval_us;
    kafka_post *txn_done; /* finished posts of the open transaction, settled at its end */
    pp_kafka *client;     /* settings, log mapping, MSK IAM tokens (src/client) */
} kafka_sink;

#define TXN_TIMEOUT_MS 60000
/* A commit blocks for at most this long per call and is resumed on the next poll or
 * flush (librdkafka resumes a commit that timed out), so the main loop, the watchdog and
 * a second stop signal are served while a broker does not answer. */
#define TXN_SLICE_MS 500
/* Abort when giving up (a second stop signal): short, the process is about to exit. */
#define TXN_GIVE_UP_MS 2000
/* Repeats of the same transient client error are logged at most this often. */
#define ERROR_REPEAT_US 30000000

static int topic_open(kafka_sink *k, int t, char *e, size_t n);

static kafka_post *rec_get(kafka_sink *k)
{
    kafka_post *r = k->free_list;
    if (r) {
        k->free_list = r->next_free;
    } else {
        r = pp_xcalloc(1, sizeof(*r));
        r->all_next = k->all;
        k->all = r;
    }
    return r;
}

static void rec_put(kafka_sink *k, kafka_post *r)
{
    r->next_free = k->free_list;
    k->free_list = r;
}

/* Report a post through the done callback and recycle its record. */
static void post_settled(kafka_sink *k, kafka_post *r, pp_outcome o)
{
    k->posts_open--;
    pp_inflight_done(&k->base, &r->base, o, "Kafka");
    rec_put(k, r);
}

/* Settle a post of an ended transaction: its delivered messages share the transaction's
 * fate (o); its failed ones were counted when they failed. */
static void txn_post_settled(kafka_sink *k, kafka_post *r, pp_outcome o, rd_kafka_resp_err_t err)
{
    for (int t = 0; t < PP_NTABLES; t++)
        if (r->base.delivered[t])
            pp_inflight_count(&k->base, &r->base, t, o);
    if (r->base.lost) /* never with a commit: a failed message makes the transaction abort */
        o = PP_FAILED;
    if (o != PP_DELIVERED && !r->base.error[0])
        snprintf(r->base.error, sizeof(r->base.error), "%s", rd_kafka_err2str(err));
    post_settled(k, r, o);
}

/* Settle one message of a post; the post once its last message is settled. */
static void message_settled(kafka_sink *k, msg_ref *ref, rd_kafka_resp_err_t err,
                            rd_kafka_msg_status_t status, int32_t partition, int64_t offset)
{
    kafka_post *r = ref->post;
    int t = ref->table;
    int in_open_txn = k->exactly_once && k->txn_open && r->txn == k->txn_id;
    /* An aborted transaction keeps nothing, so in exactly-once mode every failure is a
     * loss. */
    pp_outcome o = !err ? PP_DELIVERED
                   : !k->exactly_once && status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                       ? PP_UNKNOWN
                       : PP_FAILED;
    int left =
        pp_inflight_message(&r->base, t, o, partition, offset, err ? rd_kafka_err2str(err) : NULL);
    if (!err)
        k->brokers_down = 0;
    /* In exactly-once mode a delivered message is still only part of a transaction that
     * may abort: it is counted when the transaction ends. */
    if (!k->exactly_once || o != PP_DELIVERED)
        pp_inflight_count(&k->base, &r->base, t, o);
    if (err && in_open_txn)
        k->txn_failed = 1; /* committing would expose a partial post */
    if (left)
        return;
    if (k->exactly_once) {
        if (in_open_txn) {
            /* Visible to read_committed consumers only once the transaction commits. */
            r->txn_next = k->txn_done;
            k->txn_done = r;
        } else {
            /* Its transaction ended without it; a commit waits for every delivery report,
             * so that end was an abort. */
            txn_post_settled(k, r, PP_FAILED, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
        }
        return;
    }
    post_settled(k, r, pp_inflight_outcome(&r->base));
}

/* Settle every post of the transaction that just ended with outcome o. */
static void txn_settle(kafka_sink *k, pp_outcome o, rd_kafka_resp_err_t err)
{
    kafka_post *r = k->txn_done;
    k->txn_done = NULL;
    while (r) {
        kafka_post *next = r->txn_next;
        txn_post_settled(k, r, o, err);
        r = next;
    }
}

static void txn_error(kafka_sink *k, const char *what, rd_kafka_error_t *e)
{
    pp_log_err("kafka: %s the transaction failed: %s", what, rd_kafka_error_string(e));
    if (rd_kafka_error_is_fatal(e)) {
        pp_sink_set_fatal(&k->base, "%s", rd_kafka_error_string(e));
    }
}

/* Abort the open transaction, so no partial post ever becomes visible; its posts count as
 * failed, or as `unconfirmed` when the abort itself failed (after a commit attempt the
 * transaction may have committed). */
static void txn_abort(kafka_sink *k, pp_outcome unconfirmed, rd_kafka_resp_err_t why,
                      int timeout_ms)
{
    pp_outcome o = PP_FAILED;
    k->committing = 0;
    rd_kafka_error_t *e = rd_kafka_abort_transaction(k->rk, timeout_ms);
    if (e) {
        txn_error(k, "aborting", e);
        o = unconfirmed;
        rd_kafka_error_destroy(e);
    }
    /* Purged messages of the aborted transaction report back through poll. */
    rd_kafka_poll(k->rk, 0);
    txn_settle(k, o, why);
    k->txn_open = 0;
    k->txn_failed = 0;
}

/* Was the producer fenced by a newer one with its transactional.id? That one's
 * init_transactions aborted our open transaction. */
static int fenced(kafka_sink *k, const rd_kafka_error_t *e)
{
    char why[256];
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    if (code == RD_KAFKA_RESP_ERR__FATAL)
        code = rd_kafka_fatal_error(k->rk, why, sizeof(why));
    return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* Commit the open transaction, one slice of at most TXN_SLICE_MS per call: while it
 * times out retriably, k->committing stays set and the next poll or flush resumes it,
 * up to TXN_TIMEOUT_MS in all. When it cannot commit, abort it, so no partial post ever
 * becomes visible: its posts count as failed, or as unknown when the commit may have
 * reached the coordinator before the error. */
static void txn_commit(kafka_sink *k)
{
    if (!k->txn_open)
        return;
    if (k->txn_failed) {
        pp_log_warn("kafka: a message of the open transaction failed: aborting the "
                    "transaction (its posts count as failed)");
        txn_abort(k, PP_FAILED, RD_KAFKA_RESP_ERR__STATE, TXN_TIMEOUT_MS);
        return;
    }
    char why[256];
    rd_kafka_resp_err_t fatal_err = rd_kafka_fatal_error(k->rk, why, sizeof(why));
    if (fatal_err) {
        /* No commit can be sent any more: the coordinator aborts the transaction. */
        rd_kafka_poll(k->rk, 0);
        txn_settle(k, PP_FAILED, fatal_err);
        k->txn_open = 0;
        k->txn_failed = 0;
        return;
    }
    {
        int64_t now = pp_now_us();
        if (!k->committing) {
            k->committing = 1;
            k->commit_deadline_us = now + (int64_t)TXN_TIMEOUT_MS * 1000;
        }
        rd_kafka_error_t *e = rd_kafka_commit_transaction(k->rk, TXN_SLICE_MS);
        if (!e) {
            txn_settle(k, PP_DELIVERED, RD_KAFKA_RESP_ERR_NO_ERROR);
            k->txn_open = 0;
            k->committing = 0;
            return;
        }
        rd_kafka_resp_err_t code = rd_kafka_error_code(e);
        int retriable = rd_kafka_error_is_retriable(e);
        int abortable = rd_kafka_error_txn_requires_abort(e);
        int fatal = rd_kafka_error_is_fatal(e);
        int was_fenced = fatal && fenced(k, e);
        if (retriable && !fatal && !abortable && pp_now_us() < k->commit_deadline_us) {
            rd_kafka_error_destroy(e); /* resumed on the next poll or flush */
            return;
        }
        pp_log_warn("kafka: committing the transaction failed: %s", rd_kafka_error_string(e));
        if (fatal)
            pp_sink_set_fatal(&k->base, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        k->committing = 0;
        if (!fatal) {
            /* A commit that timed out may have been applied: unknown unless the abort
             * goes through. */
            txn_abort(k, abortable ? PP_FAILED : PP_UNKNOWN, code, TXN_TIMEOUT_MS);
        } else {
            /* A fatal error other than fencing may have struck after the coordinator
             * took the commit. */
            rd_kafka_poll(k->rk, 0);
            txn_settle(k, was_fenced ? PP_FAILED : PP_UNKNOWN, code);
            k->txn_open = 0;
            k->txn_failed = 0;
        }
        return;
    }
}

/* @locality: the thread calling rd_kafka_poll/flush, i.e. the main loop. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    message_settled(opaque, m->_private, m->err, rd_kafka_message_status(m), m->partition,
                    m->offset);
}

/* @locality: the main loop (error events are served by rd_kafka_poll). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_sink *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        pp_sink_set_fatal(&k->base, "%s: %s", rd_kafka_err2name(orig), why);
        pp_log_err("kafka: fatal producer error: %s", k->base.fatal_reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        k->brokers_down = 1;
    /* Repeats of the same transient error are logged at most every 30 s; another error
     * is logged at once. */
    if (err != (int)k->last_err) {
        k->last_err = (rd_kafka_resp_err_t)err;
        k->err_log = (pp_log_limit){.interval_us = ERROR_REPEAT_US};
    }
    pp_log_limited(&k->err_log, LOG_WARNING, "kafka: %s: %s%s",
                   rd_kafka_err2name((rd_kafka_resp_err_t)err), reason,
                   err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                       ? " (messages stay queued and are retried until message.timeout.ms)"
                       : "");
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
            return 0;
        }
    }
    return 1;
}

static int kafka_full(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    /* No new post joins a transaction that is being committed. */
    return k->committing || rd_kafka_outq_len(k->rk) + PP_NTABLES > k->max_queue_messages;
}

/* The post fits (pp_sink_produce checked, refusing a whole post up front rather than
 * leaving a partial one in Kafka). */
static pp_sink_put kafka_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    char key[24], seqstr[24];
    int klen = snprintf(key, sizeof(key), "%" PRId64, p->key);
    snprintf(seqstr, sizeof(seqstr), "%" PRIu64, seq);

    kafka_post *r = rec_get(k);
    pp_inflight_start(&r->base, p, seq);
    for (int t = 0; t < PP_NTABLES; t++)
        r->ref[t] = (msg_ref){r, t};
    k->posts_open++;

    if (k->exactly_once && !k->txn_open) {
        rd_kafka_error_t *te = rd_kafka_begin_transaction(k->rk);
        if (te) {
            rd_kafka_resp_err_t code = rd_kafka_error_code(te);
            pp_sink_set_fatal(&k->base, "begin transaction: %s", rd_kafka_error_string(te));
            rd_kafka_error_destroy(te);
            pp_errf(e, n, "%s", k->base.fatal_reason);
            /* The post was counted sampled: report it failed, never leave it in flight. */
            for (int t = 0; t < PP_NTABLES; t++)
                message_settled(k, &r->ref[t], code ? code : RD_KAFKA_RESP_ERR__STATE,
                                RD_KAFKA_MSG_STATUS_NOT_PERSISTED, -1, -1);
            return PP_SINK_FAILED;
        }
        k->txn_open = 1;
        k->txn_id++;
        k->txn_started_us = pp_now_us();
    }
    r->txn = k->txn_id;

    pp_sink_put rc = PP_SINK_QUEUED;
    for (int t = 0; t < PP_NTABLES; t++) {
        rd_kafka_resp_err_t err;
        int64_t wait_start = 0;
        for (;;) {
            rd_kafka_headers_t *h = rd_kafka_headers_new(2);
            rd_kafka_header_add(h, PP_HEADER_INSTANCE, -1, k->instance, -1);
            rd_kafka_header_add(h, PP_HEADER_SEQ, -1, seqstr, -1);
            err = rd_kafka_producev(
                k->rk, RD_KAFKA_V_RKT(k->rkt[t]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key, (size_t)klen),
                RD_KAFKA_V_VALUE(p->value[t].data, p->value[t].len), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_OPAQUE(&r->ref[t]), RD_KAFKA_V_END);
            if (!err)
                break; /* h is owned by librdkafka now */
            rd_kafka_headers_destroy(h);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || k->base.fatal)
                break;
            /* Never drop: wait for deliveries to make room. The rest of the post must
             * follow its first message, so this waits even while stopping. */
            if (!wait_start)
                wait_start = pp_now_us();
            else if (pp_now_us() - wait_start > 5000000) {
                pp_log_warn("kafka: local queue full for 5 s (%d messages); waiting for the "
                            "brokers",
                            rd_kafka_outq_len(k->rk));
                wait_start = pp_now_us();
            }
            rd_kafka_poll(k->rk, 100);
        }
        if (err) {
            pp_errf(e, n, "producing post %" PRId64 " to %s: %s", p->key, k->base.dest[t],
                    rd_kafka_err2str(err));
            message_settled(k, &r->ref[t], err, RD_KAFKA_MSG_STATUS_NOT_PERSISTED, -1, -1);
            rc = PP_SINK_FAILED;
        }
    }
    return rc;
}

static void kafka_poll(pp_sink *s, int timeout_ms)
{
    kafka_sink *k = (kafka_sink *)s;
    rd_kafka_poll(k->rk, timeout_ms);
    if (k->txn_open && (k->committing || pp_now_us() - k->txn_started_us >= k->txn_interval_us))
        txn_commit(k);
}

/* Returns 0 only when every post produced has been reported through done: in
 * exactly-once mode that includes ending the open transaction (committed, or aborted and
 * its posts counted failed). */
static pp_sink_drain kafka_flush(pp_sink *s, int timeout_ms)
{
    kafka_sink *k = (kafka_sink *)s;
    rd_kafka_flush(k->rk, timeout_ms);
    /* Commit once every message of the transaction is delivered, so a slow flush never
     * makes a commit time out and abort good posts. */
    if (k->exactly_once && (k->committing || rd_kafka_outq_len(k->rk) == 0))
        txn_commit(k);
    return rd_kafka_outq_len(k->rk) > 0 || k->posts_open > 0 || k->txn_open ? PP_SINK_PENDING
                                                                            : PP_SINK_DRAINED;
}

static void kafka_abandon(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    /* Giving up: a commit under way may have reached the coordinator (unknown unless the
     * abort goes through); the abort is short, the process is about to exit. */
    if (k->txn_open)
        txn_abort(k, k->committing ? PP_UNKNOWN : PP_FAILED, RD_KAFKA_RESP_ERR__PURGE_QUEUE,
                  TXN_GIVE_UP_MS);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Purged messages get delivery reports (ERR__PURGE_*): serve them so every post is
     * accounted for. A message purged in flight reports "possibly persisted", so its post
     * counts as unknown. */
    for (int i = 0; i < 50 && k->posts_open > 0; i++)
        rd_kafka_poll(k->rk, 100);
}

static int kafka_healthy(pp_sink *s)
{
    return !((kafka_sink *)s)->brokers_down;
}

/* Create the missing topics with the admin API. */
static pp_sink_ready create_topics(kafka_sink *k, int *missing, int timeout_ms, char *e, size_t n)
{
    rd_kafka_NewTopic_t *nt[PP_NTABLES];
    int cnt = 0;
    pp_sink_ready rc = PP_SINK_READY;
    char err[512];
    for (int t = 0; t < PP_NTABLES; t++) {
        if (!missing[t])
            continue;
        nt[cnt] = rd_kafka_NewTopic_new(k->base.dest[t], k->partitions, k->replication_factor, err,
                                        sizeof(err));
        if (!nt[cnt]) {
            pp_errf(e, n, "kafka.create_topics: %s: %s", k->base.dest[t], err);
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
                else
                    pp_log_warn("kafka: topic %s was created by someone else meanwhile; its "
                                "partitions and replication factor are whatever they chose",
                                rd_kafka_topic_result_name(tr[i]));
                continue;
            }
            pp_errf(e, n,
                    "creating topic %s: %s (set kafka.partitions and "
                    "kafka.replication_factor to values the cluster accepts)",
                    rd_kafka_topic_result_name(tr[i]),
                    rd_kafka_topic_result_error_string(tr[i])
                        ? rd_kafka_topic_result_error_string(tr[i])
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

/* Metadata for every topic of the cluster. Unlike a request naming topics (and unlike a
 * topic object, whose first leader query names it), this one never makes a broker with
 * auto.create.topics.enable create a topic, so what it says missing is missing. */
static rd_kafka_resp_err_t all_metadata(kafka_sink *k, const struct rd_kafka_metadata **md,
                                        int timeout_ms)
{
    return rd_kafka_metadata(k->rk, 1, NULL, md, timeout_ms);
}

static const rd_kafka_metadata_topic_t *find_topic(const struct rd_kafka_metadata *md,
                                                   const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name))
            return &md->topics[i];
    return NULL;
}

/* How an existing topic differs from kafka.partitions / kafka.replication_factor (as
 * requested with kafka.create_topics); "" when it does not. pinpostd never alters an
 * existing topic. */
static void topic_differs(const kafka_sink *k, const rd_kafka_metadata_topic_t *mt, char *out,
                          size_t n)
{
    int rf = mt->partition_cnt ? mt->partitions[0].replica_cnt : 0;
    int bad_p = k->partitions > 0 && mt->partition_cnt != k->partitions;
    int bad_rf = k->replication_factor > 0 && rf != k->replication_factor;
    out[0] = '\0';
    if (!k->create_topics || (!bad_p && !bad_rf))
        return;
    snprintf(out, n,
             "topic %s exists with %d partition(s) and replication factor %d, not the "
             "kafka.partitions %d / kafka.replication_factor %d asked for: pinpostd does not "
             "change existing topics (kafka-topics.sh --alter --partitions N adds partitions; "
             "or delete the topic and let pinpostd create it)",
             mt->topic, mt->partition_cnt, rf, k->partitions, k->replication_factor);
}

/* The topic objects for producing, made once the topics are known to exist (or when the
 * cluster is asked to create them automatically). */
static int topic_open(kafka_sink *k, int t, char *e, size_t n)
{
    if (k->rkt[t])
        return 0;
    k->rkt[t] = rd_kafka_topic_new(k->rk, k->base.dest[t], NULL);
    if (!k->rkt[t]) {
        pp_errf(e, n, "topic %s: %s", k->base.dest[t], rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    return 0;
}

/* The cluster may create the missing topics on a metadata request naming them (the
 * broker's auto.create.topics.enable and the client's allow.auto.create.topics both
 * true). Ask, a few times: creation takes a moment. */
static pp_sink_ready auto_create(kafka_sink *k, int *missing, int timeout_ms, char *e, size_t n)
{
    int nmissing = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        if (!missing[t])
            continue;
        if (topic_open(k, t, e, n))
            return PP_SINK_BROKEN;
        rd_kafka_resp_err_t te = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        int partitions = 0;
        for (int attempt = 0; attempt < 4 && te; attempt++) {
            if (attempt)
                rd_kafka_poll(k->rk, 500);
            const struct rd_kafka_metadata *md = NULL;
            rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, k->rkt[t], &md, timeout_ms);
            if (err) {
                pp_errf(e, n, "Kafka unreachable: metadata for %s: %s", k->base.dest[t],
                        rd_kafka_err2str(err));
                return PP_SINK_NOT_YET;
            }
            te = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
            partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
            rd_kafka_metadata_destroy(md);
        }
        if (!te) {
            missing[t] = 0;
            pp_log_notice("kafka: topic %s did not exist; the cluster created it automatically "
                          "with %d partition(s) (its default); to choose, set "
                          "kafka.create_topics: true and kafka.partitions",
                          k->base.dest[t], partitions);
        } else if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                   te == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            nmissing++;
        } else {
            pp_errf(e, n, "topic %s: %s", k->base.dest[t], rd_kafka_err2str(te));
            return te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ? PP_SINK_BROKEN
                                                                      : PP_SINK_NOT_YET;
        }
    }
    if (!nmissing)
        return PP_SINK_READY;
    pp_errf(e, n,
            "topic(s)%s%s%s%s%s%s do not exist and the cluster does not create them "
            "automatically: create them (kafka-topics.sh --create --topic NAME "
            "--partitions N --replication-factor R) or set kafka.create_topics: true",
            missing[0] ? " " : "", missing[0] ? k->base.dest[0] : "", missing[1] ? " " : "",
            missing[1] ? k->base.dest[1] : "", missing[2] ? " " : "",
            missing[2] ? k->base.dest[2] : "");
    return PP_SINK_BROKEN;
}

/* Do the three topics exist? Missing ones are created with kafka.create_topics (with the
 * requested partitions and replication factor, since nothing before made the broker
 * auto-create them), else left to the cluster's automatic creation. */
static pp_sink_ready check_topics(kafka_sink *k, int timeout_ms, char *e, size_t n)
{
    int missing[PP_NTABLES] = {0}, nmissing = 0;
    pp_sink_ready rc = PP_SINK_READY;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = all_metadata(k, &md, timeout_ms);
    if (err) {
        rd_kafka_poll(k->rk, 0); /* serve error events: was it authentication? */
        char why[512];
        if (pp_kafka_auth_failed(k->client, why, sizeof(why))) {
            pp_errf(e, n, "Kafka rejected our credentials or TLS settings: %s", why);
            return PP_SINK_BROKEN;
        }
        pp_errf(e, n, "Kafka unreachable: metadata: %s", rd_kafka_err2str(err));
        return PP_SINK_NOT_YET;
    }
    for (int t = 0; t < PP_NTABLES && rc == PP_SINK_READY; t++) {
        const rd_kafka_metadata_topic_t *mt = find_topic(md, k->base.dest[t]);
        char why[768];
        if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            missing[t] = 1;
            nmissing++;
        } else if (mt->err) {
            pp_errf(e, n, "topic %s: %s", k->base.dest[t], rd_kafka_err2str(mt->err));
            rc = mt->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ? PP_SINK_BROKEN
                                                                         : PP_SINK_NOT_YET;
        } else {
            topic_differs(k, mt, why, sizeof(why));
            if (why[0])
                pp_log_warn("kafka: %s", why);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (rc != PP_SINK_READY || !nmissing)
        return rc;
    if (k->create_topics)
        return create_topics(k, missing, timeout_ms, e, n);
    return auto_create(k, missing, timeout_ms, e, n);
}

static pp_sink_ready kafka_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!k->topics_ok) {
        pp_sink_ready rc = check_topics(k, timeout_ms, e, n);
        if (rc != PP_SINK_READY)
            return rc;
        for (int t = 0; t < PP_NTABLES; t++)
            if (topic_open(k, t, e, n))
                return PP_SINK_BROKEN;
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

/* Does the cluster create a topic on first use? 1 yes, 0 no, -1 unknown (why says
 * why). Reads the broker's auto.create.topics.enable with DescribeConfigs. */
static int cluster_auto_creates(kafka_sink *k, int32_t broker, int timeout_ms, char *why, size_t n)
{
    char id[16], err[512];
    int result = -1;
    if (!k->client_auto_create) {
        snprintf(why, n, "kafka.settings sets allow.auto.create.topics: false");
        return 0;
    }
    snprintf(why, n, "no answer");
    snprintf(id, sizeof(id), "%" PRId32, broker);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, err, sizeof(err));
    rd_kafka_DescribeConfigs(k->rk, &res, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    const rd_kafka_DescribeConfigs_result_t *dr =
        ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    if (ev && rd_kafka_event_error(ev)) {
        snprintf(why, n, "DescribeConfigs: %s", rd_kafka_event_error_string(ev));
    } else if (dr) {
        size_t nres = 0, ncfg = 0;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(dr, &nres);
        if (nres == 1 && rd_kafka_ConfigResource_error(rs[0])) {
            snprintf(why, n, "DescribeConfigs: %s",
                     rd_kafka_ConfigResource_error_string(rs[0])
                         ? rd_kafka_ConfigResource_error_string(rs[0])
                         : rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])));
        } else if (nres == 1) {
            const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(rs[0], &ncfg);
            for (size_t i = 0; i < ncfg; i++) {
                const char *v = rd_kafka_ConfigEntry_value(ce[i]);
                if (strcmp(rd_kafka_ConfigEntry_name(ce[i]), "auto.create.topics.enable"))
                    continue;
                result = v && !strcmp(v, "true");
                snprintf(why, n, "auto.create.topics.enable=%s", result ? "true" : "false");
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return result;
}

/* --check: reachability and the three topics, without creating any (a cluster that
 * auto-creates topics does not on this request). */
static void kafka_check(pp_sink *s, int timeout_ms, pp_check_list *out)
{
    kafka_sink *k = (kafka_sink *)s;
    int autoc = -2;
    char why[768], how[256] = "";
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = all_metadata(k, &md, timeout_ms);
    if (err) {
        rd_kafka_poll(k->rk, 0);
        if (pp_kafka_auth_failed(k->client, why, sizeof(why)))
            pp_check_list_add(out, s->name, NULL, NULL, PP_CHECK_REJECTED,
                              "authentication or TLS failed: %s", why);
        else
            pp_check_list_add(out, s->name, NULL, NULL, PP_CHECK_FAILED, "cannot get metadata: %s",
                              rd_kafka_err2str(err));
        return;
    }
    pp_check_list_add(out, s->name, NULL, NULL, PP_CHECK_OK, "reachable, %d broker(s)",
                      md->broker_cnt);
    for (int t = 0; t < PP_NTABLES; t++) {
        const char *topic = k->base.dest[t];
        const rd_kafka_metadata_topic_t *mt = find_topic(md, topic);
        if (mt && !mt->err) {
            pp_check_list_add(out, s->name, "topic", topic, PP_CHECK_OK,
                              "%d partition(s), replication factor %d", mt->partition_cnt,
                              mt->partition_cnt ? mt->partitions[0].replica_cnt : 0);
            topic_differs(k, mt, why, sizeof(why));
            if (why[0])
                pp_check_list_add(out, s->name, NULL, NULL, PP_CHECK_NOTE, "note: %s", why);
        } else if (mt && mt->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            pp_check_list_add(out, s->name, "topic", topic, PP_CHECK_FAILED, "%s",
                              rd_kafka_err2str(mt->err));
        } else if (k->create_topics) {
            char p[16] = "default", r[16] = "default";
            if (k->partitions > 0)
                snprintf(p, sizeof(p), "%d", k->partitions);
            if (k->replication_factor > 0)
                snprintf(r, sizeof(r), "%d", k->replication_factor);
            pp_check_list_add(out, s->name, "topic", topic, PP_CHECK_NOTE,
                              "does not exist yet; pinpostd will create it "
                              "(kafka.create_topics) with %s partition(s), replication factor %s",
                              p, r);
        } else {
            if (autoc == -2)
                autoc = md->broker_cnt ? cluster_auto_creates(k, md->brokers[0].id, timeout_ms, how,
                                                              sizeof(how))
                                       : -1;
            if (autoc == 1)
                pp_check_list_add(out, s->name, "topic", topic, PP_CHECK_NOTE,
                                  "does not exist yet; the cluster creates it when pinpostd "
                                  "starts (%s), with the broker's default partitions: to "
                                  "choose them set kafka.create_topics: true and "
                                  "kafka.partitions",
                                  how);
            else
                pp_check_list_add(out, s->name, "topic", topic, PP_CHECK_FAILED,
                                  "MISSING, and %s%s: create it (kafka-topics.sh --create "
                                  "--topic %s --partitions N --replication-factor R) or set "
                                  "kafka.create_topics: true",
                                  autoc == 0 ? "the cluster will not create it automatically: "
                                             : "whether the cluster creates topics "
                                               "automatically is unknown: ",
                                  how, topic);
        }
    }
    rd_kafka_metadata_destroy(md);
}

static size_t kafka_stats(pp_sink *s, pp_sink_stats *out, size_t max)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!max)
        return 0;
    out[0] = (pp_sink_stats){.name = s->name,
                             .dest = (const char *const *)s->dest,
                             .counters = &s->counters,
                             .client_stats = pp_kafka_stats(k->client)};
    return 1;
}

static void kafka_destroy(pp_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!k)
        return;
    for (int t = 0; t < PP_NTABLES; t++)
        if (k->rkt[t])
            rd_kafka_topic_destroy(k->rkt[t]);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    pp_kafka_destroy(k->client); /* after the handle: its callbacks use it */
    while (k->all) {
        kafka_post *next = k->all->all_next;
        free(k->all);
        k->all = next;
    }
    pp_sink_base_release(&k->base);
    free(k->instance);
    free(k);
}

static const pp_sink_ops kafka_ops = {
    .prepare = kafka_prepare,
    .fits = kafka_fits,
    .full = kafka_full,
    .produce = kafka_produce,
    .poll = kafka_poll,
    .flush = kafka_flush,
    .abandon = kafka_abandon,
    .healthy = kafka_healthy,
    .check = kafka_check,
    .stats = kafka_stats,
    .destroy = kafka_destroy,
};

pp_sink *pp_sink_kafka_new(const pp_config *c, int demo, pp_post_done_cb done, void *opaque,
                           char *e, size_t n)
{
    kafka_sink *k = pp_xcalloc(1, sizeof(*k));
    char buf[64];
    size_t len = sizeof(buf);

    pp_sink_base_init(&k->base, &kafka_ops, "kafka", c, pp_config_topic, done, opaque);
    k->instance = pp_xstrdup(c->service.instance);
    k->exactly_once = c->kafka.exactly_once;
    k->txn_interval_us = (int64_t)(c->kafka.transaction_interval_s * 1e6);
    k->create_topics = c->kafka.create_topics;
    k->partitions = c->kafka.partitions;
    k->replication_factor = c->kafka.replication_factor;
    const char *aac = pp_config_get_kafka(c, "allow.auto.create.topics");
    k->client_auto_create = !aac || !(!strcasecmp(aac, "false") || !strcmp(aac, "0"));

    pp_kafka_opts ko = {.role = PP_KAFKA_PRODUCER,
                        .client_id = "pinpostd",
                        .demo = demo,
                        .app = k,
                        .on_delivery = on_delivery,
                        .on_error = on_error,
                        /* librdkafka's health for the HTTP endpoint's /metrics */
                        .stats_interval_ms = c->service.metrics_listen ? 1000 : 0};
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &ko, &k->client, e, n);
    if (!conf)
        goto fail;
    if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &len) != RD_KAFKA_CONF_OK ||
        (k->max_message_bytes = strtoul(buf, NULL, 10)) == 0)
        k->max_message_bytes = 1000000;
    len = sizeof(buf);
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &len) != RD_KAFKA_CONF_OK ||
        (k->max_queue_messages = atoi(buf)) <= 0)
        k->max_queue_messages = 100000;
    k->rk = pp_kafka_handle_new(k->client, conf, e, n); /* takes conf */
    if (!k->rk)
        goto fail;

    if (demo) {
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(k->rk);
        for (int t = 0; mc && t < PP_NTABLES; t++)
            rd_kafka_mock_topic_create(mc, k->base.dest[t], 3, 3);
    }
    /* The topic objects wait for prepare: their first metadata request would make a
     * cluster that auto-creates topics create them with its defaults. */
    return &k->base;
fail:
    kafka_destroy(&k->base);
    return NULL;
}
