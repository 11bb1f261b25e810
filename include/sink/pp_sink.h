/* pp_sink: where complete posts go. A sink produces the three messages of a post (key =
 * the post key, plus the run identity of pp_contract.h: headers on Kafka, the partition key
 * on Kinesis) and reports each post exactly once through the done callback when all three
 * deliveries are settled: that callback, not the produce call, is where the caller counts
 * posts. A sink counts its own messages (delivered, failed, unknown, bytes, latency) and
 * never writes the caller's statistics: the caller reads them through pp_sink_stats.
 *
 * Sinks: Kafka through librdkafka (pp_sink_kafka_new), Amazon Kinesis
 * (pp_sink_kinesis_new), --dry-run JSON lines (pp_sink_dry_new), and the pair
 * (pp_sink_pair_new) feeding several sinks alike; pp_sink_open builds what the
 * configuration asks for. Everything runs on the main thread: done callbacks fire from
 * pp_sink_poll/flush/produce/abandon.
 *
 * Implementations: include/sink/pp_inflight.h has the shared base of a sink and the
 * in-flight record of a post. */
#ifndef PP_SINK_H
#define PP_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "pp_config.h"
#include "pp_contract.h"
#include "pp_hist.h"
#include "pp_log.h"
#include "pp_source.h"

/* What became of a message, or of a post (all three of its messages). */
typedef enum pp_outcome {
    PP_DELIVERED, /* acknowledged */
    PP_UNKNOWN,   /* not acknowledged (whole), but the destination may hold it, whole or in
                   * part: a message was delivered, or may have been persisted (a client-side
                   * timeout after the request was sent). A consumer decides. */
    PP_FAILED     /* none of it can be in the destination */
} pp_outcome;

/* What became of one post. */
typedef struct pp_post_result {
    uint64_t seq;
    int64_t key;
    pp_outcome outcome;
    int32_t partition[PP_NTABLES]; /* Kafka partition or Kinesis shard number; -1: none */
    int64_t offset[PP_NTABLES];    /* Kafka offset; -1 where the sink has none */
    int64_t latency_us;            /* produce call to the last delivery report */
    const char *error;             /* first failure, when not delivered (valid during the call) */
} pp_post_result;

/* @locality: the main thread, from pp_sink_poll/flush/produce/abandon. */
typedef void (*pp_post_done_cb)(void *opaque, const pp_post_result *r);

/* Messages of one table. In Kafka's exactly-once mode a message counts once its
 * transaction's outcome is known: delivered when it committed, failed when it aborted. */
typedef struct pp_topic_stats {
    uint64_t delivered, failed, bytes;
    uint64_t unknown; /* not acknowledged, but possibly persisted */
} pp_topic_stats;

/* One sink's messages. */
typedef struct pp_sink_counters {
    pp_topic_stats topic[PP_NTABLES];
    pp_hist latency_us; /* produce call to delivery report, per delivered message */
} pp_sink_counters;

/* Count one message of table t whose outcome is known: bytes and latency count for
 * deliveries only. */
void pp_sink_counters_count(pp_sink_counters *c, enum pp_table t, pp_outcome o, size_t bytes,
                            int64_t latency_us);

/* Add b's counts to a. */
void pp_sink_counters_add(pp_sink_counters *a, const pp_sink_counters *b);

/* What one sink says about its messages. The pointers stay valid until the sink is
 * destroyed. */
typedef struct pp_sink_stats {
    const char *name;                 /* "kafka", "kinesis", "dry-run" */
    const char *const *dest;          /* PP_NTABLES names: the topics, or the streams */
    const pp_sink_counters *counters; /* live: they change as deliveries are served */
    /* The client library's own latest statistics (librdkafka's JSON, when the configuration
     * asks for them: service.metrics_listen), or NULL; valid until the sink's next poll. */
    const char *client_stats;
} pp_sink_stats;

/* --check: the state of one thing a sink depends on. */
typedef enum pp_check_state {
    PP_CHECK_OK,      /* usable as configured */
    PP_CHECK_NOTE,    /* usable; something an operator should know (a topic pinpostd or
                       * the cluster will create, a topic unlike the settings) */
    PP_CHECK_FAILED,  /* unreachable, missing or not usable: a run would wait or stop */
    PP_CHECK_REJECTED /* credentials or TLS settings refused: a configuration error */
} pp_check_state;

typedef struct pp_check_item {
    const char *sink; /* the sink's name (static) */
    char what[16];    /* "topic", "stream", or "" for the sink as a whole */
    char name[256];   /* the topic or stream; "" for the sink as a whole */
    pp_check_state state;
    char detail[1536];
} pp_check_item;

/* The items of a --check, in order. Zero-initialise; free with pp_check_list_free. */
typedef struct pp_check_list {
    pp_check_item *item;
    size_t n, cap;
} pp_check_list;

/* Append an item (detail formatted, cut to fit). Returns it. */
pp_check_item *pp_check_list_add(pp_check_list *l, const char *sink, const char *what,
                                 const char *name, pp_check_state state, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void pp_check_list_free(pp_check_list *l);

/* Result of pp_sink_prepare. */
typedef enum pp_sink_ready {
    PP_SINK_READY,   /* ready to produce */
    PP_SINK_NOT_YET, /* unreachable, or a stream still being created: call again later */
    PP_SINK_BROKEN   /* an operator must act: errstr says what */
} pp_sink_ready;

/* Result of pp_sink_produce. */
typedef enum pp_sink_put {
    PP_SINK_QUEUED,  /* handed over: the done callback follows (possibly already called) */
    PP_SINK_SKIPPED, /* a post no retry could send (a row over the sink's message size
                      * limit): nothing was queued, no done callback follows, seq is unused;
                      * errstr says why */
    PP_SINK_FAILED   /* could not be queued (errstr says why): reported failed through the
                      * done callback */
} pp_sink_put;

/* Result of pp_sink_flush. */
typedef enum pp_sink_drain {
    PP_SINK_DRAINED, /* every post produced has been reported through done */
    PP_SINK_PENDING  /* some are still in flight */
} pp_sink_drain;

typedef struct pp_sink pp_sink;

/* The operations of a sink. produce and destroy are required; a NULL slot means the
 * default its wrapper below names, so that no sink fills a slot with a no-op. */
typedef struct pp_sink_ops {
    /* Get ready to produce, waiting at most timeout_ms: check that the topics or streams
     * exist (or create them when configured), start transactions in exactly-once mode.
     * Default: ready. */
    pp_sink_ready (*prepare)(pp_sink *s, int timeout_ms, char *errstr, size_t n);
    /* 1 when the sink can carry this post, 0 when a row is over its size limit (errstr
     * says why). Default: every post fits. */
    int (*fits)(pp_sink *s, const pp_post *p, char *errstr, size_t n);
    /* True while the local queue has no room for another post. Callers wait (serving
     * pp_sink_poll, and their own duties such as the watchdog) before producing.
     * Default: never full. */
    int (*full)(pp_sink *s);
    /* Required. Hand over one complete post that fits (pp_sink_produce checked). Waits
     * (serving delivery reports) while the local queue is full, should the caller not
     * have. PP_SINK_QUEUED or PP_SINK_FAILED. */
    pp_sink_put (*produce)(pp_sink *s, const pp_post *p, uint64_t seq, char *errstr, size_t n);
    /* Serve delivery reports, waiting up to timeout_ms for the first (callers pace
     * themselves by it); in exactly-once mode, commit the open transaction once
     * kafka.transaction_interval has passed. Default: sleep timeout_ms (nothing to serve). */
    void (*poll)(pp_sink *s, int timeout_ms);
    /* Wait up to timeout_ms for everything in flight (committing the open transaction in
     * exactly-once mode). Default: drained (every post is settled within produce). */
    pp_sink_drain (*flush)(pp_sink *s, int timeout_ms);
    /* Give up on what is still queued: each such post is reported failed (or unknown where
     * it may have been written). Default: nothing to give up. */
    void (*abandon)(pp_sink *s);
    /* False while the destination is unreachable (for STATUS and metrics). Default: true. */
    int (*healthy)(pp_sink *s);
    /* True after an error that no retry can fix (errstr says which). Default: the
     * common part's fatal flag (pp_sink_set_fatal). */
    int (*fatal)(pp_sink *s, char *errstr, size_t n);
    /* --check: append the state of the sink and of each topic or stream to out, creating
     * nothing. Default: nothing to check. */
    void (*check)(pp_sink *s, int timeout_ms, pp_check_list *out);
    /* The sinks whose messages this one counts: fills out[0..max) and returns how many.
     * Default: this sink alone (its name, dest and counters). */
    size_t (*stats)(pp_sink *s, pp_sink_stats *out, size_t max);
    /* Required. Frees the sink; posts still in flight are freed unreported. */
    void (*destroy)(pp_sink *s);
} pp_sink_ops;

/* The part every sink shares; implementations embed it first (pp_inflight.h). */
struct pp_sink {
    const pp_sink_ops *ops;
    const char *name;          /* static: "kafka", "kinesis", "dry-run", "pair" */
    char *dest[PP_NTABLES];    /* owned: topic or stream names; NULL for the pair */
    pp_sink_counters counters; /* this sink's messages */
    pp_post_done_cb done;      /* may be NULL (--check) */
    void *opaque;
    pp_log_limit fail_log; /* warnings about posts not delivered */
    int fatal;             /* an error no retry can fix: the run stops */
    char fatal_reason[1024];
};

/* Kafka sink, to the topics of pp_config_topic. With demo set, an in-process mock cluster
 * (librdkafka's test.mock.num.brokers) replaces bootstrap.servers. Returns NULL with errstr
 * naming the offending setting and its file:line. */
pp_sink *pp_sink_kafka_new(const pp_config *c, int demo, pp_post_done_cb done, void *opaque,
                           char *errstr, size_t errstr_size);

/* Kinesis sink: PutRecords to the three streams of kinesis.* (pp_config_stream), signed
 * with the AWS credential chain. Partition key = pp_contract_partition_key (KEY:SEQ:INSTANCE),
 * ExplicitHashKey = the MD5 of the decimal post key (the shard Kinesis would choose for a
 * partition key equal to the post key), data = the row JSON. Returns NULL with errstr set
 * when the region or endpoint is unusable or service.instance is too long for a partition
 * key (over PP_PARTITION_KEY_INSTANCE_MAX bytes): configuration errors. */
pp_sink *pp_sink_kinesis_new(const pp_config *c, pp_post_done_cb done, void *opaque, char *errstr,
                             size_t errstr_size);

/* Dry-run sink: one JSON line per message ({"topic","key","headers","value"}) written to
 * fd with write(2), to the topics of pp_config_topic; a post is delivered once the kernel
 * took its three lines, and failed otherwise (the sink is then fatal: a full disk, a closed
 * pipe, a closed descriptor). Whatever stdio buffers for fd must be flushed first. */
pp_sink *pp_sink_dry_new(const pp_config *c, int fd, pp_post_done_cb done, void *opaque);

/* Several sinks as one: every post goes to each child and is reported once, when all have
 * settled it: delivered when all delivered it, unknown when any may hold some of it, failed
 * otherwise (the error of the first child that did not deliver it, named). Its partitions
 * and offsets come from the first child (in order) that reports any. A post one child
 * cannot carry goes to none. Takes ownership of children[0..n) (n >= 1; the array is
 * copied) and redirects their done callbacks. Its stats are its children's. */
pp_sink *pp_sink_pair_new(pp_sink *const *children, size_t n, pp_post_done_cb done, void *opaque);

/* The sink the configuration asks for: the dry run (to standard output), else Kafka and
 * Kinesis, each when enabled (Kafka first), paired when both are. Returns NULL with errstr
 * set (a configuration error). */
pp_sink *pp_sink_open(const pp_config *c, int demo, int dry_run, pp_post_done_cb done, void *opaque,
                      char *errstr, size_t errstr_size);

static inline pp_sink_ready pp_sink_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    return s->ops->prepare ? s->ops->prepare(s, timeout_ms, e, n) : PP_SINK_READY;
}
static inline int pp_sink_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    return s->ops->fits ? s->ops->fits(s, p, e, n) : 1;
}
static inline int pp_sink_full(pp_sink *s)
{
    return s->ops->full ? s->ops->full(s) : 0;
}
/* Hand over one complete post: PP_SINK_SKIPPED when it does not fit (checked here, once),
 * else as the produce slot says. */
static inline pp_sink_put pp_sink_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e,
                                          size_t n)
{
    if (!pp_sink_fits(s, p, e, n))
        return PP_SINK_SKIPPED;
    return s->ops->produce(s, p, seq, e, n);
}
void pp_sink_poll(pp_sink *s, int timeout_ms);
static inline pp_sink_drain pp_sink_flush(pp_sink *s, int timeout_ms)
{
    return s->ops->flush ? s->ops->flush(s, timeout_ms) : PP_SINK_DRAINED;
}
static inline void pp_sink_abandon(pp_sink *s)
{
    if (s->ops->abandon)
        s->ops->abandon(s);
}
static inline int pp_sink_healthy(pp_sink *s)
{
    return s->ops->healthy ? s->ops->healthy(s) : 1;
}
int pp_sink_fatal(pp_sink *s, char *errstr, size_t errstr_size);
static inline void pp_sink_check(pp_sink *s, int timeout_ms, pp_check_list *out)
{
    if (s->ops->check)
        s->ops->check(s, timeout_ms, out);
}
/* The name, destinations and message counters of each sink inside s (the pair's children,
 * in order; else s itself) in out[0..max); returns how many. */
size_t pp_sink_stats_get(pp_sink *s, pp_sink_stats *out, size_t max);
static inline void pp_sink_destroy(pp_sink *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
