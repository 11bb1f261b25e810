/* pp_stats: run counters, the delivery-latency histogram, the periodic summary line and
 * the JSON run report. Counters change only on the main thread (delivery reports are
 * served by rd_kafka_poll there), so no locking. */
#ifndef PP_STATS_H
#define PP_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "pp_config.h"

/* Log-linear histogram of microsecond values: 32 sub-buckets per power of two (about
 * 3% resolution), exact maximum. */
#define PP_HIST_SUB_BITS 5
#define PP_HIST_BUCKETS (64 << PP_HIST_SUB_BITS)

typedef struct pp_hist {
    uint64_t counts[PP_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t sum;
} pp_hist;

void pp_hist_record(pp_hist *h, uint64_t value);
/* The value at quantile q in [0, 1] (upper bound of its bucket, capped at max); 0 when
 * empty. */
uint64_t pp_hist_quantile(const pp_hist *h, double q);
/* How many recorded values are at most `bound` (to the histogram's resolution: whole
 * buckets whose upper end is <= bound). */
uint64_t pp_hist_count_le(const pp_hist *h, uint64_t bound);

/* Messages per topic. In exactly-once mode a message counts once its transaction's
 * outcome is known: delivered when it committed, failed when it aborted. */
typedef struct pp_topic_stats {
    uint64_t delivered, failed, bytes;
    uint64_t unknown; /* not acknowledged, but possibly persisted by the broker */
} pp_topic_stats;

typedef struct pp_stats {
    uint64_t posts_sampled;   /* complete posts handed to the sink */
    uint64_t posts_delivered; /* all three messages acknowledged */
    uint64_t posts_failed;    /* at least one message failed and none may have been kept */
    uint64_t posts_unknown;   /* not all acknowledged, but the broker may hold them, whole
                               * or in part (rd_kafka_message_status: possibly persisted) */
    uint64_t posts_skipped;   /* refused unsent: a row over the sink's size limit */
    uint64_t posts_unmatched; /* sampled keys lacking a row (from the sampler) */
    uint64_t invalid_utf8;    /* bytes replaced by U+FFFD */
    pp_topic_stats topic[PP_NTABLES];
    pp_hist latency_us; /* produce call to delivery report, per delivered message */
    int64_t start_us;
    int64_t end_us;        /* set by pp_stats_finish */
    int64_t started_at_ms; /* wall clock at start, ms since the epoch */
    int64_t ready_us;      /* monotonic time both ends became reachable; 0 = never */
} pp_stats;

void pp_stats_init(pp_stats *s, int64_t now_us);
void pp_stats_finish(pp_stats *s, int64_t now_us);

/* Posts produced but not yet acknowledged or failed. */
uint64_t pp_stats_in_flight(const pp_stats *s);

/* One human line: delivered/failed/unknown/unmatched counts and rates since the previous
 * call. */
void pp_stats_summary(const pp_stats *s, const pp_stats *prev, int64_t now_us, char *out,
                      size_t out_size);

/* Write the JSON run report (stable fields of DESIGN.md plus extras). Returns 0 or -1. */
int pp_stats_write_report(const pp_stats *s, const pp_config *c, uint64_t seed,
                          const char *const topics[PP_NTABLES], FILE *out);

#endif
