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
    uint64_t seq;       /* 0: a free cell (sequence numbers start at 1) */
    int64_t wait_us;    /* produce time minus intended time (>= 0) */
    uint16_t slot;      /* its stage's entry (by intended time); NO_SLOT or WARM */
    uint16_t sent_slot; /* the entry of the stage running when it was sent; NO_SLOT */
} flight;

struct pp_loadstats {
    pp_stage_stats slot[PP_LOADSTATS_STAGES];
    size_t nslots;
    unsigned generation;
    uint16_t slot_of[PP_STAGES_MAX]; /* the running list's stage index -> entry */
    size_t cur;                      /* running stage's index in the list; PP_STAGES_MAX: none */
    int64_t cur_start_us;            /* when this run of it started */
    int64_t since_us;                /* time accounted up to here */
    int64_t warmup_until_us, measure_from_us; /* measure_from 0: not yet known */
    uint64_t warmup_posts, produced;
    int64_t warmup_start_us;
    uint64_t dropped_seen[PP_STAGES_MAX]; /* the pacer's dropped[] already accounted */
    uint64_t dropped;
    pp_load_totals total, warm;
    /* Posts in flight by sequence number: an open-addressing table (linear probing) of
     * power-of-two size, at most half full, so its size follows the posts in flight (a
     * post stuck for minutes behind faster ones costs one cell, not the span of numbers
     * since). */
    flight *cell;
    size_t cap, used;
};

pp_loadstats *pp_loadstats_new(void)
{
    pp_loadstats *ls = pp_xcalloc(1, sizeof(*ls));
    ls->cur = PP_STAGES_MAX;
    ls->cap = 1024;
    ls->cell = pp_xcalloc(ls->cap, sizeof(flight));
    ls->generation = (unsigned)-1;
    return ls;
}

void pp_loadstats_destroy(pp_loadstats *ls)
{
    if (!ls)
        return;
    free(ls->cell);
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

static size_t home(const pp_loadstats *ls, uint64_t seq)
{
    return (size_t)((seq * 0x9e3779b97f4a7c15ULL) >> 20) & (ls->cap - 1);
}

/* The cell of seq, or NULL. */
static flight *find(pp_loadstats *ls, uint64_t seq)
{
    for (size_t i = home(ls, seq);; i = (i + 1) & (ls->cap - 1)) {
        if (ls->cell[i].seq == seq && seq)
            return &ls->cell[i];
        if (!ls->cell[i].seq)
            return NULL;
    }
}

/* A cell for seq (not in the table), the table doubled first when half full. */
static flight *insert(pp_loadstats *ls, uint64_t seq)
{
    if ((ls->used + 1) * 2 > ls->cap) {
        flight *old = ls->cell;
        size_t oldcap = ls->cap;
        ls->cap *= 2;
        ls->cell = pp_xcalloc(ls->cap, sizeof(flight));
        for (size_t j = 0; j < oldcap; j++)
            if (old[j].seq) {
                size_t i = home(ls, old[j].seq);
                while (ls->cell[i].seq)
                    i = (i + 1) & (ls->cap - 1);
                ls->cell[i] = old[j];
            }
        free(old);
    }
    size_t i = home(ls, seq);
    while (ls->cell[i].seq)
        i = (i + 1) & (ls->cap - 1);
    ls->used++;
    ls->cell[i].seq = seq;
    return &ls->cell[i];
}

/* Free f's cell, moving back the cells of its probe run that would no longer be found
 * (backward-shift deletion: no tombstones, so lookups stay short). */
static void erase(pp_loadstats *ls, flight *f)
{
    size_t hole = (size_t)(f - ls->cell), mask = ls->cap - 1;
    for (size_t i = (hole + 1) & mask; ls->cell[i].seq; i = (i + 1) & mask) {
        size_t h = home(ls, ls->cell[i].seq);
        /* The cell at i may fill the hole when its home is not in (hole, i]. */
        if (((i - h) & mask) >= ((i - hole) & mask)) {
            ls->cell[hole] = ls->cell[i];
            hole = i;
        }
    }
    memset(&ls->cell[hole], 0, sizeof(ls->cell[hole]));
    ls->used--;
}

void pp_loadstats_produced(pp_loadstats *ls, const pp_pacer *p, uint64_t seq, size_t stage,
                           int64_t intended_us, int64_t now_us)
{
    ls->produced++;
    int warm =
        (ls->warmup_posts && ls->produced <= ls->warmup_posts) || intended_us < ls->warmup_until_us;
    if (!warm && !ls->measure_from_us) /* the first post after a warm-up counted in posts */
        ls->measure_from_us = intended_us < now_us ? intended_us : now_us;
    flight *f = find(ls, seq);
    if (!f)
        f = insert(ls, seq);
    f->wait_us = now_us > intended_us ? now_us - intended_us : 0;
    if (warm) {
        f->slot = WARM;
        f->sent_slot = NO_SLOT;
        ls->warm.posts++;
        return;
    }
    int started = ls->generation != (unsigned)-1;
    f->slot = stage < p->load.nstages && started ? slot_for(ls, p, stage) : NO_SLOT;
    ls->total.posts++;
    if (f->slot != NO_SLOT)
        ls->slot[f->slot].posts++;
    /* The rate achieved is that of the stage running when the post went out, late or not
     * (a post late for its stage is sent during the next). */
    size_t now_stage;
    int64_t s0, s1;
    f->sent_slot = started && !pp_pacer_span_at(p, now_us, &now_stage, &s0, &s1)
                       ? slot_for(ls, p, now_stage)
                       : f->slot;
    if (f->sent_slot != NO_SLOT)
        ls->slot[f->sent_slot].sent++;
}

void pp_loadstats_forget(pp_loadstats *ls, uint64_t seq)
{
    flight *f = find(ls, seq);
    if (!f)
        return;
    uint16_t slot = f->slot, sent = f->sent_slot;
    erase(ls, f);
    ls->produced--;
    if (slot == WARM) {
        ls->warm.posts--;
        return;
    }
    ls->total.posts--;
    if (slot != NO_SLOT)
        ls->slot[slot].posts--;
    if (sent != NO_SLOT)
        ls->slot[sent].sent--;
}

void pp_loadstats_done(pp_loadstats *ls, const pp_post_result *r)
{
    flight *f = find(ls, r->seq);
    if (!f)
        return;
    flight done = *f;
    erase(ls, f);
    if (r->outcome != PP_DELIVERED)
        return;
    uint64_t produce = r->latency_us > 0 ? (uint64_t)r->latency_us : 0;
    uint64_t intended = produce + (uint64_t)done.wait_us;
    pp_load_totals *t = done.slot == WARM ? &ls->warm : &ls->total;
    t->delivered++;
    pp_hist_record(&t->produce, produce);
    pp_hist_record(&t->intended, intended);
    if (done.slot < WARM) {
        pp_stage_stats *s = &ls->slot[done.slot];
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
    /* Span by span: each run of a stage (a repeated list runs it once per cycle) from its
     * start to its end, as the pacer places them; nothing after the list has run out. A
     * tick late by many tiny cycles hands the rest to the stage running now. */
    for (int spans = 0; ls->since_us < now_us; spans++) {
        size_t k;
        int64_t start, end;
        if (pp_pacer_span_at(p, ls->since_us, &k, &start, &end))
            return;
        if (ls->cur != k || ls->cur_start_us != start) {
            ls->cur = k;
            ls->cur_start_us = start;
            ls->slot[slot_for(ls, p, k)].runs++;
        }
        int64_t upto = end < now_us && spans < 10000 ? end : now_us;
        account(ls, p, slot_for(ls, p, k), ls->since_us, upto);
        ls->since_us = upto;
    }
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
        cJSON_AddNumberToObject(e, "posts_sent", (double)s->sent);
        add_rate(e, "achieved_rate", s->seconds > 0 ? (double)s->sent / s->seconds : NAN);
        cJSON_AddItemToObject(e, "latency_ms", latencies(&s->produce, &s->intended));
        cJSON_AddItemToArray(stages, e);
    }
    return o;
}
