/* pp_load: the shape of the load pinpostd sends: an ordered list of stages (a constant
 * rate, a linear ramp, a pause, the random delay of the original script, the diurnal
 * curve), repeated or not; how arrivals fall within a rate (fixed gaps, or a Poisson
 * process); the daily curve. Types and the parser of the compact text that
 * emulation.stages and --stages take; the schedule arithmetic is the daemon's pacer. */
#ifndef PP_LOAD_H
#define PP_LOAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum pp_stage_kind {
    PP_STAGE_RATE,   /* `from` posts/s all along; 0 = as fast as possible */
    PP_STAGE_RAMP,   /* from `from` to `to` posts/s, linearly over the stage */
    PP_STAGE_PAUSE,  /* nothing is sent */
    PP_STAGE_DELAY,  /* a random delay drawn uniformly from [from, to] seconds after each
                      * post (the original script's closed loop) */
    PP_STAGE_DIURNAL /* the rate of the daily curve (pp_load.diurnal) at each instant */
} pp_stage_kind;

typedef struct pp_stage {
    pp_stage_kind kind;
    double from, to;   /* posts/s (RATE, RAMP), seconds (DELAY); unused otherwise */
    double duration_s; /* > 0; INFINITY: until the run ends (the last stage only) */
} pp_stage;

/* rate(t) = trough + (peak - trough) * (1 + cos(2 pi (tod(t) - peak_at) / 1 day)) / 2,
 * where tod(t) is the time of day in the zone; with day_length under a day the day is
 * compressed: tod advances 86400 / day_length seconds per second from the time of day at
 * start. */
typedef struct pp_diurnal {
    double peak, trough;  /* posts/s; 0 <= trough <= peak */
    double peak_at_s;     /* time of day of the peak, seconds after midnight, [0, 86400) */
    int tz_local;         /* 1: the host's zone (TZ, with its daylight saving time) */
    int32_t utc_offset_s; /* otherwise: this fixed offset east of UTC (0: UTC) */
    double day_length_s;  /* 86400: real time; less compresses the day */
} pp_diurnal;

typedef enum pp_arrivals {
    PP_ARRIVALS_FIXED,  /* evenly spaced at the rate */
    PP_ARRIVALS_POISSON /* a Poisson process at the rate: exponential gaps, from the seed */
} pp_arrivals;

#define PP_STAGES_MAX 64

typedef struct pp_load {
    pp_stage stage[PP_STAGES_MAX];
    size_t nstages; /* >= 1 once configured */
    int repeat;     /* 1: start the list again after the last stage; 0: the run ends */
    pp_arrivals arrivals;
    pp_diurnal diurnal; /* for PP_STAGE_DIURNAL stages */
} pp_load;

/* A duration: a number with a unit, "500ms", "30s", "5m", "2h", "1d", or a bare number of
 * seconds. Returns 0 with *out_s (> 0, at most 10^12 s), or -1 with err saying why
 * (without the setting's name, which the caller prefixes). */
int pp_load_parse_duration(const char *text, double *out_s, char *err, size_t n);

/* Append the stages of text to load (nstages grows; repeat is set by a final "repeat"):
 * comma-separated items, spaces around them ignored:
 *   RATE/s:DUR             constant rate (RATE 0: as fast as possible)
 *   ramp FROM-TO/s:DUR     linear ramp
 *   pause:DUR              nothing sent
 *   delay MIN-MAX:DUR      random delay between posts, in seconds (as --delay)
 *   diurnal:DUR            the daily curve of emulation.diurnal
 *   repeat                 (last) start again from the first stage
 * DUR as pp_load_parse_duration, or "forever" for the last stage. Rates 0.001 to 10^9
 * posts/s (0 for as fast as possible), delays 0 to 86400 s. Returns 0, or -1 with err
 * naming the item ("item 2 'ramp 100-/s:5m': ..."). Nothing is appended on error. */
int pp_load_parse_stages(const char *text, pp_load *load, char *err, size_t n);

/* The stage in the syntax above ("ramp 100-5000/s:300s"). */
void pp_load_describe_stage(const pp_stage *s, char *out, size_t n);

/* A time of day "HH:MM" or "HH:MM:SS" into seconds after midnight. Returns 0 or -1. */
int pp_load_parse_time_of_day(const char *text, double *out_s, char *err, size_t n);

/* A zone: "UTC", "local" (the host's, TZ), or a fixed offset "+05:30" / "-08:00" /
 * "UTC+2". Returns 0 or -1 (names such as Europe/Paris: use "local" with TZ set). */
int pp_load_parse_zone(const char *text, pp_diurnal *d, char *err, size_t n);

/* "fixed" or "poisson". Returns 0, or -1 with err. */
int pp_load_parse_arrivals(const char *text, pp_arrivals *out, char *err, size_t n);

/* 1 when a and b describe the same load: the stages in use, repeat, arrivals, and the
 * daily curve when a stage follows it (field by field, never the bytes of unused slots). */
int pp_load_equal(const pp_load *a, const pp_load *b);

#endif
