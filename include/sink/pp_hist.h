/* pp_hist: a log-linear histogram of microsecond values (delivery latencies), recorded by
 * the sinks and read by the report and the metrics. */
#ifndef PP_HIST_H
#define PP_HIST_H

#include <stdint.h>

/* 32 sub-buckets per power of two (about 3% resolution), exact maximum. */
#define PP_HIST_SUB_BITS 5
#define PP_HIST_BUCKETS (64 << PP_HIST_SUB_BITS)

typedef struct pp_hist {
    uint64_t counts[PP_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t sum;
} pp_hist;

void pp_hist_record(pp_hist *h, uint64_t value);

/* Add every value recorded in b to a (a reload folds a retired sink's histogram into the
 * run's). */
void pp_hist_add(pp_hist *a, const pp_hist *b);

/* The value at quantile q in [0, 1] (upper bound of its bucket, capped at max); 0 when
 * empty. */
uint64_t pp_hist_quantile(const pp_hist *h, double q);

/* How many recorded values are at most `bound` (to the histogram's resolution: whole
 * buckets whose upper end is <= bound). */
uint64_t pp_hist_count_le(const pp_hist *h, uint64_t bound);

#endif
