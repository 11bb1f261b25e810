/* pp_stats: the run's counters, the periodic summary line and the JSON run report. The
 * runner counts posts (from the sinks' done callbacks); each sink counts its own messages,
 * bytes and latencies (pp_sink_stats), gathered here per sink by name so that a sink
 * replaced by a reload still counts. Everything runs on the main thread, so no locking. */
#ifndef PP_STATS_H
#define PP_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "pp_config.h"
#include "pp_loadstats.h"
#include "pp_sink.h"

/* At most this many sinks in one run (Kafka, Kinesis, or the dry run, across reloads). */
#define PP_STATS_SINKS 4

/* One sink's messages over the whole run. */
typedef struct pp_stats_sink {
    char name[16];              /* "kafka", "kinesis", "dry-run" */
    char dest[PP_NTABLES][256]; /* topics or streams, as last configured */
    pp_sink_counters counters;  /* what it counted, reloads included */
} pp_stats_sink;

typedef struct pp_stats_sinks {
    size_t n;
    pp_stats_sink sink[PP_STATS_SINKS];
} pp_stats_sinks;

typedef struct pp_stats {
    uint64_t posts_sampled;   /* complete posts handed to the sink */
    uint64_t posts_delivered; /* all three messages acknowledged (by every sink) */
    uint64_t posts_failed;    /* at least one message failed and none may have been kept */
    uint64_t posts_unknown;   /* not all acknowledged, but a destination may hold them, whole
                               * or in part (rd_kafka_message_status: possibly persisted) */
    uint64_t posts_skipped;   /* refused unsent: a row over the sink's size limit */
    uint64_t posts_unmatched; /* sampled keys lacking a row (from the sampler) */
    uint64_t invalid_utf8;    /* bytes replaced by U+FFFD */
    /* Per sink, the sinks of the running configuration first (sink[0]: Kafka when
     * enabled, else Kinesis, else the dry run): filled by pp_stats_update_sinks. */
    pp_stats_sinks sinks;
    int64_t start_us;
    int64_t end_us;        /* set by pp_stats_finish */
    int64_t started_at_ms; /* wall clock at start, ms since the epoch */
    int64_t ready_us;      /* monotonic time both ends became reachable; 0 = never */
} pp_stats;

void pp_stats_init(pp_stats *s, int64_t now_us);
void pp_stats_finish(pp_stats *s, int64_t now_us);

/* Posts produced but not yet acknowledged or failed. */
uint64_t pp_stats_in_flight(const pp_stats *s);

/* Set s->sinks to what the sinks in `sink` count now plus, by name, what `retired` holds
 * (sinks replaced by reloads); retired sinks no longer running follow. sink may be NULL. */
void pp_stats_update_sinks(pp_stats *s, pp_sink *sink, const pp_stats_sinks *retired);

/* Add what the sinks in `sink` counted to `retired`, by name: call before destroying a
 * sink that a reload replaces. */
void pp_stats_retire_sinks(pp_stats_sinks *retired, pp_sink *sink);

/* One human line: delivered/failed/unknown/unmatched counts and rates since the previous
 * call; messages and latency of each sink. */
void pp_stats_summary(const pp_stats *s, const pp_stats *prev, int64_t now_us, char *out,
                      size_t out_size);

/* Write the JSON run report (the fields docs/usage.md lists under "Run report"): the top-level
 * messages_*, bytes_delivered, latency_ms and per_topic describe s->sinks.sink[0]; "sinks"
 * has a section per sink; "load" (when load is given) the schedule's figures, stage by stage.
 * Returns 0 or -1. */
int pp_stats_write_report(const pp_stats *s, const pp_config *c, uint64_t seed,
                          const pp_loadstats *load, FILE *out);

#endif
