/* pp_metrics: the run's post counters, and each sink's message counters and delivery-latency
 * histogram (labelled sink="kafka", "kinesis", "dry-run"), in the Prometheus text format,
 * written atomically through pp_file_write (an exclusive temporary beside the file, fsync,
 * rename; a device or pipe written directly) for node_exporter's textfile collector. */
#ifndef PP_METRICS_H
#define PP_METRICS_H

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

/* Write the metrics of s for this instance to path (pp_file_write, atomic but not
 * fsynced: it is rewritten every few seconds). Returns 0, or -1 with errstr saying what
 * failed and where. */
int pp_metrics_write(const char *path, const char *instance, const pp_stats *s,
                     const pp_metrics_health *h, const pp_metrics_load *load, char *errstr,
                     size_t errstr_size);

#endif
