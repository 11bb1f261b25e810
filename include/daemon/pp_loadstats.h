/* pp_loadstats: what the load generator achieved, stage by stage: for each stage of the
 * schedule, the time spent in it, the arrivals the schedule meant for that time (the target)
 * against the posts sent (achieved), arrivals skipped as too late, and two latency
 * histograms per post: from the produce call to the last delivery report ("produce"), and
 * from the post's intended send time ("intended": the open-model latency that includes the
 * wait of a post that could not be sent on time, so a stall is not hidden). Posts of the
 * warm-up (the first emulation.warmup seconds or posts) are kept apart. The runner feeds it
 * from the main thread; nothing here steers the posts. */
#ifndef PP_LOADSTATS_H
#define PP_LOADSTATS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "pp_hist.h"
#include "pp_pacer.h"
#include "pp_sink.h"

/* Distinct stages tracked in one run (the stages of every configuration a reload brought). */
#define PP_LOADSTATS_STAGES 256

typedef struct pp_stage_stats {
    char desc[96];       /* the stage as --stages writes it */
    size_t index;        /* its place in its list */
    unsigned generation; /* which configuration's list: 0 at start, +1 per reload changing it */
    uint64_t runs;       /* times it began (a repeated list) */
    double seconds;      /* time spent in it, warm-up excluded */
    double expected;     /* arrivals the schedule meant in that time; NAN: as fast as possible */
    uint64_t posts;      /* posts sent whose intended time fell in it (warm-up excluded) */
    uint64_t sent;       /* posts sent while it ran (late ones of earlier stages included):
                          * the achieved rate is sent / seconds */
    uint64_t delivered;  /* of those, delivered */
    uint64_t dropped;    /* arrivals skipped, more than emulation.max_backlog late */
    pp_hist produce, intended; /* microseconds, delivered posts */
} pp_stage_stats;

/* A set of posts' figures: the whole run after warm-up, or the warm-up. */
typedef struct pp_load_totals {
    uint64_t posts, delivered;
    double seconds;
    pp_hist produce, intended;
} pp_load_totals;

typedef struct pp_loadstats pp_loadstats;

pp_loadstats *pp_loadstats_new(void);
void pp_loadstats_destroy(pp_loadstats *ls); /* accepts NULL */

/* A (new) schedule starts at now_us: its stages are tracked from here (tick the previous
 * schedule up to now_us first, with its pacer). changed: the list
 * differs from the previous configuration's (new entries, rather than adding to the old
 * ones). warmup_until_us: posts intended before it are warm-up (0: none); warmup_posts:
 * the first posts are (0: none). */
void pp_loadstats_start(pp_loadstats *ls, int changed, int64_t now_us, int64_t warmup_until_us,
                        uint64_t warmup_posts);

/* Post seq is about to be produced at now_us; it was intended for intended_us in stage
 * `stage` of the running list. Call before the produce call (a sink may report the post
 * before produce returns). */
void pp_loadstats_produced(pp_loadstats *ls, const pp_pacer *p, uint64_t seq, size_t stage,
                           int64_t intended_us, int64_t now_us);

/* Post seq was not produced after all (skipped): forget it. */
void pp_loadstats_forget(pp_loadstats *ls, uint64_t seq);

/* A post's done report. Posts not recorded by pp_loadstats_produced are ignored. */
void pp_loadstats_done(pp_loadstats *ls, const pp_post_result *r);

/* Account the time up to now_us to the stages p ran (boundaries found exactly), and the
 * arrivals p skipped. Call often (each loop turn is fine: O(1) unless a stage ended). */
void pp_loadstats_tick(pp_loadstats *ls, const pp_pacer *p, int64_t now_us);

/* The stage running now (for STATUS and the metrics), or NULL before the first tick. */
const pp_stage_stats *pp_loadstats_current(const pp_loadstats *ls);

/* The run after warm-up, and the warm-up. */
const pp_load_totals *pp_loadstats_totals(const pp_loadstats *ls);
const pp_load_totals *pp_loadstats_warmup(const pp_loadstats *ls);

/* Arrivals skipped over the run. */
uint64_t pp_loadstats_dropped(const pp_loadstats *ls);

/* The report's "load" object (docs/usage.md, "Run report"): totals, warm-up, stages. */
cJSON *pp_loadstats_json(const pp_loadstats *ls);

/* A latency object {p50, p90, p95, p99, p999, max, count} in milliseconds (count: the
 * values the percentiles describe), for the report's every latency_ms. */
cJSON *pp_loadstats_latency_json(const pp_hist *h);

#endif
