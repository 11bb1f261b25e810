/* pp_pacer: when each post is meant to be sent. The load (pp_load: stages, arrivals, the
 * daily curve) becomes a schedule of intended send times on the monotonic clock
 * (pp_now_us microseconds). Rate stages are an open model: arrival i of a stage falls
 * where the integral of the rate reaches i (fixed arrivals) or the sum of i exponential
 * draws of mean 1 (Poisson arrivals: the time-rescaled Poisson process, so ramps and the
 * daily curve are exact too), whatever happened to earlier posts; a post sent late keeps
 * its intended time, so latency can be measured from it (no coordinated omission). Delay
 * stages are the original script's closed loop: the next post is due a random delay after
 * the previous one was sent. Everything drawn comes from the seed.
 *
 * Stage k spans [its start, its start + duration); with repeat the list starts again at
 * the end of the last stage. Both kinds of arrivals run on across stage boundaries and
 * repetitions: fixed arrival i of the run is where the integral of the rate since the
 * schedule's start reaches i (the first at the start of the first stage that sends; a
 * stage holds its integral give or take 1, and a short stage repeated often sends its
 * share, not one post per start); for Poisson arrivals the part of a gap left at a
 * stage's end carries into the next stage that sends (the same process: no memory). A
 * delay or rate-0 stage also starts with a post at its start; its posts after the first
 * follow the send times, and a delay reaching past the stage's end ends it. Intended
 * times are whole microseconds, rounded down; beyond 2^53 us (285 years) from the start
 * they are good to a few milliseconds.
 *
 * The daily curve's zone offset (tz_local: localtime_r's tm_gmtoff) is read by
 * pp_pacer_init: a daylight saving change during a run moves the curve at the next start
 * or reload, which builds a new schedule.
 *
 * Any input is safe: a wait too long to represent saturates at INT64_MAX (never due), NaN
 * or non-positive waits mean no wait, NaN, negative or infinite rates are 0 (infinite
 * RATE stages: as fast as possible), a scale that is not a positive number is 1; the
 * configuration is what refuses such values. Cost: O(1) per post; a backlog is skipped in
 * O(stages), whole repetitions of the list at once. */
#ifndef PP_PACER_H
#define PP_PACER_H

#include <stdint.h>

#include "pp_load.h"
#include "pp_rng.h"

/* The stage of the next post, as the pacer computes with it (private). */
typedef struct pp_pacer_segment {
    pp_stage_kind kind;
    int cls;          /* none, open (rate, ramp, diurnal) or closed (delay, rate 0) */
    double a, s;      /* open: rate at the start, and its slope (posts/s per second) */
    double mean, amp; /* diurnal: mean rate and half the swing */
    double phase;     /* diurnal: the curve's phase at the stage's start, radians */
    double d_s;       /* duration, seconds; INFINITY: forever */
    int64_t d_us;     /* duration, microseconds; INT64_MAX: forever */
    double total;     /* the rate's integral over the whole stage */
} pp_pacer_segment;

typedef struct pp_pacer {
    pp_load load;          /* rates multiplied by scale, delays divided by it */
    pp_rng rng;            /* Poisson gaps, delays, the counts of skipped Poisson arrivals */
    int64_t start_us;      /* the schedule's origin (monotonic) */
    int64_t wall_start_us; /* the wall clock at start_us, microseconds since the epoch */
    int64_t max_backlog_us;
    int64_t stage_start_us;          /* start of the stage the next post belongs to */
    uint64_t cycle;                  /* repetitions of the list completed */
    size_t stage;                    /* index of the stage of the next post */
    double lambda_next;              /* where the rate integral (from stage_start_us) must reach */
    int64_t next_due_us;             /* intended time of the next post; INT64_MAX: none will come */
    int over;                        /* no arrival will ever come (the last stage has ended) */
    uint64_t dropped[PP_STAGES_MAX]; /* arrivals skipped, being more than max_backlog late */

    /* Private: derived at init and at each stage's start. */
    int64_t offset_us[PP_STAGES_MAX + 1]; /* each stage's start in the list; [nstages]: length */
    int cycling;                          /* repeat, and a list of finite, non-zero length */
    int never;                            /* no stage can ever produce an arrival */
    double phase0, omega;         /* the daily curve: its phase at start_us, radians per second */
    int64_t stage_end_us;         /* end of the stage of the next post; INT64_MAX: none */
    pp_pacer_segment seg;         /* that stage */
    uint64_t index;               /* fixed arrivals: the next post is this arrival of its stage */
    double phase;                 /* fixed arrivals: where the integral stood at the stage's
                                   * start past the last arrival before (arrival i of the
                                   * stage is at phase + i) */
    double tau_next;              /* seconds into the stage of the next post's arrival */
    double tau_prev, lambda_prev; /* the arrival before (where the diurnal inverse starts) */
} pp_pacer;

/* Start the schedule at now_us (wall_us: the wall clock then, for the daily curve). Rates
 * are multiplied by scale (1/N for one of N shards) and delays divided by it. Arrivals
 * found more than max_backlog_us late when the post is sent (a stall: database down,
 * brokers not acknowledging) are skipped and counted in dropped[] rather than sent in a
 * burst; 0 disables the limit. */
void pp_pacer_init(pp_pacer *p, const pp_load *load, double scale, uint64_t seed, int64_t now_us,
                   int64_t wall_us, int64_t max_backlog_us);

/* Intended send time of the next post; INT64_MAX when none will come. For a rate of 0 (as
 * fast as possible) this is the time the previous post was sent. */
int64_t pp_pacer_due(const pp_pacer *p);

/* The index (into load.stage) of the stage the next post belongs to. */
size_t pp_pacer_stage(const pp_pacer *p);

/* The index of the stage running at t (>= start; the last stage once the list is over). */
size_t pp_pacer_stage_at(const pp_pacer *p, int64_t t_us);

/* The stage running at t (>= start) as a span: its index, and when this run of it (this
 * cycle of a repeated list) started and ends (INT64_MAX: forever). Returns 0, or -1 once
 * the list has run out (no repeat). */
int pp_pacer_span_at(const pp_pacer *p, int64_t t_us, size_t *stage, int64_t *start_us,
                     int64_t *end_us);

/* 1 once the list of stages has run out (no repeat) by now_us: the run is over. */
int pp_pacer_over(const pp_pacer *p, int64_t now_us);

/* The post due (pp_pacer_due) was sent at now_us: schedule the next one. Arrivals more
 * than max_backlog late at now_us are skipped (counted in dropped[] by stage): for fixed
 * arrivals exactly, for Poisson arrivals a Poisson draw of the skipped stretch's integral,
 * for a delay or rate-0 stage its first post when that stage was entered that late. */
void pp_pacer_posted(pp_pacer *p, int64_t now_us);

/* Target rate at t, posts/s (scaled): the stage's rate; for a delay stage the inverse of
 * the mean delay; NAN for a rate of 0 and a delay of 0-0 (as fast as possible); 0 in a
 * pause and once the list is over. */
double pp_pacer_rate_at(const pp_pacer *p, int64_t t_us);

/* Expected arrivals in [t0, t1) (the integral of the rate; for delay stages at the inverse
 * of the mean delay): the target against which the achieved count is compared. NAN when
 * a rate-0 stage (or a delay of 0-0) overlaps the interval. Many repetitions of the list
 * cost no more than one. */
double pp_pacer_expected(const pp_pacer *p, int64_t t0_us, int64_t t1_us);

#endif
