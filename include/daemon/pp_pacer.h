/* pp_pacer: when the next post is due. Two modes: a random delay between posts drawn
 * uniformly from [min, max] seconds (like the original script), or a fixed rate on an
 * absolute schedule so that the average rate is exact over any long interval.
 * Times are monotonic microseconds (pp_now_us). Any input is safe: a wait too long to
 * represent saturates at INT64_MAX (never due), and a NaN or non-positive rate or delay
 * means no wait; the option parser is what refuses such values. */
#ifndef PP_PACER_H
#define PP_PACER_H

#include <stdint.h>

#include "pp_rng.h"

typedef struct pp_pacer {
    int fixed_rate; /* 1: rate mode, 0: random delay mode */
    double rate;    /* posts per second; 0 = unpaced */
    double delay_min_s, delay_max_s;
    pp_rng rng;       /* delay draws */
    int64_t start_us; /* schedule origin (rate mode) */
    uint64_t posted;  /* posts since start_us */
    int64_t next_due_us;
    int64_t max_lag_us; /* rate mode: backlog beyond this is forgiven, not burst out */
} pp_pacer;

void pp_pacer_init_rate(pp_pacer *p, double rate, int64_t now_us);
void pp_pacer_init_delay(pp_pacer *p, double min_s, double max_s, uint64_t seed, int64_t now_us);

/* Monotonic time at which the next post may be produced. */
int64_t pp_pacer_due(const pp_pacer *p);

/* Record that a post was produced at now_us and schedule the next one. */
void pp_pacer_posted(pp_pacer *p, int64_t now_us);

#endif
