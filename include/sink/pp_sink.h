/* pp_sink: where complete posts go. A sink produces the three messages of a post (key =
 * the post key, headers = instance and sequence number where the sink has headers) and
 * reports each post exactly once through the done callback when all three deliveries are
 * settled: that callback, not the produce call, is where the caller counts posts as
 * delivered or failed (sinks count messages, bytes and latency in pp_stats). Sinks:
 * Kafka through librdkafka (pp_sink_kafka_new), Amazon Kinesis (pp_sink_kinesis_new),
 * --dry-run JSON lines (pp_sink_dry_new); pp_sink_open builds the one the configuration
 * asks for, pairing Kafka and Kinesis when both are enabled. Everything runs on the main thread: done
 * callbacks fire from pp_sink_poll/flush/produce. */
#ifndef PP_SINK_H
#define PP_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "pp_config.h"
#include "pp_contract.h"
#include "pp_source.h"
#include "pp_stats.h"

/* What became of one post. */
typedef struct pp_post_result {
    uint64_t seq;
    int64_t key;
    int ok;      /* all three messages delivered */
    int unknown; /* !ok, but some of it may be in the topics: a message was delivered or
                  * may have been persisted (a client-side timeout after the request was
                  * sent). !ok && !unknown: none of it can be there. */
    const char *category, *country;
    int32_t partition[PP_NTABLES];
    int64_t offset[PP_NTABLES];
    int64_t latency_us; /* produce call to the last delivery report */
    const char *error;  /* first failure, when !ok */
} pp_post_result;

typedef void (*pp_post_done_cb)(void *opaque, const pp_post_result *r);

typedef struct pp_sink pp_sink;

/* Result of pp_sink_prepare. */
enum { PP_SINK_READY = 0, PP_SINK_NOT_YET = 1, PP_SINK_BROKEN = -1 };
/* pp_sink_produce returns this for a post no retry could send (a row over the sink's
 * message size limit): nothing was queued, no done callback follows, seq is unused;
 * errstr says why. */
enum { PP_SINK_SKIPPED = 1 };

typedef struct pp_sink_ops {
    /* Get ready to produce, waiting at most timeout_ms: check that the topics exist (or
     * create them when configured), start transactions in exactly-once mode. Returns
     * PP_SINK_READY, PP_SINK_NOT_YET (unreachable: call again later), or PP_SINK_BROKEN
     * (an operator must act: errstr says what). */
    int (*prepare)(pp_sink *s, int timeout_ms, char *errstr, size_t n);
    /* 0 when the sink can carry this post, PP_SINK_SKIPPED (errstr says why) when a row
     * is over its size limit. produce checks this itself. */
    int (*fits)(pp_sink *s, const pp_post *p, char *errstr, size_t n);
    /* True while the local queue has no room for another post. Callers wait (serving
     * pp_sink_poll, and their own duties such as the watchdog) before producing. */
    int (*full)(pp_sink *s);
    /* Hand over one complete post. Waits (serving delivery reports) while the local
     * queue is full, should the caller not have. Returns 0; PP_SINK_SKIPPED; or -1 when the post could not be queued
     * (errstr says why; the post was counted as failed). */
    int (*produce)(pp_sink *s, const pp_post *p, uint64_t seq, char *errstr, size_t n);
    /* Serve delivery reports, waiting up to timeout_ms for the first; in exactly-once
     * mode, commit the open transaction once kafka.transaction_interval has passed. */
    void (*poll)(pp_sink *s, int timeout_ms);
    /* Wait up to timeout_ms for everything in flight (committing the open transaction in
     * exactly-once mode); returns 0 when nothing is left. */
    int (*flush)(pp_sink *s, int timeout_ms);
    /* Give up on what is still queued: each such post is reported as failed. */
    void (*abandon)(pp_sink *s);
    /* False while the brokers are unreachable (for STATUS and metrics). */
    int (*healthy)(pp_sink *s);
    /* True after an error that no retry can fix (fatal producer error). */
    int (*fatal)(pp_sink *s, char *errstr, size_t n);
    /* Connectivity check for --check: metadata for the three topics, printed to out.
     * Returns 0 when reachable and every topic exists, -2 when the credentials or TLS
     * settings were rejected, -1 otherwise. */
    int (*check)(pp_sink *s, FILE *out, int timeout_ms);
    void (*destroy)(pp_sink *s);
} pp_sink_ops;

struct pp_sink {
    const pp_sink_ops *ops;
};

/* Kafka sink. topics[] are copied. With demo set, an in-process mock cluster (librdkafka's
 * test.mock.num.brokers) replaces bootstrap.servers. stats (not owned) gets the counters.
 * Returns NULL with errstr naming the offending setting and its file:line. */
pp_sink *pp_sink_kafka_new(const pp_config *c, const char *const topics[PP_NTABLES], int demo,
                           pp_stats *stats, pp_post_done_cb done, void *opaque, char *errstr,
                           size_t errstr_size);

/* Kinesis sink: PutRecords to the three streams of kinesis.* (pp_config_stream), signed
 * with the AWS credential chain. Partition key = the post key, data = the row JSON.
 * Returns NULL with errstr set when the region or endpoint is unusable. */
pp_sink *pp_sink_kinesis_new(const pp_config *c, pp_stats *stats, pp_post_done_cb done,
                             void *opaque, char *errstr, size_t errstr_size);

/* The sink the configuration asks for: dry run, Kafka, Kinesis, or both at once (each
 * post goes to both and is reported once, delivered only when both delivered it, with
 * Kafka's partitions and offsets). The done callback receives every post exactly once. */
pp_sink *pp_sink_open(const pp_config *c, const char *const topics[PP_NTABLES], int demo,
                      int dry_run, pp_stats *stats, pp_post_done_cb done, void *opaque,
                      char *errstr, size_t errstr_size);

/* Dry-run sink: one JSON line per message on out ({"topic","key","headers","value"}),
 * written to its descriptor with write(2); a post is delivered once the kernel took its
 * three lines, and failed otherwise (the sink is then fatal: a full disk, a closed pipe,
 * a stdout closed at start). */
pp_sink *pp_sink_dry_new(FILE *out, const char *const topics[PP_NTABLES], const char *instance,
                         pp_stats *stats, pp_post_done_cb done, void *opaque);

static inline int pp_sink_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    return s->ops->prepare(s, timeout_ms, e, n);
}
static inline int pp_sink_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    return s->ops->fits(s, p, e, n);
}
static inline int pp_sink_full(pp_sink *s)
{
    return s->ops->full(s);
}
static inline int pp_sink_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    return s->ops->produce(s, p, seq, e, n);
}
static inline void pp_sink_poll(pp_sink *s, int timeout_ms)
{
    s->ops->poll(s, timeout_ms);
}
static inline int pp_sink_flush(pp_sink *s, int timeout_ms)
{
    return s->ops->flush(s, timeout_ms);
}
static inline void pp_sink_abandon(pp_sink *s)
{
    s->ops->abandon(s);
}
static inline int pp_sink_healthy(pp_sink *s)
{
    return s->ops->healthy(s);
}
static inline int pp_sink_fatal(pp_sink *s, char *e, size_t n)
{
    return s->ops->fatal(s, e, n);
}
static inline int pp_sink_check(pp_sink *s, FILE *out, int timeout_ms)
{
    return s->ops->check(s, out, timeout_ms);
}
static inline void pp_sink_destroy(pp_sink *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
