/* pacer: scheduling arithmetic for --rate and --delay. */
#include "pp_pacer.h"

#include <string.h>

#define PACER_RNG_STREAM 2

/* base + us, saturated at INT64_MAX: a wait too long to represent (--rate 1e-13 is one
 * post per 317 000 years) means "never", not a wrapped or undefined time. NaN and
 * non-positive waits mean no wait. */
static int64_t after_us(int64_t base, double us)
{
    if (!(us > 0))
        return base;
    if (us >= 9223372036854775808.0) /* 2^63: the conversion below would be undefined */
        return INT64_MAX;
    int64_t d = (int64_t)us;
    return base > INT64_MAX - d ? INT64_MAX : base + d;
}

void pp_pacer_init_rate(pp_pacer *p, double rate, int64_t now_us)
{
    memset(p, 0, sizeof(*p));
    p->fixed_rate = 1;
    p->rate = rate;
    p->start_us = now_us;
    p->next_due_us = now_us;
    p->max_lag_us = 1000000;
}

void pp_pacer_init_delay(pp_pacer *p, double min_s, double max_s, uint64_t seed, int64_t now_us)
{
    memset(p, 0, sizeof(*p));
    p->delay_min_s = min_s;
    p->delay_max_s = max_s;
    pp_rng_seed(&p->rng, seed, PACER_RNG_STREAM);
    p->next_due_us = now_us;
}

int64_t pp_pacer_due(const pp_pacer *p)
{
    return p->next_due_us;
}

void pp_pacer_posted(pp_pacer *p, int64_t now_us)
{
    if (p->fixed_rate) {
        if (!(p->rate > 0)) { /* 0 (unpaced), and NaN rather than undefined behaviour */
            p->next_due_us = now_us;
            return;
        }
        p->posted++;
        int64_t due = after_us(p->start_us, (double)p->posted * 1e6 / p->rate);
        /* After a stall (database outage, full queue) restart the schedule instead of
         * flooding the pipeline with the whole backlog at once. The difference is taken
         * unsigned, where it is exact for any due < now. */
        if (due < now_us && (uint64_t)now_us - (uint64_t)due > (uint64_t)p->max_lag_us) {
            p->start_us = now_us;
            p->posted = 0;
            due = now_us;
        }
        p->next_due_us = due;
    } else {
        double span = p->delay_max_s - p->delay_min_s;
        double d = p->delay_min_s + (span > 0 ? span * pp_rng_unit(&p->rng) : 0);
        p->next_due_us = after_us(now_us, d * 1e6);
    }
}
