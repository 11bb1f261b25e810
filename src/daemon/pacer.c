/* pacer: the schedule of intended send times: stages, ramps, the daily curve, fixed and
 * Poisson arrivals, delays, the scale of a shard, the skipping of a backlog. */
#include "pp_pacer.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define PACER_RNG_STREAM 2
/* Rates above this are clamped: arrivals a femtosecond apart are all due in the same
 * microsecond anyway, and the squares the ramp's inverse takes stay finite. */
#define RATE_CAP 1e15
#define TWO_PI 6.283185307179586
#define DAY_S 86400.0

enum { SEG_NONE, SEG_OPEN, SEG_CLOSED };

/* ---- saturating arithmetic: a time too far to represent is INT64_MAX, "never" ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static uint64_t sat_add_u(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul_u(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* A non-negative double as an unsigned count, saturated (NaN and negatives are 0). */
static uint64_t count_of(double v)
{
    if (!(v > 0))
        return 0;
    return v >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)v;
}

/* Microseconds, floored, as an offset: NaN and negatives are 0; 2^64 and beyond saturate
 * (an offset from INT64_MIN may exceed INT64_MAX). */
static uint64_t us_floor(double us)
{
    return count_of(us);
}

/* b - a in seconds, for b >= a (exact in unsigned arithmetic over the whole int64 range). */
static double span_s(int64_t a, int64_t b)
{
    return b > a ? (double)((uint64_t)b - (uint64_t)a) / 1e6 : 0;
}

/* start + off, or INT64_MAX when that is not representable. */
static int64_t at_offset(int64_t start, uint64_t off)
{
    if ((uint64_t)INT64_MAX - (uint64_t)start < off)
        return INT64_MAX;
    return (int64_t)((uint64_t)start + off);
}

/* base + us, saturated at INT64_MAX: a wait too long to represent (a delay of 10^300 s)
 * means "never", not a wrapped or undefined time. NaN and non-positive waits mean no wait. */
static int64_t after_us(int64_t base, double us)
{
    return at_offset(base, us_floor(us));
}

/* ---- draws ---- */

/* Exp(1), from the seed: the gap of a unit-rate Poisson process. At most 37. */
static double exp1(pp_pacer *p)
{
    return -log1p(-pp_rng_unit(&p->rng));
}

/* A Poisson count of the given mean: how many arrivals a skipped stretch held. Knuth's
 * product of uniforms for small means, Hörmann's transformed rejection (PTRS, 1993) from
 * 10 on; beyond 10^15 the spread is below a part in 10^7 and the mean itself is returned. */
static uint64_t poisson_draw(pp_pacer *p, double mean)
{
    if (!(mean > 0))
        return 0;
    if (mean >= 1e15)
        return count_of(mean + 0.5);
    if (mean < 10) {
        double limit = exp(-mean), prod = pp_rng_unit(&p->rng);
        uint64_t k = 0;
        while (prod > limit) {
            prod *= pp_rng_unit(&p->rng);
            k++;
        }
        return k;
    }
    double slam = sqrt(mean), loglam = log(mean);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = pp_rng_unit(&p->rng) - 0.5, v = pp_rng_unit(&p->rng);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + mean + 0.43);
        if (us >= 0.07 && v <= vr)
            return count_of(k);
        if (k < 0 || (us < 0.013 && v > us))
            continue;
        int sign;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
            -mean + k * loglam - lgamma_r(k + 1, &sign))
            return count_of(k);
    }
}

/* ---- one stage ---- */

static int poisson(const pp_pacer *p)
{
    return p->load.arrivals == PP_ARRIVALS_POISSON;
}

/* The daily curve's phase at t (>= start), reduced to one turn. */
static double phase_at(const pp_pacer *p, int64_t t)
{
    return fmod(p->phase0 + p->omega * span_s(p->start_us, t), TWO_PI);
}

/* The rate's integral over [0, tau] seconds of the stage (tau within it). */
static double seg_integral(const pp_pacer *p, const pp_pacer_segment *g, double tau)
{
    if (!(tau > 0))
        return 0;
    if (tau > g->d_s)
        tau = g->d_s;
    switch (g->cls) {
    case SEG_OPEN:
        if (g->kind == PP_STAGE_DIURNAL) {
            /* sin(x + h) - sin(x) as 2 cos(x + h/2) sin(h/2): no cancellation for small h. */
            double h = p->omega * tau;
            return g->mean * tau + g->amp / p->omega * 2 * cos(g->phase + h / 2) * sin(h / 2);
        }
        return tau * (g->a + 0.5 * g->s * tau);
    case SEG_CLOSED: return g->mean > 0 ? tau / g->mean : NAN;
    default: return 0;
    }
}

/* The rate at tau seconds into the stage. */
static double seg_rate(const pp_pacer *p, const pp_pacer_segment *g, double tau)
{
    switch (g->cls) {
    case SEG_OPEN:
        if (g->kind == PP_STAGE_DIURNAL)
            return g->mean + g->amp * cos(g->phase + p->omega * tau);
        return fmax(0, g->a + g->s * tau);
    case SEG_CLOSED: return g->mean > 0 ? 1 / g->mean : NAN;
    default: return 0;
    }
}

/* The tau at which the integral reaches lam (0 < lam < total), for an open stage. lo is a
 * point at or before it where the integral is lam_lo (a previous arrival), where the
 * daily curve's search starts. Ramps are inverted in closed form: the root of
 * s tau^2 / 2 + a tau - lam, written 2 lam / (a + sqrt(a^2 + 2 s lam)) so that neither a
 * rising nor a falling ramp subtracts nearly equal numbers. */
static double seg_invert(const pp_pacer *p, const pp_pacer_segment *g, double lam, double lo,
                         double lam_lo)
{
    if (!(lam > 0))
        return 0;
    if (g->kind != PP_STAGE_DIURNAL) {
        if (g->s == 0)
            return lam / g->a;
        double disc = g->a * g->a + 2 * g->s * lam;
        if (!(disc >= 0))
            return INFINITY; /* past the end of a falling ramp */
        double den = g->a + sqrt(disc);
        return den > 0 ? 2 * lam / den : INFINITY;
    }
    /* The daily curve: Newton's method on the closed-form integral, kept inside a bracket
     * [lo, hi] that always holds the root, bisecting whenever a step would leave it (the
     * rate may touch 0 at the trough). The integral is at least mean tau - 2 amp / omega,
     * which gives hi. */
    double m = g->mean, swing = 2 * fabs(g->amp) / p->omega;
    if (!(lo >= 0 && lam_lo <= lam && lo < g->d_s)) {
        lo = 0;
        lam_lo = 0;
    }
    double hi = fmin((lam + swing) / m, g->d_s);
    if (!(hi > lo))
        return lo;
    double r = seg_rate(p, g, lo);
    double x = lo + (lam - lam_lo) / (r > 0 ? r : m);
    if (!(x > lo && x < hi))
        x = 0.5 * (lo + hi);
    for (int i = 0; i < 200; i++) {
        double f = seg_integral(p, g, x) - lam;
        if (f == 0)
            return x;
        if (f < 0)
            lo = x;
        else
            hi = x;
        r = seg_rate(p, g, x);
        double nx = x - f / r;
        if (!(r > 0) || !(nx > lo && nx < hi))
            nx = 0.5 * (lo + hi);
        double tol = 1e-9 + 1e-14 * x;
        if (fabs(nx - x) <= tol || hi - lo <= tol)
            return nx;
        x = nx;
    }
    return x;
}

/* Stage k of the list, starting at start_us_of_stage: what the pacer computes with. */
static void seg_make(const pp_pacer *p, size_t k, int64_t stage_start, pp_pacer_segment *g)
{
    const pp_stage *st = &p->load.stage[k];
    memset(g, 0, sizeof(*g));
    g->kind = st->kind;
    /* A stage reaching past the end of representable time lasts forever. */
    g->d_us = p->offset_us[k + 1] == INT64_MAX ? INT64_MAX : p->offset_us[k + 1] - p->offset_us[k];
    g->d_s = g->d_us == INT64_MAX ? INFINITY : (double)g->d_us / 1e6;
    g->cls = SEG_NONE;
    if (g->d_us <= 0)
        return;
    switch (st->kind) {
    case PP_STAGE_RATE:
        if (st->from == 0) {
            g->cls = SEG_CLOSED; /* as fast as possible: due when the last post went */
            g->mean = 0;
            return;
        }
        g->a = st->from;
        break;
    case PP_STAGE_RAMP:
        g->a = st->from;
        /* The slope from the stage's own duration (a duration past the end of time still
         * ramps at its rate). */
        g->s = st->duration_s > 0 && isfinite(st->duration_s) ? (st->to - st->from) / st->duration_s
                                                              : 0;
        break;
    case PP_STAGE_DELAY:
        g->cls = SEG_CLOSED;
        g->mean = 0.5 * (st->from + st->to);
        return;
    case PP_STAGE_DIURNAL:
        g->mean = 0.5 * (p->load.diurnal.peak + p->load.diurnal.trough);
        g->amp = 0.5 * (p->load.diurnal.peak - p->load.diurnal.trough);
        g->phase = phase_at(p, stage_start);
        break;
    default: return;
    }
    /* The highest rate the stage reaches (an endless ramp stays at its start). */
    double base = st->kind == PP_STAGE_DIURNAL ? g->mean
                  : g->s == 0                  ? g->a
                                               : fmax(st->from, st->to);
    if (!(base > 0))
        return; /* a rate of 0 all along: nothing to send */
    g->cls = SEG_OPEN;
    g->total = isinf(g->d_s) ? INFINITY : fmax(0, seg_integral(p, g, g->d_s));
    if (!(g->total > 0))
        g->cls = SEG_NONE;
}

/* Start of stage k in cycle c, or INT64_MAX past the end of representable time. */
static int64_t stage_start(const pp_pacer *p, size_t k, uint64_t c)
{
    uint64_t off = sat_mul_u(c, (uint64_t)p->offset_us[p->load.nstages]);
    off = sat_add_u(off, (uint64_t)p->offset_us[k]);
    return at_offset(p->start_us, off);
}

/* The integral of stage k over cycles c .. c + m - 1 (the list repeating). A daily curve's
 * stage moves along the curve from one cycle to the next, by theta = omega * cycle; the
 * sum of its cosines is the closed form sin(m theta / 2) / sin(theta / 2) cos(x + (m - 1)
 * theta / 2). */
static double stage_cycles_integral(const pp_pacer *p, size_t k, uint64_t c, uint64_t m)
{
    int64_t s = stage_start(p, k, c);
    if (s == INT64_MAX)
        return 0;
    pp_pacer_segment g;
    seg_make(p, k, s, &g);
    double dm = (double)m;
    if (g.cls == SEG_NONE || isinf(g.d_s))
        return g.cls == SEG_NONE ? 0 : INFINITY;
    if (g.cls == SEG_CLOSED)
        return g.mean > 0 ? dm * g.d_s / g.mean : NAN;
    if (g.kind != PP_STAGE_DIURNAL)
        return dm * g.total;
    double h = p->omega * g.d_s, theta = p->omega * (double)p->offset_us[p->load.nstages] / 1e6;
    double x = g.phase + h / 2, half = sin(theta / 2), sum;
    if (fabs(half) < 1e-12)
        sum = dm * cos(x);
    else
        sum =
            sin(fmod(dm * theta / 2, TWO_PI)) / half * cos(x + fmod((dm - 1) * theta / 2, TWO_PI));
    return fmax(0, dm * g.mean * g.d_s + g.amp / p->omega * 2 * sin(h / 2) * sum);
}

/* ---- moving along the schedule ---- */

static void none_left(pp_pacer *p)
{
    p->next_due_us = INT64_MAX;
    p->over = 1;
}

/* Make stage k of cycle c the current one. -1 when it starts past representable time. */
static int enter(pp_pacer *p, size_t k, uint64_t c)
{
    int64_t s = stage_start(p, k, c);
    if (s == INT64_MAX)
        return -1;
    p->stage = k;
    p->cycle = c;
    p->stage_start_us = s;
    seg_make(p, k, s, &p->seg);
    p->stage_end_us = p->seg.d_us == INT64_MAX ? INT64_MAX : sat_add(s, p->seg.d_us);
    p->index = 0;
    p->tau_next = p->tau_prev = p->lambda_prev = 0;
    return 0;
}

/* The intended time of the arrival where the current open stage's integral reaches lam,
 * or INT64_MAX when that is at or past the stage's end. (hint_tau, hint_lam): an earlier
 * point of the integral. */
static int64_t open_due(const pp_pacer *p, double lam, double hint_tau, double hint_lam,
                        double *tau_out)
{
    const pp_pacer_segment *g = &p->seg;
    if (!(lam < g->total))
        return INT64_MAX;
    double tau = seg_invert(p, g, lam, hint_tau, hint_lam);
    if (hint_lam <= lam && tau < hint_tau)
        tau = hint_tau; /* arrivals never go back in time, whatever the rounding */
    if (!(tau >= 0))
        return INT64_MAX;
    uint64_t off = us_floor(tau * 1e6);
    if (g->d_us != INT64_MAX && off >= (uint64_t)g->d_us)
        return INT64_MAX;
    int64_t t = at_offset(p->stage_start_us, off);
    if (t >= p->stage_end_us)
        return INT64_MAX;
    *tau_out = tau;
    return t;
}

/* The first arrival of the stage just entered, with carry the part of a Poisson gap left
 * over from the stages before. Returns 1 (next_due_us set) or 0: none in this stage
 * (lambda_next then holds what is left of the gap). */
static int first_arrival(pp_pacer *p, double carry)
{
    p->lambda_next = carry;
    if (p->seg.cls == SEG_CLOSED) {
        p->next_due_us = p->stage_start_us; /* a delay stage starts with a post */
        return 1;
    }
    if (p->seg.cls == SEG_NONE)
        return 0;
    /* Fixed arrivals too go on from where the integral stood: a stage of 0.3 posts does
     * not send one post each time it starts. */
    double lam = carry, tau = 0;
    p->phase = carry;
    int64_t t = open_due(p, lam, 0, 0, &tau);
    if (t == INT64_MAX) {
        p->lambda_next = fmax(0, lam - p->seg.total);
        return 0;
    }
    p->next_due_us = t;
    p->tau_next = tau;
    return 1;
}

/* Skip the m whole cycles from c on, all before the backlog's cutoff: count what they
 * held. Fixed arrivals of a daily curve's stage are counted as the integral plus the half
 * arrival each stage start adds on average. */
static void drop_cycles(pp_pacer *p, uint64_t c, uint64_t m)
{
    for (size_t k = 0; k < p->load.nstages; k++) {
        int64_t s = stage_start(p, k, c);
        if (s == INT64_MAX)
            return;
        pp_pacer_segment g;
        seg_make(p, k, s, &g);
        uint64_t n = 0;
        if (g.cls == SEG_CLOSED)
            n = m;
        else if (g.cls == SEG_OPEN && poisson(p))
            n = poisson_draw(p, stage_cycles_integral(p, k, c, m));
        else if (g.cls == SEG_OPEN)
            n = count_of(stage_cycles_integral(p, k, c, m) + 0.5);
        p->dropped[k] = sat_add_u(p->dropped[k], n);
    }
}

/* The integral over cycles c .. c + m - 1 of the open stages; INFINITY when a delay or
 * rate-0 stage is in the list (every cycle then holds a post: none may be jumped). */
static double cycles_integral(const pp_pacer *p, uint64_t c, uint64_t m)
{
    double sum = 0;
    for (size_t k = 0; k < p->load.nstages; k++) {
        pp_pacer_segment g;
        int64_t s = stage_start(p, k, c);
        if (s == INT64_MAX)
            break;
        seg_make(p, k, s, &g);
        if (g.cls == SEG_CLOSED)
            return INFINITY;
        if (g.cls == SEG_OPEN)
            sum += stage_cycles_integral(p, k, c, m);
    }
    return sum;
}

/* Poisson arrivals in a list whose cycles hold fewer arrivals than one gap (a low rate
 * repeated quickly): jump the whole cycles the gap left over (*carry) spans at once instead
 * of one at a time. Returns the cycle where the next arrival falls. */
static uint64_t jump_cycles(const pp_pacer *p, uint64_t c, double *carry)
{
    if (!(cycles_integral(p, c, 1) <= *carry))
        return c;
    uint64_t left =
        ((uint64_t)INT64_MAX - (uint64_t)p->start_us) / (uint64_t)p->offset_us[p->load.nstages];
    if (c >= left)
        return left;
    uint64_t span = left - c, lo = 1, hi;
    while (lo <= span / 2 && cycles_integral(p, c, 2 * lo) <= *carry)
        lo *= 2;
    hi = lo <= span / 2 ? 2 * lo : span; /* the integral over hi cycles exceeds carry */
    if (hi == span && cycles_integral(p, c, span) <= *carry)
        return left; /* past representable time: none will come */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cycles_integral(p, c, mid) <= *carry)
            lo = mid;
        else
            hi = mid;
    }
    *carry = fmax(0, *carry - cycles_integral(p, c, lo));
    return c + lo;
}

/* The current stage has no more arrivals: move to the first later stage that has one.
 * carry: what is left of a Poisson gap. Whole cycles before cutoff (the backlog's limit;
 * INT64_MIN: none) are skipped at once and counted in dropped[]. */
static void advance(pp_pacer *p, double carry, int64_t cutoff)
{
    size_t n = p->load.nstages;
    if (p->never) {
        none_left(p);
        return;
    }
    for (;;) {
        size_t k = p->stage + 1;
        uint64_t c = p->cycle;
        if (k >= n) {
            if (!p->cycling || c == UINT64_MAX) {
                none_left(p);
                return;
            }
            k = 0;
            c++;
            int64_t s0 = stage_start(p, 0, c);
            uint64_t len = (uint64_t)p->offset_us[n];
            if (s0 != INT64_MAX && cutoff > s0 && (uint64_t)cutoff - (uint64_t)s0 >= len) {
                uint64_t m = ((uint64_t)cutoff - (uint64_t)s0) / len;
                drop_cycles(p, c, m);
                c = sat_add_u(c, m);
            }
            c = jump_cycles(p, c, &carry);
        }
        if (enter(p, k, c)) {
            none_left(p);
            return;
        }
        if (first_arrival(p, carry))
            return;
        carry = p->lambda_next;
    }
}

/* The closed loop: the next post a random delay (or, at rate 0, no time) after now. */
static void closed_next(pp_pacer *p, int64_t now, int64_t cutoff)
{
    const pp_stage *st = &p->load.stage[p->stage];
    int64_t t = now;
    if (st->kind == PP_STAGE_DELAY) {
        double span = st->to - st->from;
        double d = st->from + (span > 0 ? span * pp_rng_unit(&p->rng) : 0);
        t = after_us(now, d * 1e6);
    }
    if (t < p->stage_end_us)
        p->next_due_us = t;
    else
        advance(p, p->lambda_next, cutoff);
}

/* Move past the post just sent (at now) to the next arrival. */
static void step(pp_pacer *p, int64_t now, int64_t cutoff)
{
    if (p->seg.cls == SEG_CLOSED) {
        closed_next(p, now, cutoff);
        return;
    }
    double lam, tau = 0;
    p->tau_prev = p->tau_next;
    if (poisson(p)) {
        p->lambda_prev = p->lambda_next;
        lam = p->lambda_next + exp1(p);
        if (!(lam > p->lambda_next)) /* a gap below the precision of a huge integral */
            lam = nextafter(p->lambda_next, INFINITY);
    } else {
        p->lambda_prev = p->phase + (double)p->index;
        if (p->index == UINT64_MAX) {
            advance(p, 0, cutoff);
            return;
        }
        lam = p->phase + (double)++p->index;
    }
    p->lambda_next = lam;
    int64_t t = open_due(p, lam, p->tau_prev, p->lambda_prev, &tau);
    if (t == INT64_MAX) {
        advance(p, fmax(0, lam - p->seg.total), cutoff);
        return;
    }
    p->next_due_us = t;
    p->tau_next = tau;
}

/* The next arrival (next_due_us) is before cutoff: skip it and every other arrival of its
 * stage before cutoff, counting them in dropped[]. Open stages jump there at once: the
 * count of fixed arrivals is where the integral stands at cutoff; the count of Poisson
 * arrivals a Poisson draw of that integral's growth (the process has no memory, so the
 * next arrival is a fresh gap after cutoff). */
static void skip(pp_pacer *p, int64_t now, int64_t cutoff)
{
    size_t k = p->stage;
    const pp_pacer_segment *g = &p->seg;
    if (g->cls != SEG_OPEN) { /* the first post of a delay or rate-0 stage entered late */
        p->dropped[k] = sat_add_u(p->dropped[k], 1);
        closed_next(p, now, cutoff);
        return;
    }
    int whole = cutoff >= p->stage_end_us;
    double tc = whole ? g->d_s : span_s(p->stage_start_us, cutoff);
    double lc = whole ? g->total : seg_integral(p, g, tc), tau = 0;
    int64_t t;
    if (poisson(p)) {
        double lam = p->lambda_next;
        p->dropped[k] = sat_add_u(p->dropped[k], sat_add_u(1, poisson_draw(p, lc - lam)));
        if (whole) {
            advance(p, exp1(p), cutoff);
            return;
        }
        lam = fmax(lc, lam);
        p->tau_prev = tc;
        p->lambda_prev = lam;
        lam += exp1(p);
        p->lambda_next = lam;
        t = open_due(p, lam, tc, p->lambda_prev, &tau);
        if (t == INT64_MAX) {
            advance(p, fmax(0, lam - g->total), cutoff);
            return;
        }
    } else {
        /* The first index due at or after cutoff: ceil of the integral there, give or take
         * the rounding of the inverse and of the microseconds. */
        double ph = p->phase;
        uint64_t i = p->index, j = count_of(ceil(lc - ph));
        if (j <= i)
            j = i + 1;
        for (int n = 0; n < 4 && j > i + 1; n++) {
            if (open_due(p, ph + (double)(j - 1), 0, 0, &tau) < cutoff)
                break;
            j--;
        }
        for (int n = 0; n < 4 && j < UINT64_MAX; n++) {
            if (open_due(p, ph + (double)j, 0, 0, &tau) >= cutoff)
                break;
            j++;
        }
        p->dropped[k] = sat_add_u(p->dropped[k], j - i);
        p->index = j;
        p->lambda_next = ph + (double)j;
        t = j == UINT64_MAX ? INT64_MAX : open_due(p, ph + (double)j, 0, 0, &tau);
        if (t == INT64_MAX) {
            advance(p, fmax(0, ph + (double)j - g->total), cutoff);
            return;
        }
        p->tau_prev = tau;
        p->lambda_prev = ph + (double)j;
    }
    p->next_due_us = t;
    p->tau_next = tau;
}

/* ---- the public functions ---- */

/* A rate as the pacer uses it: NaN, negatives and infinity are 0 for a RATE stage (as fast
 * as possible; an endless rate is that) and for other rates 0; huge rates clamped. */
static double clean_rate(double v, double scale, int inf_is_zero)
{
    v *= scale;
    if (isinf(v) && v > 0)
        return inf_is_zero ? 0 : RATE_CAP;
    return v > 0 ? fmin(v, RATE_CAP) : 0;
}

void pp_pacer_init(pp_pacer *p, const pp_load *load, double scale, uint64_t seed, int64_t now_us,
                   int64_t wall_us, int64_t max_backlog_us)
{
    memset(p, 0, sizeof(*p));
    if (load)
        p->load = *load;
    size_t n = p->load.nstages < PP_STAGES_MAX ? p->load.nstages : PP_STAGES_MAX;
    p->load.nstages = n;
    if (!(scale > 0 && isfinite(scale)))
        scale = 1;
    for (size_t k = 0; k < n; k++) {
        pp_stage *st = &p->load.stage[k];
        if (st->kind == PP_STAGE_DELAY) {
            st->from /= scale;
            st->to /= scale;
        } else {
            st->from = clean_rate(st->from, scale, st->kind == PP_STAGE_RATE);
            st->to = clean_rate(st->to, scale, 0);
        }
        double us = st->duration_s * 1e6;
        int64_t d = !(us > 0) ? 0 : us >= 9223372036854775808.0 ? INT64_MAX : (int64_t)(us + 0.5);
        p->offset_us[k + 1] = sat_add(p->offset_us[k], d);
    }
    pp_diurnal *dn = &p->load.diurnal;
    dn->peak = clean_rate(dn->peak, scale, 0);
    dn->trough = clean_rate(dn->trough, scale, 0);
    if (!(dn->day_length_s > 0 && isfinite(dn->day_length_s)))
        dn->day_length_s = DAY_S;
    p->omega = TWO_PI / dn->day_length_s;
    /* The zone's offset is read once, here: a daylight saving change during a run moves
     * the curve at the next start or reload (which starts a new schedule). */
    double offset = dn->utc_offset_s;
    if (dn->tz_local) {
        time_t secs = (time_t)(wall_us / 1000000);
        struct tm tm;
        offset = localtime_r(&secs, &tm) ? (double)tm.tm_gmtoff : 0;
    }
    double tod = fmod((double)wall_us / 1e6 + offset, DAY_S);
    if (tod < 0)
        tod += DAY_S;
    double peak_at = isfinite(dn->peak_at_s) ? dn->peak_at_s : 0;
    p->phase0 = fmod(TWO_PI * (tod - peak_at) / DAY_S, TWO_PI);

    p->start_us = now_us;
    p->wall_start_us = wall_us;
    p->max_backlog_us = max_backlog_us > 0 ? max_backlog_us : 0;
    p->cycling = p->load.repeat && p->offset_us[n] > 0 && p->offset_us[n] < INT64_MAX;
    pp_rng_seed(&p->rng, seed, PACER_RNG_STREAM);

    p->never = 1;
    for (size_t k = 0; k < n; k++) {
        pp_pacer_segment g;
        seg_make(p, k, now_us, &g);
        if (g.cls != SEG_NONE)
            p->never = 0;
    }
    if (!n || enter(p, 0, 0)) {
        none_left(p);
        return;
    }
    double carry = poisson(p) ? exp1(p) : 0;
    if (!first_arrival(p, carry))
        advance(p, p->lambda_next, INT64_MIN);
}

int64_t pp_pacer_due(const pp_pacer *p)
{
    return p->next_due_us;
}

size_t pp_pacer_stage(const pp_pacer *p)
{
    return p->stage;
}

/* Where t falls: stage *k of cycle *c, which started at *s. Returns -1 once the list has
 * run out (no repeat). */
static int locate(const pp_pacer *p, int64_t t, size_t *k, uint64_t *c, int64_t *s)
{
    size_t n = p->load.nstages;
    if (!n)
        return -1;
    uint64_t off = t > p->start_us ? (uint64_t)t - (uint64_t)p->start_us : 0;
    uint64_t len = (uint64_t)p->offset_us[n];
    *c = 0;
    if (p->cycling) {
        *c = off / len;
        off %= len;
    } else if (p->offset_us[n] != INT64_MAX && off >= len) {
        return -1;
    }
    *k = n - 1;
    for (size_t i = 0; i < n; i++)
        if (off < (uint64_t)p->offset_us[i + 1]) {
            *k = i;
            break;
        }
    *s = stage_start(p, *k, *c);
    return 0;
}

int pp_pacer_span_at(const pp_pacer *p, int64_t t_us, size_t *stage, int64_t *start_us,
                     int64_t *end_us)
{
    uint64_t c;
    if (locate(p, t_us, stage, &c, start_us))
        return -1;
    size_t k = *stage, n = p->load.nstages;
    if (p->offset_us[k + 1] == INT64_MAX) {
        *end_us = INT64_MAX;
        return 0;
    }
    uint64_t off = sat_mul_u(c, (uint64_t)p->offset_us[n]);
    *end_us = at_offset(p->start_us, sat_add_u(off, (uint64_t)p->offset_us[k + 1]));
    return 0;
}

size_t pp_pacer_stage_at(const pp_pacer *p, int64_t t_us)
{
    size_t k;
    uint64_t c;
    int64_t s;
    if (locate(p, t_us, &k, &c, &s))
        return p->load.nstages ? p->load.nstages - 1 : 0;
    return k;
}

int pp_pacer_over(const pp_pacer *p, int64_t now_us)
{
    size_t n = p->load.nstages;
    if (!n)
        return 1;
    if (p->cycling || p->offset_us[n] == INT64_MAX)
        return 0;
    return now_us >= at_offset(p->start_us, (uint64_t)p->offset_us[n]);
}

void pp_pacer_posted(pp_pacer *p, int64_t now_us)
{
    if (p->next_due_us == INT64_MAX)
        return;
    int64_t cutoff = INT64_MIN;
    if (p->max_backlog_us > 0)
        cutoff = now_us < INT64_MIN + p->max_backlog_us ? INT64_MIN : now_us - p->max_backlog_us;
    step(p, now_us, cutoff);
    /* One skip reaches cutoff but for the rounding of a microsecond; the bound only keeps
     * absurd inputs from looping. */
    for (int i = 0; i < 64 && p->next_due_us < cutoff; i++)
        skip(p, now_us, cutoff);
}

double pp_pacer_rate_at(const pp_pacer *p, int64_t t_us)
{
    size_t k;
    uint64_t c;
    int64_t s;
    if (locate(p, t_us, &k, &c, &s))
        return 0;
    pp_pacer_segment g;
    seg_make(p, k, s, &g);
    if (g.cls == SEG_CLOSED && g.kind == PP_STAGE_RATE)
        return NAN;
    return seg_rate(p, &g, span_s(s, t_us));
}

double pp_pacer_expected(const pp_pacer *p, int64_t t0_us, int64_t t1_us)
{
    size_t n = p->load.nstages;
    if (t0_us < p->start_us)
        t0_us = p->start_us;
    if (!(t1_us > t0_us) || !n)
        return 0;
    double sum = 0;
    int64_t pos = t0_us;
    while (pos < t1_us) {
        size_t k;
        uint64_t c;
        int64_t s;
        if (locate(p, pos, &k, &c, &s))
            break;
        uint64_t len = (uint64_t)p->offset_us[n];
        int64_t s0 = p->cycling ? stage_start(p, 0, c) : INT64_MAX;
        if (pos == s0 && (uint64_t)t1_us - (uint64_t)s0 >= len) {
            /* Whole cycles at once: a long interval costs no more than a short one. */
            uint64_t m = ((uint64_t)t1_us - (uint64_t)s) / len;
            for (size_t i = 0; i < n; i++)
                sum += stage_cycles_integral(p, i, c, m);
            if (isnan(sum))
                return NAN;
            pos = stage_start(p, 0, sat_add_u(c, m));
            continue;
        }
        pp_pacer_segment g;
        seg_make(p, k, s, &g);
        int64_t end = g.d_us == INT64_MAX ? INT64_MAX : sat_add(s, g.d_us);
        int64_t stop = end < t1_us ? end : t1_us;
        double v;
        if (g.cls == SEG_CLOSED && g.kind == PP_STAGE_RATE)
            return NAN;
        else if (g.cls == SEG_CLOSED)
            v = g.mean > 0 ? span_s(pos, stop) / g.mean : NAN;
        else
            v = seg_integral(p, &g, span_s(s, stop)) - seg_integral(p, &g, span_s(s, pos));
        if (isnan(v))
            return NAN;
        sum += v;
        if (stop <= pos || stop == INT64_MAX)
            break;
        pos = stop;
    }
    return sum;
}
