/* pp_metrics: the run's post counters, and each sink's message counters and delivery-latency
 * histogram (labelled sink="kafka", "kinesis", "dry-run"), in the Prometheus text format:
 * one renderer (pp_metrics_render) for the textfile of node_exporter's textfile collector
 * (pp_metrics_write: atomically through pp_file_write, an exclusive temporary beside the
 * file, fsync, rename; a device or pipe written directly) and for the HTTP endpoint's
 * /metrics, which adds the process_* metrics and librdkafka's health. The metric names are
 * listed in docs/configuration.md and pinpostd(8). */
#ifndef PP_METRICS_H
#define PP_METRICS_H

#include <stdio.h>

#include "pp_loadstats.h"
#include "pp_stats.h"

typedef struct pp_metrics_health {
    int source_up, sink_up;
    const char *sink; /* the end label of the sink: "kafka", "kinesis", "kafka+kinesis" */
} pp_metrics_health;

/* Where the load stands: the running stage (NULL before READY), its target rate now (NAN: as
 * fast as possible), the posts after warm-up with their latency histograms, and the
 * arrivals skipped. */
typedef struct pp_metrics_load {
    const pp_stage_stats *stage;
    double target_rate;
    const pp_load_totals *totals;
    uint64_t dropped;
} pp_metrics_load;

/* Render the metrics of s for this instance (the textfile's, and the start of /metrics) to f.
 * Returns 0, or -1 when f reports an error (out of memory for a memory stream). */
int pp_metrics_render(FILE *f, const char *instance, const pp_stats *s, const pp_metrics_health *h,
                      const pp_metrics_load *load);

/* Write the metrics of s for this instance to path (pp_file_write, atomic but not
 * fsynced: it is rewritten every few seconds). Returns 0, or -1 with errstr saying what
 * failed and where. */
int pp_metrics_write(const char *path, const char *instance, const pp_stats *s,
                     const pp_metrics_health *h, const pp_metrics_load *load, char *errstr,
                     size_t errstr_size);

/* The standard process metrics of the Prometheus client libraries, about this process (from
 * /proc/self and getrlimit), without labels: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds. One that cannot be read is left out. */
void pp_metrics_render_process(FILE *f);

/* librdkafka's health from the producer's statistics JSON (statistics.interval.ms): the
 * queue (pinpostd_kafka_queue_messages, _bytes, _max_messages, _max_bytes), each broker
 * connection (pinpostd_kafka_broker_state{broker,state}, _up, _outbuf_messages,
 * _waitresp_messages, _rtt_seconds) and the idempotence and transaction states
 * (pinpostd_kafka_idempotence_state{state}, pinpostd_kafka_transaction_state{state}), each
 * labelled instance. NULL or malformed JSON renders nothing; a field that is missing leaves
 * its metric out. */
void pp_metrics_render_kafka(FILE *f, const char *instance, const char *stats_json);

#endif
