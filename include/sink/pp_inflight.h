/* pp_inflight: what the sinks' implementations share: setting up the common part of a sink
 * (struct pp_sink), the record of a post between its produce call and its settlement, and
 * the settlement itself: each message's fate, its count in the sink's counters, the post's
 * outcome, the done callback and the rate-limited warning for posts not delivered. Callers
 * of a sink never need this header. */
#ifndef PP_INFLIGHT_H
#define PP_INFLIGHT_H

#include "pp_sink.h"

/* Where each table's messages go (pp_config_topic, pp_config_stream): caller frees. */
typedef char *(*pp_sink_dest_fn)(const pp_config *c, enum pp_table t);

/* Fill the common part of a sink: ops, a static name, the destination names dest(c, t)
 * (none when dest is NULL), the done callback. */
void pp_sink_base_init(pp_sink *s, const pp_sink_ops *ops, const char *name, const pp_config *c,
                       pp_sink_dest_fn dest, pp_post_done_cb done, void *opaque);

/* Free what pp_sink_base_init allocated (accepts a zeroed base). */
void pp_sink_base_release(pp_sink *s);

/* Mark s fatal (pp_sink_fatal then says so, and the run stops), saying why. */
void pp_sink_set_fatal(pp_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A post between its produce call and its settlement. Sinks embed it in their own
 * record (Kafka: the transaction and message opaques; Kinesis: the records and their
 * retries). */
typedef struct pp_inflight {
    uint64_t seq;
    int64_t key;
    int64_t t0_us;                       /* the produce call */
    int remaining;                       /* messages not settled yet */
    unsigned char delivered[PP_NTABLES]; /* acknowledged */
    int maybe;                           /* a message failed but may have been written */
    int lost;                            /* a message failed and cannot have been written */
    int32_t partition[PP_NTABLES];       /* where each landed: partition or shard; -1 */
    int64_t offset[PP_NTABLES];          /* -1 where the sink has no offsets */
    size_t bytes[PP_NTABLES];            /* value bytes */
    int64_t latency_us[PP_NTABLES];      /* produce call to the message's settlement */
    char error[256];                     /* the first failure */
} pp_inflight;

/* Start the record of post p produced now under seq: three messages to settle. */
void pp_inflight_start(pp_inflight *r, const pp_post *p, uint64_t seq);

/* Record the fate of message t: PP_DELIVERED at partition/offset (-1 where unknown), or
 * failed: PP_UNKNOWN when it may have been written, PP_FAILED when it cannot have been;
 * error (the first one is kept) says why. Counts nothing (see pp_inflight_count). Returns
 * how many messages of the post are still unsettled. */
int pp_inflight_message(pp_inflight *r, int t, pp_outcome o, int32_t partition, int64_t offset,
                        const char *error);

/* Count message t of r in s's counters as o (its bytes and latency when delivered). */
void pp_inflight_count(pp_sink *s, const pp_inflight *r, int t, pp_outcome o);

/* The outcome of a post whose messages are all settled: delivered when all three were;
 * failed only when none can be in the destination, so that a consumer never finds a post
 * counted failed; unknown otherwise (some delivered, or possibly written). */
pp_outcome pp_inflight_outcome(const pp_inflight *r);

/* Report r through s's done callback as o (error: r->error, or "failed" when empty),
 * warning (at most once a second, through s->fail_log) when it was not delivered; `where`
 * names the destination in that warning ("Kafka", "Kinesis"). r may be reused or freed
 * once this returns. */
void pp_inflight_done(pp_sink *s, const pp_inflight *r, pp_outcome o, const char *where);

#endif
