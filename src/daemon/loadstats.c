/* loadstats: achieved against target rate and open-model latency, per stage. */
#include "pp_loadstats.h"
#include "pp_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_SLOT ((uint16_t)0xffff) /* counted in the totals only */
#define WARM ((uint16_t)0xfffe)    /* a warm-up post */

/* A post in flight: what its done report needs. */
typedef struct flight {
    int64_t wait_us; /* produce time minus intended time (>= 0) */
    uint16_t slot;   /* its stage's entry; NO_SLOT for warm-up */
    uint8_t live;
} flight;

struct pp_loadstats {
    pp_stage_stats slot[PP_LOADSTATS_STAGES];
    size_t nslots;
    unsigned generation;
    uint16_t slot_of[PP_STAGES_MAX]; /* the running list's stage index -> entry */
    size_t cur;                      /* running stage's index in the list; PP_STAGES_MAX: none */
    int64_t since_us;                /* time accounted up to here */
    int64_t warmup_until_us, measure_from_us; /* measure_from 0: not yet known */
    uint64_t warmup_posts, produced;
    int64_t warmup_start_us;
    uint64_t dropped_seen[PP_STAGES_MAX]; /* the pacer's dropped[] already accounted */
    uint64_t dropped;
    pp_load_totals total, warm;
    /* Posts in flight by sequence number: a ring of power-of-two size over [lo, hi). */
    flight *ring;
    uint64_t cap, lo, hi;
};

pp_loadstats *pp_loadstats_new(void)
{
    pp_loadstats *ls = pp_xcalloc(1, sizeof(*ls));
    ls->cur = PP_STAGES_MAX;
    ls->cap = 1024;
    ls->ring = pp_xcalloc(ls->cap, sizeof(flight));
    ls->lo = ls->hi = 1;
    ls->generation = (unsigned)-1;
    return ls;
}

void pp_loadstats_destroy(pp_loadstats *ls)
{
    if (!ls)
        return;
    free(ls->ring);
    free(ls);
}

/* The entry of stage i of the running list, made on first use. */
static uint16_t slot_for(pp_loadstats *ls, const pp_pacer *p, size_t i)
{
    if (ls->slot_of[i] != NO_SLOT)
        return ls->slot_of[i];
    if (ls->nslots == PP_LOADSTATS_STAGES) /* reloads beyond the table share its last row */
        return ls->slot_of[i] = PP_LOADSTATS_STAGES - 1;
    pp_stage_stats *s = &ls->slot[ls->nslots];
    pp_load_describe_stage(&p->load.stage[i], s->desc, sizeof(s->desc));
    s->index = i;
    s->generation = ls->generation;
    return ls->slot_of[i] = (uint16_t)ls->nslots++;
}

void pp_loadstats_start(pp_loadstats *ls, int changed, int64_t now_us, int64_t warmup_until_us,
                        uint64_t warmup_posts)
{
    if (changed || ls->generation == (unsigned)-1) {
        ls->generation++;
        for (size_t i = 0; i < PP_STAGES_MAX; i++)
            ls->slot_of[i] = NO_SLOT;
    }
    memset(ls->dropped_seen, 0, sizeof(ls->dropped_seen));
    ls->cur = PP_STAGES_MAX;
    ls->since_us = now_us;
    if (!ls->warmup_start_us) { /* the warm-up is the run's, not each reload's */
        ls->warmup_start_us = now_us;
        ls->warmup_until_us = warmup_until_us;
        ls->warmup_posts = warmup_posts;
        ls->measure_from_us = warmup_posts               ? 0
                              : warmup_until_us > now_us ? warmup_until_us
                                                         : now_us;
    }
}

static flight *at(pp_loadstats *ls, uint64_t seq)
{
    return &ls->ring[seq & (ls->cap - 1)];
}

/* Make room for seq in the ring: past the posts already settled, or twice as large. */
static void reserve(pp_loadstats *ls, uint64_t seq)
{
    while (ls->lo < ls->hi && !at(ls, ls->lo)->live)
        ls->lo++;
    if (ls->lo == ls->hi)
        ls->lo = ls->hi = seq;
    if (seq < ls->lo)
        ls->lo = seq; /* a reused number (a skipped post's) */
    while (seq - ls->lo >= ls->cap) {
        uint64_t cap = ls->cap * 2;
        flight *ring = pp_xcalloc(cap, sizeof(flight));
        for (uint64_t s = ls->lo; s < ls->hi; s++)
            ring[s & (cap - 1)] = *at(ls, s);
        free(ls->ring);
        ls->ring = ring;
        ls->cap = cap;
    }
}

void pp_loadstats_produced(pp_loadstats *ls, const pp_pacer *p, uint64_t seq, size_t stage,
                           int64_t intended_us, int64_t now_us)
{
    ls->produced++;
    int warm =
        (ls->warmup_posts && ls->produced <= ls->warmup_posts) || intended_us < ls->warmup_until_us;
    if (!warm && !ls->measure_from_us) /* the first post after a warm-up counted in posts */
        ls->measure_from_us = intended_us < now_us ? intended_us : now_us;
    reserve(ls, seq);
    flight *f = at(ls, seq);
    f->live = 1;
    f->wait_us = now_us > intended_us ? now_us - intended_us : 0;
    if (seq >= ls->hi)
        ls->hi = seq + 1;
    if (warm) {
        f->slot = WARM;
        ls->warm.posts++;
        return;
    }
    f->slot = stage < p->load.nstages && ls->generation != (unsigned)-1 ? slot_for(ls, p, stage)
                                                                        : NO_SLOT;
    ls->total.posts++;
    if (f->slot != NO_SLOT)
        ls->slot[f->slot].posts++;
}

void pp_loadstats_forget(pp_loadstats *ls, uint64_t seq)
{
    if (seq < ls->lo || seq >= ls->hi || !at(ls, seq)->live)
        return;
    flight *f = at(ls, seq);
    f->live = 0;
    ls->produced--;
    if (f->slot == WARM) {
        ls->warm.posts--;
        return;
    }
    ls->total.posts--;
    if (f->slot != NO_SLOT)
        ls->slot[f->slot].posts--;
}

void pp_loadstats_done(pp_loadstats *ls, const pp_post_result *r)
{
    if (r->seq < ls->lo || r->seq >= ls->hi || !at(ls, r->seq)->live)
        return;
    flight *f = at(ls, r->seq);
    f->live = 0;
    if (r->outcome != PP_DELIVERED)
        return;
    uint64_t produce = r->latency_us > 0 ? (uint64_t)r->latency_us : 0;
    uint64_t intended = produce + (uint64_t)f->wait_us;
    pp_load_totals *t = f->slot == WARM ? &ls->warm : &ls->total;
    t->delivered++;
    pp_hist_record(&t->produce, produce);
    pp_hist_record(&t->intended, intended);
    if (f->slot < WARM) {
        pp_stage_stats *s = &ls->slot[f->slot];
        s->delivered++;
        pp_hist_record(&s->produce, produce);
        pp_hist_record(&s->intended, intended);
    }
}

/* Time [from, to) spent in stage entry s: its seconds and expected arrivals. */
static void account(pp_loadstats *ls, const pp_pacer *p, uint16_t s, int64_t from, int64_t to)
{
    if (to <= from)
        return;
    /* The warm-up's time is the warm-up's. */
    int64_t m = ls->measure_from_us ? ls->measure_from_us : INT64_MAX;
    int64_t w0 = from, w1 = to < m ? to : m;
    if (w1 > w0)
        ls->warm.seconds += (double)(w1 - w0) / 1e6;
    if (from < m)
        from = m;
    if (to <= from)
        return;
    double sec = (double)(to - from) / 1e6;
    ls->total.seconds += sec;
    pp_stage_stats *st = &ls->slot[s];
    st->seconds += sec;
    st->expected += pp_pacer_expected(p, from, to); /* NAN stays NAN: as fast as possible */
}

void pp_loadstats_tick(pp_loadstats *ls, const pp_pacer *p, int64_t now_us)
{
    if (ls->generation == (unsigned)-1 || now_us <= ls->since_us)
        return;
    for (size_t i = 0; i < p->load.nstages && i < PP_STAGES_MAX; i++)
        if (p->dropped[i] > ls->dropped_seen[i]) {
            uint64_t d = p->dropped[i] - ls->dropped_seen[i];
            ls->dropped_seen[i] = p->dropped[i];
            ls->dropped += d;
            ls->slot[slot_for(ls, p, i)].dropped += d;
        }
    /* No stage runs after the last one ended: time is accounted up to its end. */
    if (pp_pacer_over(p, now_us)) {
        if (pp_pacer_over(p, ls->since_us))
            return;
        int64_t lo = ls->since_us, hi = now_us;
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (pp_pacer_over(p, mid))
                hi = mid;
            else
                lo = mid;
        }
        now_us = hi;
    }
    size_t st = pp_pacer_stage_at(p, now_us);
    if (ls->cur == PP_STAGES_MAX) {
        ls->cur = pp_pacer_stage_at(p, ls->since_us);
        ls->slot[slot_for(ls, p, ls->cur)].runs++;
    }
    /* Each stage that ended since the last tick: its end found by bisection (the stage
     * index is constant over each stage's span). */
    for (int guard = 0; st != ls->cur && guard < 1000; guard++) {
        int64_t lo = ls->since_us, hi = now_us;
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (pp_pacer_stage_at(p, mid) == ls->cur)
                lo = mid;
            else
                hi = mid;
        }
        account(ls, p, slot_for(ls, p, ls->cur), ls->since_us, hi);
        ls->since_us = hi;
        ls->cur = pp_pacer_stage_at(p, hi);
        ls->slot[slot_for(ls, p, ls->cur)].runs++;
    }
    account(ls, p, slot_for(ls, p, ls->cur), ls->since_us, now_us);
    ls->since_us = now_us;
}

const pp_stage_stats *pp_loadstats_current(const pp_loadstats *ls)
{
    if (ls->cur >= PP_STAGES_MAX || ls->slot_of[ls->cur] == NO_SLOT)
        return NULL;
    return &ls->slot[ls->slot_of[ls->cur]];
}

const pp_load_totals *pp_loadstats_totals(const pp_loadstats *ls)
{
    return &ls->total;
}

const pp_load_totals *pp_loadstats_warmup(const pp_loadstats *ls)
{
    return &ls->warm;
}

uint64_t pp_loadstats_dropped(const pp_loadstats *ls)
{
    return ls->dropped;
}

cJSON *pp_loadstats_latency_json(const pp_hist *h)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}};
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        cJSON_AddNumberToObject(o, qs[i].name, (double)pp_hist_quantile(h, qs[i].q) / 1000.0);
    cJSON_AddNumberToObject(o, "max", (double)h->max / 1000.0);
    cJSON_AddNumberToObject(o, "count", (double)h->total);
    return o;
}

static double round2(double v)
{
    return round(v * 100) / 100;
}

/* A rate as a JSON number, or null when it has no value (as fast as possible). */
static void add_rate(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, round2(v));
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *latencies(const pp_hist *produce, const pp_hist *intended)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "produce", pp_loadstats_latency_json(produce));
    cJSON_AddItemToObject(o, "intended", pp_loadstats_latency_json(intended));
    return o;
}

static cJSON *totals_json(const pp_load_totals *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "posts", (double)t->posts);
    cJSON_AddNumberToObject(o, "posts_delivered", (double)t->delivered);
    cJSON_AddNumberToObject(o, "seconds", round(t->seconds * 1000) / 1000);
    add_rate(o, "achieved_rate", t->seconds > 0 ? (double)t->posts / t->seconds : NAN);
    cJSON_AddItemToObject(o, "latency_ms", latencies(&t->produce, &t->intended));
    return o;
}

cJSON *pp_loadstats_json(const pp_loadstats *ls)
{
    cJSON *o = totals_json(&ls->total);
    cJSON_AddNumberToObject(o, "arrivals_dropped", (double)ls->dropped);
    cJSON_AddItemToObject(o, "warmup", totals_json(&ls->warm));
    cJSON *stages = cJSON_AddArrayToObject(o, "stages");
    for (size_t i = 0; i < ls->nslots; i++) {
        const pp_stage_stats *s = &ls->slot[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "index", (double)s->index);
        cJSON_AddStringToObject(e, "stage", s->desc);
        cJSON_AddNumberToObject(e, "configuration", (double)s->generation);
        cJSON_AddNumberToObject(e, "runs", (double)s->runs);
        cJSON_AddNumberToObject(e, "seconds", round(s->seconds * 1000) / 1000);
        cJSON_AddNumberToObject(e, "posts", (double)s->posts);
        cJSON_AddNumberToObject(e, "posts_delivered", (double)s->delivered);
        cJSON_AddNumberToObject(e, "arrivals_dropped", (double)s->dropped);
        add_rate(e, "target_rate", s->seconds > 0 ? s->expected / s->seconds : NAN);
        add_rate(e, "achieved_rate", s->seconds > 0 ? (double)s->posts / s->seconds : NAN);
        cJSON_AddItemToObject(e, "latency_ms", latencies(&s->produce, &s->intended));
        cJSON_AddItemToArray(stages, e);
    }
    return o;
}
