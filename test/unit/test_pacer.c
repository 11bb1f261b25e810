/* Unit tests of the schedule (stages, ramps, Poisson and diurnal arrivals, delays, the
 * shard's scale, the backlog, saturation) and of the latency histogram. Expected values
 * come from the definitions in pp_load.h and pp_pacer.h, computed here on their own. */
#include "unit.h"

#include <math.h>
#include <time.h>

#include "pp_pacer.h"
#include "pp_rng.h"
#include "pp_hist.h"

#define TWO_PI 6.283185307179586
/* Kolmogorov-Smirnov at alpha = 0.001: the statistic of n draws from the distribution
 * exceeds 1.949 / sqrt(n) with probability 0.001 (the asymptotic critical value). */
#define KS_CRIT(n) (1.949 / sqrt((double)(n)))
#define KS_N 20000

static uint64_t g_seed; /* base seed of the property tests: PACER_SEED=N replays a run */
/* The statistical tests run fixed seeds, so that they pass or fail the same way every
 * time; PACER_KS_SEED=N adds one more. */
static uint64_t g_ks_seeds[6] = {1, 2, 3, 4, 5, 0};
static size_t g_nks = 5;

#define SEC 1000000LL

static pp_load mk(const pp_stage *st, size_t n, int repeat, pp_arrivals arr)
{
    pp_load l;
    memset(&l, 0, sizeof(l));
    memcpy(l.stage, st, n * sizeof(*st));
    l.nstages = n;
    l.repeat = repeat;
    l.arrivals = arr;
    l.diurnal.day_length_s = 86400;
    return l;
}

/* Post whenever due, as the main loop does with a pipeline that never lags: the intended
 * times before until, at most max of them. */
static size_t drive(pp_pacer *p, int64_t until, int64_t *t, size_t max)
{
    size_t n = 0;
    while (n < max) {
        int64_t due = pp_pacer_due(p);
        if (due == INT64_MAX || due >= until)
            break;
        if (n && due < t[n - 1])
            fail_msg("arrival %zu at %lld goes back before %lld", n, (long long)due,
                     (long long)t[n - 1]);
        t[n++] = due;
        pp_pacer_posted(p, due);
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The Kolmogorov-Smirnov statistic of x (sorted here) against Exp(1). */
static double ks_exp1(double *x, size_t n)
{
    qsort(x, n, sizeof(*x), cmp_double);
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double f = -expm1(-x[i]);
        d = fmax(d, fmax(f - (double)i / (double)n, (double)(i + 1) / (double)n - f));
    }
    return d;
}

/* A value drawn log-uniformly in [lo, hi]. */
static double draw(pp_rng *r, double lo, double hi)
{
    return lo * pow(hi / lo, pp_rng_unit(r));
}

/* ---- stages ---- */

static void stages__random_lists__posts_inside_their_stage_counts_match(void **state)
{
    (void)state;
    static int64_t t[700000];
    for (int trial = 0; trial < 60; trial++) {
        uint64_t seed = g_seed + (uint64_t)trial;
        pp_rng r;
        pp_rng_seed(&r, seed, 7);
        pp_stage st[8];
        size_t n = 1 + pp_rng_below(&r, 8);
        int64_t start = (int64_t)pp_rng_below(&r, 2000000000000000ull) - 1000000000000000ll;
        int64_t bound[9];
        double want[8];
        bound[0] = start;
        for (size_t k = 0; k < n; k++) {
            memset(&st[k], 0, sizeof(st[k]));
            int64_t ms = 50 + (int64_t)pp_rng_below(&r, 20000);
            st[k].duration_s = (double)ms / 1000;
            bound[k + 1] = bound[k] + ms * 1000;
            switch (pp_rng_below(&r, 3)) {
            case 0:
                st[k].kind = PP_STAGE_RATE;
                st[k].from = draw(&r, 0.5, 2000);
                want[k] = st[k].from * st[k].duration_s;
                break;
            case 1:
                st[k].kind = PP_STAGE_RAMP;
                st[k].from = pp_rng_below(&r, 4) ? draw(&r, 0.5, 2000) : 0;
                st[k].to = draw(&r, 0.5, 2000);
                want[k] = (st[k].from + st[k].to) / 2 * st[k].duration_s;
                break;
            default: st[k].kind = PP_STAGE_PAUSE; want[k] = 0;
            }
        }
        pp_load l = mk(st, n, 0, PP_ARRIVALS_FIXED);
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, seed, start, 0, 0);
        size_t count[8] = {0}, m = 0;
        double base[9] = {0}; /* the integral of the rate over the stages before */
        for (size_t k = 0; k < n; k++)
            base[k + 1] = base[k] + want[k];
        while (m < sizeof(t) / sizeof(t[0])) {
            int64_t due = pp_pacer_due(&p);
            if (due == INT64_MAX)
                break;
            size_t k = 0;
            while (k < n && !(due >= bound[k] && due < bound[k + 1]))
                k++;
            if (k == n)
                fail_msg("seed %llu: arrival at %lld outside every stage [%lld, %lld)",
                         (unsigned long long)seed, (long long)due, (long long)start,
                         (long long)bound[n]);
            if (pp_pacer_stage(&p) != k || pp_pacer_stage_at(&p, due) != k)
                fail_msg("seed %llu: arrival at %lld is in stage %zu, pacer says %zu/%zu",
                         (unsigned long long)seed, (long long)due, k, pp_pacer_stage(&p),
                         pp_pacer_stage_at(&p, due));
            /* Fixed arrival i of the run sits where the integral of the rate from the
             * schedule's start (over every stage) reaches i, rounded down to a
             * microsecond: no stage adds a post of its own at its start. */
            if (st[k].kind != PP_STAGE_PAUSE) {
                double a = st[k].from, b = st[k].kind == PP_STAGE_RAMP ? st[k].to : a;
                double d = st[k].duration_s, i = (double)m;
                double lo = (double)(due - bound[k]) / 1e6, hi = lo + 1e-6;
                double at_lo = base[k] + a * lo + (b - a) / (2 * d) * lo * lo;
                double at_hi = base[k] + a * hi + (b - a) / (2 * d) * hi * hi;
                if (!(at_lo <= i + 1e-6 * (1 + i) && at_hi >= i - 1e-6 * (1 + i)))
                    fail_msg("seed %llu: arrival %.0f of stage %zu at %.6f s, where the "
                             "integral is %.9f",
                             (unsigned long long)seed, i, k, lo, at_lo);
            }
            count[k]++;
            t[m++] = due;
            pp_pacer_posted(&p, due);
        }
        for (size_t k = 0; k < n; k++) {
            if (st[k].kind == PP_STAGE_PAUSE ? count[k] != 0 : fabs((double)count[k] - want[k]) > 1)
                fail_msg("seed %llu: stage %zu (kind %d) holds %zu arrivals, want %.3f +- 1",
                         (unsigned long long)seed, k, st[k].kind, count[k], want[k]);
        }
        /* The run's first post at the start of its first stage that sends; as many posts
         * as the whole integral's integers. */
        size_t k0 = 0;
        while (k0 < n && st[k0].kind == PP_STAGE_PAUSE)
            k0++;
        if (m && t[0] != bound[k0])
            fail_msg("seed %llu: the first post at %lld, not at the first stage that sends "
                     "%lld",
                     (unsigned long long)seed, (long long)t[0], (long long)bound[k0]);
        if (fabs((double)m - ceil(base[n])) > 1)
            fail_msg("seed %llu: %zu posts, the integral is %.3f", (unsigned long long)seed, m,
                     base[n]);
        /* The run is over exactly at the end of the last stage. */
        assert_true(pp_pacer_due(&p) == INT64_MAX);
        assert_int_equal(pp_pacer_over(&p, bound[n] - 1), 0);
        assert_int_equal(pp_pacer_over(&p, bound[n]), 1);
        assert_int_equal(pp_pacer_stage_at(&p, bound[n] + 5), n - 1);
        assert_true(pp_pacer_rate_at(&p, bound[n]) == 0);
    }
}

static void stages__repeat__the_list_cycles_and_never_ends(void **state)
{
    (void)state;
    static const pp_stage st[] = {
        {PP_STAGE_RATE, 100, 0, 1}, {PP_STAGE_PAUSE, 0, 0, 0.5}, {PP_STAGE_RAMP, 0, 200, 1}};
    pp_load l = mk(st, 3, 1, PP_ARRIVALS_FIXED);
    pp_pacer p;
    int64_t t0 = 777;
    pp_pacer_init(&p, &l, 1.0, 1, t0, 0, 0);
    static int64_t t[10000];
    size_t n = drive(&p, t0 + 50 * SEC, t, 10000); /* 20 cycles of 2.5 s */
    size_t count[20][3] = {{0}};
    for (size_t i = 0; i < n; i++) {
        int64_t off = t[i] - t0;
        size_t c = (size_t)(off / 2500000), in = (size_t)(off % 2500000);
        size_t k = in < 1000000 ? 0 : in < 1500000 ? 1 : 2;
        count[c][k]++;
        assert_int_equal(pp_pacer_stage_at(&p, t[i]), k);
    }
    for (size_t c = 0; c < 20; c++)
        if (count[c][0] != 100 || count[c][1] != 0 || count[c][2] != 100)
            fail_msg("cycle %zu: %zu, %zu, %zu arrivals; want 100, 0, 100", c, count[c][0],
                     count[c][1], count[c][2]);
    assert_int_equal(pp_pacer_over(&p, INT64_MAX - 1), 0);
    assert_true(pp_pacer_due(&p) == t0 + 50 * SEC);
}

static void stages__forever__never_over(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 10, 0, 1}, {PP_STAGE_RATE, 20, 0, INFINITY}};
    pp_load l = mk(st, 2, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    static int64_t t[3000];
    assert_int_equal(drive(&p, 100 * SEC, t, 3000), 10 + 99 * 20);
    assert_int_equal(pp_pacer_over(&p, INT64_MAX), 0);
    assert_int_equal(pp_pacer_stage_at(&p, 50 * SEC), 1);
}

/* ---- Poisson arrivals ---- */

/* n gaps of a Poisson stage at rate r, in units of 1/r: Exp(1) if the process is right. */
static void poisson_gaps(uint64_t seed, pp_arrivals arr, double *x, size_t n)
{
    static const pp_stage st[] = {{PP_STAGE_RATE, 100, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, arr);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, seed, 0, 0, 0);
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t due = pp_pacer_due(&p);
        x[i] = (double)(due - prev) / 1e6 * 100;
        prev = due;
        pp_pacer_posted(&p, due);
    }
}

static void poisson__gaps__exponential_by_kolmogorov_smirnov(void **state)
{
    (void)state;
    static double x[KS_N];
    for (size_t s = 0; s < g_nks; s++) {
        poisson_gaps(g_ks_seeds[s], PP_ARRIVALS_POISSON, x, KS_N);
        double d = ks_exp1(x, KS_N);
        if (d >= KS_CRIT(KS_N))
            fail_msg("seed %llu: KS statistic %.5f >= %.5f (alpha 0.001, n %d)",
                     (unsigned long long)g_ks_seeds[s], d, KS_CRIT(KS_N), KS_N);
    }
    /* The test can fail: evenly spaced arrivals are far from exponential. */
    poisson_gaps(1, PP_ARRIVALS_FIXED, x, KS_N);
    assert_true(ks_exp1(x, KS_N) > 0.5);
}

/* Time rescaling: for a Poisson process of rate r(t), the increments of the integral
 * Lambda(t_i) - Lambda(t_{i-1}) are Exp(1). lambda is the integral, written here. */
static void rescaled_ks(const char *what, const pp_load *l, int64_t wall_us,
                        double (*lambda)(double), size_t min_n)
{
    static double x[60000];
    for (size_t s = 0; s < g_nks; s++) {
        pp_pacer p;
        pp_pacer_init(&p, l, 1.0, g_ks_seeds[s], 0, wall_us, 0);
        size_t n = 0;
        double prev = 0;
        for (;;) {
            int64_t due = pp_pacer_due(&p);
            if (due == INT64_MAX || n == sizeof(x) / sizeof(x[0]))
                break;
            double now = lambda((double)due / 1e6);
            x[n++] = now - prev;
            prev = now;
            pp_pacer_posted(&p, due);
        }
        if (n < min_n)
            fail_msg("%s, seed %llu: %zu arrivals, want at least %zu", what,
                     (unsigned long long)g_ks_seeds[s], n, min_n);
        double d = ks_exp1(x, n);
        if (d >= KS_CRIT(n))
            fail_msg("%s, seed %llu: KS statistic %.5f >= %.5f (alpha 0.001, n %zu)", what,
                     (unsigned long long)g_ks_seeds[s], d, KS_CRIT(n), n);
    }
}

static double ramp_up(double t)
{
    return t <= 80 ? 5 * t + (500.0 - 5) / (2 * 80) * t * t : 20200;
}

static double ramp_down(double t)
{
    return t <= 80 ? 500 * t + (5.0 - 500) / (2 * 80) * t * t : 20200;
}

static void poisson__ramps__rescaled_gaps_exponential(void **state)
{
    (void)state;
    static const pp_stage up[] = {{PP_STAGE_RAMP, 5, 500, 80}};
    static const pp_stage down[] = {{PP_STAGE_RAMP, 500, 5, 80}};
    pp_load l = mk(up, 1, 0, PP_ARRIVALS_POISSON);
    rescaled_ks("ramp 5-500/s:80s", &l, 0, ramp_up, 19000);
    l = mk(down, 1, 0, PP_ARRIVALS_POISSON);
    rescaled_ks("ramp 500-5/s:80s", &l, 0, ramp_down, 19000);
}

/* The daily curve of the diurnal tests below: peak 300/s, trough 0 (the rate touches 0),
 * peak at 06:00 UTC, the run starting at 03:00 UTC, a day of 200 s. */
#define DN_WALL ((1704067200LL + 3 * 3600) * SEC) /* 2024-01-01 03:00:00 UTC */
static double dn_lambda(double t)
{
    /* rate(t) = 150 + 150 cos(phi(t)), phi = 2 pi (tod(t) - 06:00) / 1 day, tod advancing
     * 86400/200 s per second from 03:00. */
    double w = TWO_PI / 200, phi0 = TWO_PI * (3.0 * 3600 - 6.0 * 3600) / 86400;
    return 150 * t + 150 / w * (sin(phi0 + w * t) - sin(phi0));
}

static void poisson__diurnal__rescaled_gaps_exponential(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DIURNAL, 0, 0, 140}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_POISSON);
    l.diurnal = (pp_diurnal){.peak = 300, .trough = 0, .peak_at_s = 6 * 3600, .day_length_s = 200};
    rescaled_ks("diurnal", &l, DN_WALL, dn_lambda, 19000);
}

static void poisson__seeds__same_times_or_other_times(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RAMP, 10, 1000, 10},
                                  {PP_STAGE_DELAY, 0.001, 0.01, 1},
                                  {PP_STAGE_RATE, 300, 0, 5}};
    pp_load l = mk(st, 3, 1, PP_ARRIVALS_POISSON);
    pp_pacer a, b, c;
    pp_pacer_init(&a, &l, 1.0, g_seed, 5, 0, 0);
    pp_pacer_init(&b, &l, 1.0, g_seed, 5, 0, 0);
    pp_pacer_init(&c, &l, 1.0, g_seed + 1, 5, 0, 0);
    size_t differ = 0;
    for (int i = 0; i < 30000; i++) {
        if (pp_pacer_due(&a) != pp_pacer_due(&b))
            fail_msg("seed %llu: arrival %d differs between two runs", (unsigned long long)g_seed,
                     i);
        differ += pp_pacer_due(&a) != pp_pacer_due(&c);
        pp_pacer_posted(&a, pp_pacer_due(&a));
        pp_pacer_posted(&b, pp_pacer_due(&b));
        pp_pacer_posted(&c, pp_pacer_due(&c));
    }
    if (differ < 29000)
        fail_msg("seed %llu: only %zu of 30000 arrivals differ with another seed",
                 (unsigned long long)g_seed, differ);
}

/* ---- the daily curve ---- */

/* rate(t) of pp_load.h, from the time of day in the zone. */
static double curve(double peak, double trough, double peak_at, double tod)
{
    return trough + (peak - trough) * (1 + cos(TWO_PI * (tod - peak_at) / 86400)) / 2;
}

static void diurnal__curve__peak_trough_and_between(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DIURNAL, 0, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    l.diurnal =
        (pp_diurnal){.peak = 2000, .trough = 200, .peak_at_s = 19 * 3600, .day_length_s = 86400};
    const int64_t midnight = 1704067200LL * SEC, t0 = 123 * SEC;
    static const struct {
        int64_t wall;   /* the wall clock at start */
        int32_t offset; /* the zone */
        double day;     /* day_length */
        double at_s;    /* seconds after start */
        double want;
    } cases[] = {
        {0, 0, 86400, 19 * 3600, 2000},             /* the peak at 19:00 UTC */
        {0, 0, 86400, 7 * 3600, 200},               /* the trough 12 h later */
        {0, 0, 86400, 13 * 3600, 1100},             /* 6 h before: half way */
        {0, 0, 86400, 1 * 3600, 1100},              /* 6 h after */
        {0, 0, 86400, 43 * 3600, 2000},             /* the next day */
        {0, 7200, 86400, 17 * 3600, 2000},          /* +02:00: 19:00 there is 17:00 UTC */
        {0, -8 * 3600, 86400, 27 * 3600, 2000},     /* -08:00: 03:00 UTC the next day */
        {630 * 60, 0, 86400, 8.5 * 3600, 2000},     /* started at 10:30 */
        {0, 0, 3600, 19.0 / 24 * 3600, 2000},       /* a day of an hour: peak at 47.5 min */
        {0, 0, 3600, 19.0 / 24 * 3600 - 1800, 200}, /* its trough half an hour before */
        {0, 0, 3600, 19.0 / 24 * 3600 + 900, 1100}, /* a quarter day after */
        {0, 0, 60, 19.0 / 24 * 60 + 60, 2000},      /* a day of a minute, the second day */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        l.diurnal.utc_offset_s = cases[i].offset;
        l.diurnal.day_length_s = cases[i].day;
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, 1, t0, midnight + cases[i].wall * SEC, 0);
        int64_t at = t0 + (int64_t)llround(cases[i].at_s * 1e6);
        double got = pp_pacer_rate_at(&p, at);
        if (fabs(got - cases[i].want) > 1e-6 * cases[i].want)
            fail_msg("case %zu: rate %.9g, want %g", i, got, cases[i].want);
    }
    /* Anywhere in the day: the formula of pp_load.h, with the compressed time of day. */
    pp_rng r;
    pp_rng_seed(&r, g_seed, 3);
    for (int i = 0; i < 10000; i++) {
        double day = draw(&r, 1, 86400), peak_at = 86400 * pp_rng_unit(&r);
        double wall_s = 1.7e9 + 1e8 * pp_rng_unit(&r), at_s = 1e6 * pp_rng_unit(&r);
        int32_t off = (int32_t)pp_rng_below(&r, 36 * 3600 + 1) - 18 * 3600;
        l.diurnal = (pp_diurnal){.peak = 900,
                                 .trough = 30,
                                 .peak_at_s = peak_at,
                                 .utc_offset_s = off,
                                 .day_length_s = day};
        pp_pacer p;
        int64_t wall = (int64_t)(wall_s * 1e6);
        pp_pacer_init(&p, &l, 1.0, 1, 0, wall, 0);
        int64_t at = (int64_t)(at_s * 1e6);
        double tod = fmod((double)wall / 1e6 + off + (double)at / 1e6 * 86400 / day, 86400);
        double want = curve(900, 30, peak_at, tod), got = pp_pacer_rate_at(&p, at);
        /* The phase of a compressed day after 10^6 s is known to about 1e-9 of a turn. */
        if (fabs(got - want) > 1e-3)
            fail_msg("seed %llu case %d: rate %.9g, want %.9g", (unsigned long long)g_seed, i, got,
                     want);
    }
}

static void diurnal__local_zone__from_tz(void **state)
{
    (void)state;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", "XYZ-3", 1); /* POSIX: three hours east of UTC */
    tzset();
    static const pp_stage st[] = {{PP_STAGE_DIURNAL, 0, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    l.diurnal = (pp_diurnal){.peak = 2000,
                             .trough = 200,
                             .peak_at_s = 19 * 3600,
                             .tz_local = 1,
                             .utc_offset_s = 0,
                             .day_length_s = 86400};
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 1704067200LL * SEC, 0);
    double at16 = pp_pacer_rate_at(&p, 16 * 3600 * SEC),
           at19 = pp_pacer_rate_at(&p, 19 * 3600 * SEC);
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    assert_true(fabs(at16 - 2000) < 1e-6); /* 19:00 at UTC+3 is 16:00 UTC */
    assert_true(fabs(at19 - curve(2000, 200, 19 * 3600, 22 * 3600)) < 1e-6);
}

static void diurnal__compressed_day__counts_are_the_integral(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DIURNAL, 0, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    l.diurnal = (pp_diurnal){.peak = 500, .trough = 50, .peak_at_s = 12 * 3600, .day_length_s = 60};
    pp_pacer p;
    int64_t t0 = 42;
    pp_pacer_init(&p, &l, 1.0, 1, t0, 1704067200LL * SEC, 0); /* starts at midnight */
    static int64_t t[40000];
    size_t n = drive(&p, t0 + 120 * SEC, t, 40000);
    /* Over whole days, the mean rate times the length: 275/s for 120 s. */
    assert_true(n >= 32999 && n <= 33001);
    /* Over [0, x): the integral of the curve, which starts at its trough at midnight:
     * 275 x - 225 * 60 / (2 pi) sin(2 pi x / 60). Fixed arrivals sit where it crosses
     * 0, 1, 2, ...: ceil of it. */
    pp_rng r;
    pp_rng_seed(&r, g_seed, 4);
    for (int i = 0; i < 2000; i++) {
        double x = 120 * pp_rng_unit(&r);
        double want = 275 * x - 225 * 60 / TWO_PI * sin(TWO_PI * x / 60);
        size_t got = 0;
        while (got < n && t[got] < t0 + (int64_t)(x * 1e6))
            got++;
        if (fabs((double)got - want) > 1.5)
            fail_msg("seed %llu: %zu arrivals before %.6f s, want %.3f", (unsigned long long)g_seed,
                     got, x, want);
    }
    /* Denser at the peak (30 s) than at the trough (0 s, 60 s). */
    assert_true(pp_pacer_expected(&p, t0 + 29 * SEC, t0 + 31 * SEC) > 990);
    assert_true(pp_pacer_expected(&p, t0 + 59 * SEC, t0 + 61 * SEC) < 110);
}

/* ---- delays ---- */

static void delay__uniform__within_bounds_and_mean(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DELAY, 0.5, 1.5, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 9, 0, 0, 0);
    assert_int_equal(pp_pacer_due(&p), 0); /* the first post at once */
    int64_t now = 0;
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        pp_pacer_posted(&p, now);
        int64_t d = pp_pacer_due(&p) - now;
        assert_true(d >= 500000 && d <= 1500000);
        sum += (double)d;
        now = pp_pacer_due(&p) + (i % 7) * 1000; /* sent a little late: the delay follows */
    }
    double mean = sum / 100000 / 1e6;
    assert_true(mean > 0.99 && mean < 1.01);
    assert_true(fabs(pp_pacer_rate_at(&p, now) - 1) < 1e-12);
    assert_true(fabs(pp_pacer_expected(&p, 0, 10 * SEC) - 10) < 1e-9);
}

static void delay__between_stages__starts_with_a_post_and_ends_on_time(void **state)
{
    (void)state;
    static const pp_stage st[] = {
        {PP_STAGE_RATE, 100, 0, 1}, {PP_STAGE_DELAY, 0.2, 0.4, 3}, {PP_STAGE_RATE, 100, 0, 1}};
    pp_load l = mk(st, 3, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, g_seed, 0, 0, 0);
    static int64_t t[1000];
    size_t n = drive(&p, INT64_MAX, t, 1000);
    size_t i = 100;
    assert_true(t[99] < SEC && t[100] == SEC);
    for (i = 101; i < n && t[i] < 4 * SEC; i++) {
        int64_t gap = t[i] - t[i - 1];
        if (gap < 200000 || gap > 400000)
            fail_msg("seed %llu: a delay of %lld us", (unsigned long long)g_seed, (long long)gap);
    }
    assert_true(t[i] == 4 * SEC && n - i == 100);
    assert_true(t[i - 1] + 400000 >= 4 * SEC); /* the last delay reached past the end */
}

static void delay__same_seed__same_delays(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DELAY, 0, 2, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer a, b;
    pp_pacer_init(&a, &l, 1.0, 5, 0, 0, 0);
    pp_pacer_init(&b, &l, 1.0, 5, 0, 0, 0);
    for (int i = 0; i < 100; i++) {
        pp_pacer_posted(&a, 0);
        pp_pacer_posted(&b, 0);
        assert_int_equal(pp_pacer_due(&a), pp_pacer_due(&b));
    }
}

/* ---- the shard's scale ---- */

static void scale__third__a_third_of_the_arrivals(void **state)
{
    (void)state;
    static const pp_stage st[] = {
        {PP_STAGE_RATE, 300, 0, 10}, {PP_STAGE_RAMP, 0, 600, 10}, {PP_STAGE_DELAY, 0.3, 0.3, 3}};
    pp_load l = mk(st, 3, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0 / 3, 1, 0, 0, 0);
    static int64_t t[5000];
    size_t n = drive(&p, INT64_MAX, t, 5000);
    size_t a = 0, b = 0, c = 0;
    for (size_t i = 0; i < n; i++)
        (*(t[i] < 10 * SEC ? &a : t[i] < 20 * SEC ? &b : &c))++;
    assert_true(a >= 999 && a <= 1001); /* 100/s for 10 s */
    assert_true(b >= 999 && b <= 1001); /* 0 to 200/s for 10 s */
    assert_true(c == 4);                /* delays of 0.9 s in 3 s: 0, 0.9, 1.8, 2.7 */
    assert_true(fabs(pp_pacer_rate_at(&p, 5 * SEC) - 100) < 1e-9);
    assert_true(fabs(pp_pacer_expected(&p, 0, 20 * SEC) - 2000) < 1e-6);
    /* Poisson: a third, within five standard deviations. */
    l.arrivals = PP_ARRIVALS_POISSON;
    l.nstages = 1;
    l.stage[0].duration_s = 100;
    pp_pacer_init(&p, &l, 1.0 / 3, g_seed, 0, 0, 0);
    size_t m = 0;
    while (pp_pacer_due(&p) != INT64_MAX) {
        pp_pacer_posted(&p, pp_pacer_due(&p));
        m++;
    }
    if (fabs((double)m - 10000) > 5 * 100)
        fail_msg("seed %llu: %zu Poisson arrivals at 100/s for 100 s", (unsigned long long)g_seed,
                 m);
    /* The daily curve is scaled too. */
    static const pp_stage dn[] = {{PP_STAGE_DIURNAL, 0, 0, INFINITY}};
    l = mk(dn, 1, 0, PP_ARRIVALS_FIXED);
    l.diurnal = (pp_diurnal){.peak = 3000, .trough = 300, .peak_at_s = 0, .day_length_s = 86400};
    pp_pacer_init(&p, &l, 0.25, 1, 0, 1704067200LL * SEC, 0);
    assert_true(fabs(pp_pacer_rate_at(&p, 0) - 750) < 1e-6);
}

/* ---- the backlog ---- */

static void backlog__stall__late_arrivals_skipped_and_counted(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 100, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 1 * SEC);
    pp_pacer_posted(&p, 0);
    assert_int_equal(pp_pacer_due(&p), 10000);
    /* The post due at 10 ms goes at 5 s: those due before 4 s (20 ms .. 3.99 s) are
     * skipped, the one at 4 s is next. */
    pp_pacer_posted(&p, 5 * SEC);
    assert_int_equal(pp_pacer_due(&p), 4 * SEC);
    assert_int_equal(p.dropped[0], 398);
    /* A little late (within the backlog): nothing skipped, the schedule catches up. */
    pp_pacer_posted(&p, 4 * SEC + 500000);
    assert_int_equal(pp_pacer_due(&p), 4 * SEC + 10000);
    assert_int_equal(p.dropped[0], 398);
    /* 0: never skip. */
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    pp_pacer_posted(&p, 0);
    pp_pacer_posted(&p, 5 * SEC);
    assert_int_equal(pp_pacer_due(&p), 20000);
    assert_int_equal(p.dropped[0], 0);
}

/* Random stalls: every arrival is either sent or counted as dropped, and after a post the
 * next is never more than the backlog behind. */
static void backlog__random_stalls__sent_plus_dropped_is_the_schedule(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 200, 0, 20},
                                  {PP_STAGE_RAMP, 200, 1000, 20},
                                  {PP_STAGE_PAUSE, 0, 0, 3},
                                  {PP_STAGE_RATE, 50, 0, 17}};
    static const double want[] = {4000, 12000, 0, 850};
    for (int arr = 0; arr < 2; arr++)
        for (int trial = 0; trial < 20; trial++) {
            uint64_t seed = g_seed + (uint64_t)trial;
            pp_load l = mk(st, 4, 0, arr ? PP_ARRIVALS_POISSON : PP_ARRIVALS_FIXED);
            pp_pacer p;
            int64_t backlog = 100000 + (int64_t)(seed % 2000000);
            pp_pacer_init(&p, &l, 1.0, seed, 0, 0, backlog);
            pp_rng r;
            pp_rng_seed(&r, seed, 5);
            uint64_t sent[4] = {0};
            int64_t now = 0;
            while (pp_pacer_due(&p) != INT64_MAX) {
                int64_t due = pp_pacer_due(&p);
                if (now < due)
                    now = due;
                if (pp_rng_below(&r, 2000) == 0)
                    now += (int64_t)pp_rng_below(&r, 8 * SEC); /* a stall */
                sent[pp_pacer_stage(&p)]++;
                pp_pacer_posted(&p, now);
                if (pp_pacer_due(&p) < now - backlog)
                    fail_msg("seed %llu: next due %lld, before now - backlog",
                             (unsigned long long)seed, (long long)pp_pacer_due(&p));
            }
            for (size_t k = 0; k < 4; k++) {
                double total = (double)(sent[k] + p.dropped[k]);
                double tol = arr ? 5 * sqrt(want[k]) + 1 : 1; /* Poisson: 5 sigma */
                if (fabs(total - want[k]) > tol)
                    fail_msg("seed %llu %s: stage %zu sent %llu + dropped %llu, want %.0f",
                             (unsigned long long)seed, arr ? "poisson" : "fixed", k,
                             (unsigned long long)sent[k], (unsigned long long)p.dropped[k],
                             want[k]);
            }
        }
}

/* Poisson arrivals skipped in a stall are counted by a Poisson draw: over many seeds the
 * count of those in (t1, 10 s) has the mean and the variance of a Poisson count of mean
 * 100 (10 - t1), t1 the second arrival (Gamma(2, 100): mean 0.02 s, variance 2e-4 s^2). */
static void backlog__poisson_skips__counted_as_a_poisson_count(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 100, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_POISSON);
    const int n = 4000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, (uint64_t)i + 1, 0, 0, SEC);
        pp_pacer_posted(&p, pp_pacer_due(&p));
        double t1 = (double)pp_pacer_due(&p) / 1e6;
        pp_pacer_posted(&p, 11 * SEC);
        double d = (double)p.dropped[0] - 100 * (10 - t1); /* mean 0, variance 1000 - 2 */
        sum += d;
        sum2 += d * d;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* Five standard errors: sqrt(1000 / n) for the mean, 1000 sqrt(2 / n) for the
     * variance. */
    if (fabs(mean) > 5 * sqrt(1000.0 / n) || fabs(var - 998) > 5 * 1000 * sqrt(2.0 / n))
        fail_msg("dropped - 100 (10 - t1): mean %.3f, variance %.1f; want 0 and 998", mean, var);
}

static void backlog__whole_cycles__skipped_at_once(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 100, 0, 1}, {PP_STAGE_PAUSE, 0, 0, 1}};
    pp_load l = mk(st, 2, 1, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, SEC);
    pp_pacer_posted(&p, 0);
    /* The post due at 10 ms sent at 100.5 s: every other arrival before 99.5 s is skipped,
     * 50 cycles of 100 less the two sent; the next is the start of cycle 50. */
    pp_pacer_posted(&p, 100500000);
    assert_int_equal(pp_pacer_due(&p), 100 * SEC);
    assert_int_equal(p.dropped[0], 4998);
    assert_int_equal(p.dropped[1], 0);
    /* A stall of 3e12 s (a million cycles of a millisecond) costs no time either. */
    static const pp_stage fast[] = {{PP_STAGE_RATE, 1000, 0, 0.001}, {PP_STAGE_PAUSE, 0, 0, 0.001}};
    l = mk(fast, 2, 1, PP_ARRIVALS_FIXED);
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, SEC);
    pp_pacer_posted(&p, 0); /* the next is the start of cycle 1 */
    pp_pacer_posted(&p, 3000000 * SEC + SEC - 500);
    assert_int_equal(pp_pacer_due(&p), 3000000 * SEC);
    assert_int_equal(p.dropped[0], 1500000000 - 2);
    l.arrivals = PP_ARRIVALS_POISSON;
    pp_pacer_init(&p, &l, 1.0, g_seed, 0, 0, SEC);
    pp_pacer_posted(&p, pp_pacer_due(&p));
    pp_pacer_posted(&p, 3000000 * SEC + SEC);
    assert_true(pp_pacer_due(&p) >= 3000000 * SEC);
    if (fabs((double)p.dropped[0] - 1.5e9) > 5 * sqrt(1.5e9))
        fail_msg("seed %llu: %llu Poisson arrivals dropped, want 1.5e9", (unsigned long long)g_seed,
                 (unsigned long long)p.dropped[0]);
}

static void backlog__delay_stage_entered_late__its_first_post_dropped(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 100, 0, 1}, {PP_STAGE_DELAY, 0.1, 0.2, 5}};
    pp_load l = mk(st, 2, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 500000);
    pp_pacer_posted(&p, 0);
    pp_pacer_posted(&p, 3 * SEC);
    assert_int_equal(p.dropped[0], 98);
    assert_int_equal(p.dropped[1], 1);
    int64_t d = pp_pacer_due(&p) - 3 * SEC; /* the closed loop goes on from the post sent */
    assert_true(d >= 100000 && d <= 200000);
    assert_int_equal(pp_pacer_stage(&p), 1);
}

/* ---- as fast as possible ---- */

static void rate_zero__due_when_sent__until_the_stage_ends(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 0, 0, 1}, {PP_STAGE_RATE, 10, 0, 1}};
    pp_load l = mk(st, 2, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    assert_int_equal(pp_pacer_due(&p), 0);
    pp_pacer_posted(&p, 77);
    assert_int_equal(pp_pacer_due(&p), 77);
    pp_pacer_posted(&p, 999999);
    assert_int_equal(pp_pacer_due(&p), 999999);
    pp_pacer_posted(&p, SEC);
    assert_int_equal(pp_pacer_due(&p), SEC); /* the next stage's first post */
    assert_int_equal(pp_pacer_stage(&p), 1);
    assert_true(isnan(pp_pacer_rate_at(&p, 5)));
    assert_true(isnan(pp_pacer_expected(&p, 0, 2 * SEC)));
    assert_true(fabs(pp_pacer_expected(&p, SEC, 2 * SEC) - 10) < 1e-9);
}

/* ---- the expected count ---- */

static double dn2_rate(double t, int stage)
{
    /* [diurnal:7s, 50/s:3s] repeated; the curve (peak 400, trough 100, peak at 03:00) on
     * a day of 13 s, from midnight. */
    return stage == 0 ? curve(400, 100, 3 * 3600, fmod(t * 86400 / 13, 86400)) : 50;
}

static void expected__many_cycles__the_integral(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_DIURNAL, 0, 0, 7}, {PP_STAGE_RATE, 50, 0, 3}};
    pp_load l = mk(st, 2, 1, PP_ARRIVALS_FIXED);
    l.diurnal = (pp_diurnal){.peak = 400, .trough = 100, .peak_at_s = 3 * 3600, .day_length_s = 13};
    pp_pacer p;
    int64_t t0 = 1000;
    pp_pacer_init(&p, &l, 1.0, 1, t0, 1704067200LL * SEC, 0);
    pp_rng r;
    pp_rng_seed(&r, g_seed, 6);
    for (int i = 0; i < 40; i++) {
        double a = 1000 * pp_rng_unit(&r), b = a + 2000 * pp_rng_unit(&r);
        /* Simpson's rule per stage (the rate is smooth inside each). */
        double want = 0;
        for (double s = floor(a / 10) * 10; s < b; s += 10)
            for (int k = 0; k < 2; k++) {
                double lo = fmax(a, s + (k ? 7 : 0)), hi = fmin(b, s + (k ? 10 : 7));
                if (hi <= lo)
                    continue;
                int m = 200;
                double h = (hi - lo) / m, acc = dn2_rate(lo, k) + dn2_rate(hi, k);
                for (int j = 1; j < m; j++)
                    acc += dn2_rate(lo + j * h, k) * (j % 2 ? 4 : 2);
                want += acc * h / 3;
            }
        double got = pp_pacer_expected(&p, t0 + (int64_t)(a * 1e6), t0 + (int64_t)(b * 1e6));
        if (fabs(got - want) > 1e-6 * want + 0.01)
            fail_msg("seed %llu: expected over [%.6f, %.6f) = %.6f, want %.6f",
                     (unsigned long long)g_seed, a, b, got, want);
    }
    /* Fixed arrivals agree with it over a hundred cycles. */
    static int64_t t[300000];
    size_t n = drive(&p, t0 + 1000 * SEC, t, 300000);
    double want = pp_pacer_expected(&p, t0, t0 + 1000 * SEC);
    /* Each stage start adds up to one arrival: 200 stages. */
    if (!(want > 180000 && (double)n >= want && (double)n <= want + 200))
        fail_msg("%zu fixed arrivals over 100 cycles, expected %.3f", n, want);
    /* 10^12 s of a millisecond cycle: no loop over the cycles, still exact. */
    static const pp_stage fast[] = {{PP_STAGE_RATE, 100, 0, 0.001}, {PP_STAGE_PAUSE, 0, 0, 0.001}};
    l = mk(fast, 2, 1, PP_ARRIVALS_FIXED);
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    double e = pp_pacer_expected(&p, 0, 1000000000000LL * SEC);
    assert_true(fabs(e - 5e13) < 1e-6 * 5e13);
    assert_true(pp_pacer_expected(&p, 5, 5) == 0 && pp_pacer_expected(&p, 9, 3) == 0);
}

/* ---- saturation: never undefined behaviour (UBSan aborts on any) ---- */

static void edges__tiny_rates__first_at_once_then_never(void **state)
{
    (void)state;
    static const double rates[] = {1e-13, 1e-300, 5e-324};
    static const int64_t starts[] = {0, 1000000, INT64_MAX - 5, INT64_MIN};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
        for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++)
            for (int arr = 0; arr < 2; arr++) {
                pp_stage st = {PP_STAGE_RATE, rates[r], 0, INFINITY};
                pp_load l = mk(&st, 1, 0, arr ? PP_ARRIVALS_POISSON : PP_ARRIVALS_FIXED);
                pp_pacer p;
                pp_pacer_init(&p, &l, 1.0, 1, starts[s], 0, SEC);
                if (!arr) {
                    assert_true(pp_pacer_due(&p) == starts[s]); /* the first post at once */
                    pp_pacer_posted(&p, starts[s]);
                    /* The next 1/rate later: 10^19 us after INT64_MIN is still a time. */
                    if (rates[r] == 1e-13 && starts[s] == INT64_MIN)
                        assert_true(llabs(pp_pacer_due(&p) - (INT64_MIN + (int64_t)(1e19 - 9e18) +
                                                              9000000000000000000)) < 10000);
                    else
                        assert_true(pp_pacer_due(&p) == INT64_MAX);
                    pp_pacer_posted(&p, starts[s]);
                    assert_true(pp_pacer_due(&p) == INT64_MAX);
                } else { /* the first gap is 10^13 s times an Exp(1) draw, or more */
                    int64_t due = pp_pacer_due(&p);
                    assert_true(due >= starts[s]);
                    pp_pacer_posted(&p, due);
                    assert_true(pp_pacer_due(&p) >= due);
                }
                (void)pp_pacer_expected(&p, INT64_MIN, INT64_MAX);
                (void)pp_pacer_rate_at(&p, INT64_MAX);
                (void)pp_pacer_stage_at(&p, INT64_MAX);
            }
}

static void edges__end_of_time__saturates(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 1, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, INT64_MAX - 10, 0, 0);
    pp_pacer_posted(&p, INT64_MAX - 10);
    assert_true(pp_pacer_due(&p) == INT64_MAX);
    /* A list that ends past the end of time, repeated: */
    static const pp_stage big[] = {{PP_STAGE_RATE, 1, 0, 1e12}, {PP_STAGE_RAMP, 1, 5, 1e12}};
    l = mk(big, 2, 1, PP_ARRIVALS_POISSON);
    pp_pacer_init(&p, &l, 1.0, 1, INT64_MAX - 2000 * SEC, 0, 0);
    for (int i = 0; i < 5000 && pp_pacer_due(&p) != INT64_MAX; i++)
        pp_pacer_posted(&p, pp_pacer_due(&p));
    assert_true(pp_pacer_due(&p) == INT64_MAX);
    (void)pp_pacer_expected(&p, INT64_MIN, INT64_MAX);
    assert_int_equal(pp_pacer_over(&p, INT64_MAX), 0);
}

static void edges__stall_across_the_whole_range__skips_without_overflow(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 1, 0, INFINITY}};
    pp_load l = mk(st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, INT64_MIN, 0, SEC);
    pp_pacer_posted(&p, INT64_MIN);
    /* now - due is about 2^64: a stall, not a negative lag. Past 2^53 us from the start
     * the schedule's times are doubles: within a few milliseconds. */
    int64_t now = INT64_MAX - 2 * SEC;
    pp_pacer_posted(&p, now);
    int64_t due = pp_pacer_due(&p);
    assert_true(due >= now - SEC - 5000 && due <= now);
    uint64_t k = ((uint64_t)(now - SEC) - (uint64_t)INT64_MIN) / (uint64_t)SEC;
    assert_true(p.dropped[0] >= k - 10 && p.dropped[0] <= k + 10);
}

static void edges__nan_and_infinite_inputs__no_wait_or_never(void **state)
{
    (void)state;
    pp_pacer p;
    pp_stage st = {PP_STAGE_RATE, NAN, 0, INFINITY};
    pp_load l = mk(&st, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer_init(&p, &l, 1.0, 1, 5, 0, 0);
    pp_pacer_posted(&p, 7);
    assert_int_equal(pp_pacer_due(&p), 7);
    l.stage[0].from = INFINITY;
    pp_pacer_init(&p, &l, 1.0, 1, 5, 0, 0);
    pp_pacer_posted(&p, 7);
    assert_true(pp_pacer_due(&p) <= 7);
    /* Everything NaN at once: durations, rates, the curve, the scale. */
    static const pp_stage all[] = {
        {PP_STAGE_RAMP, NAN, INFINITY, 5}, {PP_STAGE_DIURNAL, 0, 0, NAN},
        {PP_STAGE_DIURNAL, 0, 0, 3},       {PP_STAGE_RATE, -5, 0, -1},
        {PP_STAGE_RAMP, 1, 2, INFINITY},   {PP_STAGE_DELAY, NAN, NAN, 2}};
    for (int arr = 0; arr < 2; arr++)
        for (int rep = 0; rep < 2; rep++) {
            l = mk(all, 6, rep, arr ? PP_ARRIVALS_POISSON : PP_ARRIVALS_FIXED);
            l.diurnal = (pp_diurnal){
                .peak = NAN, .trough = INFINITY, .peak_at_s = NAN, .day_length_s = NAN};
            pp_pacer_init(&p, &l, NAN, 1, 0, INT64_MIN, -5);
            for (int i = 0; i < 1000 && pp_pacer_due(&p) != INT64_MAX; i++) {
                pp_pacer_posted(&p, pp_pacer_due(&p));
                (void)pp_pacer_rate_at(&p, pp_pacer_due(&p));
            }
            (void)pp_pacer_expected(&p, 0, INT64_MAX);
            (void)pp_pacer_over(&p, INT64_MAX);
        }
    /* No stages at all: nothing, and over. */
    memset(&l, 0, sizeof(l));
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    assert_true(pp_pacer_due(&p) == INT64_MAX);
    assert_int_equal(pp_pacer_over(&p, 0), 1);
    pp_pacer_init(&p, NULL, 1.0, 1, 0, 0, 0);
    assert_true(pp_pacer_due(&p) == INT64_MAX);
}

static void edges__delays_huge_infinite_nan_negative__saturated_or_no_wait(void **state)
{
    (void)state;
    static const struct {
        double min, max;
        int64_t now, due;
    } cases[] = {
        {1e300, 1e300, 0, INT64_MAX},
        {1e13, 1e13, 0, INT64_MAX},                  /* 1e19 us: just past INT64_MAX */
        {9e12, 9e12, 300000000000000000, INT64_MAX}, /* fits alone, not added to now */
        {INFINITY, INFINITY, 0, INT64_MAX},
        {0, INFINITY, 0, INT64_MAX},
        {NAN, NAN, 42, 42},
        {-5, -1, 42, 42},
        {0, 0, INT64_MAX, INT64_MAX},
        {2, 2, INT64_MIN, INT64_MIN + 2000000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_stage st = {PP_STAGE_DELAY, cases[i].min, cases[i].max, INFINITY};
        pp_load l = mk(&st, 1, 0, PP_ARRIVALS_FIXED);
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, 1, cases[i].now, 0, 0);
        pp_pacer_posted(&p, cases[i].now);
        if (pp_pacer_due(&p) != cases[i].due)
            fail_msg("case %zu: due %lld, want %lld", i, (long long)pp_pacer_due(&p),
                     (long long)cases[i].due);
    }
}

static void edges__extreme_limits__rate_and_duration(void **state)
{
    (void)state;
    /* 0.001/s for 10^12 s, then 10^9/s for 10^12 s: 10^21 arrivals. */
    static const pp_stage st[] = {{PP_STAGE_RATE, 0.001, 0, 1e12}, {PP_STAGE_RATE, 1e9, 0, 1e12}};
    const int64_t s2 = 1000000000000LL * SEC;
    for (int arr = 0; arr < 2; arr++) {
        pp_load l = mk(st, 2, 0, arr ? PP_ARRIVALS_POISSON : PP_ARRIVALS_FIXED);
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, 1, 0, 0, SEC);
        if (!arr) {
            assert_int_equal(pp_pacer_due(&p), 0);
            pp_pacer_posted(&p, 0);
            assert_int_equal(pp_pacer_due(&p), 1000 * SEC);
        }
        assert_true(fabs(pp_pacer_expected(&p, 0, 2 * s2) - (1e9 + 1e21)) < 1e6);
        /* A stall into the second stage: the rest of the first and 4 s of the second are
         * skipped. */
        pp_pacer_posted(&p, s2 + 5 * SEC);
        int64_t due = pp_pacer_due(&p);
        assert_true(due >= s2 + 4 * SEC && due <= s2 + 4 * SEC + 1);
        if (!arr) {
            assert_int_equal(p.dropped[0], 1000000000 - 2);
            assert_int_equal(p.dropped[1], 4000000000);
        } else {
            assert_true(fabs((double)p.dropped[1] - 4e9) < 5 * sqrt(4e9));
        }
        /* A million posts at 10^9/s fill a millisecond; times never go back. */
        int64_t prev = due;
        for (int i = 0; i < 1000000; i++) {
            int64_t d = pp_pacer_due(&p);
            assert_true(d >= prev);
            prev = d;
            pp_pacer_posted(&p, d);
        }
        assert_true(prev - due >= 990 && prev - due <= 1010);
        assert_int_equal(pp_pacer_over(&p, 2 * s2 - 1), 0);
        assert_int_equal(pp_pacer_over(&p, 2 * s2), 1);
    }
    /* Gaps of 10^-13 s: ten million arrivals per microsecond, all due at once. */
    pp_stage tiny = {PP_STAGE_RATE, 1e13, 0, INFINITY};
    pp_load l = mk(&tiny, 1, 0, PP_ARRIVALS_FIXED);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 5, 0, 0);
    for (int i = 0; i < 100000; i++)
        pp_pacer_posted(&p, 5);
    assert_int_equal(pp_pacer_due(&p), 5);
}

/* Poisson arrivals in a millisecond stage at 0.001/s repeated every 2 ms: one arrival in
 * about a million cycles. Cycles without one are jumped, not walked. */
static void edges__poisson_rare_in_short_cycles__jumped(void **state)
{
    (void)state;
    static const pp_stage st[] = {{PP_STAGE_RATE, 0.001, 0, 0.001}, {PP_STAGE_PAUSE, 0, 0, 0.001}};
    pp_load l = mk(st, 2, 1, PP_ARRIVALS_POISSON);
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, g_seed, 0, 0, 0);
    double sum = 0;
    int64_t prev = 0;
    for (int i = 0; i < 400; i++) {
        int64_t due = pp_pacer_due(&p);
        if (due == INT64_MAX || pp_pacer_stage_at(&p, due) != 0)
            fail_msg("seed %llu: arrival %d at %lld", (unsigned long long)g_seed, i,
                     (long long)due);
        sum += (double)(due - prev) / 1e6;
        prev = due;
        pp_pacer_posted(&p, due);
    }
    /* Mean gap 2000 s (0.001/s for half the time), within five standard errors. */
    if (fabs(sum / 400 - 2000) > 5 * 2000 / 20)
        fail_msg("seed %llu: mean gap %.1f s, want 2000", (unsigned long long)g_seed, sum / 400);
    /* A delay stage in the cycle holds a post every cycle: none is jumped. */
    static const pp_stage mixed[] = {{PP_STAGE_RATE, 0.001, 0, 0.001},
                                     {PP_STAGE_DELAY, 0.01, 0.01, 0.001}};
    l = mk(mixed, 2, 1, PP_ARRIVALS_POISSON);
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0); /* seed 1: no Poisson arrival in these cycles */
    for (int i = 0; i < 100; i++) {
        int64_t due = pp_pacer_due(&p);
        if (due != (2 * i + 1) * 1000) /* the delay stage's start, each cycle */
            fail_msg("arrival %d at %lld", i, (long long)due);
        pp_pacer_posted(&p, due);
    }
    /* Fixed arrivals follow the integral across stages and cycles too: 0.0005 posts/s on
     * average is the post at the start and no other in the first second (not one a cycle,
     * 500/s, as when each stage began with a post). */
    l = mk(st, 2, 1, PP_ARRIVALS_FIXED);
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    static int64_t t[1000];
    assert_int_equal(drive(&p, SEC, t, 1000), 1);
}

/* ---- the latency histogram ---- */

static void hist__quantiles__within_resolution(void **state)
{
    (void)state;
    pp_hist *h = calloc(1, sizeof(*h));
    for (uint64_t v = 1; v <= 100000; v++)
        pp_hist_record(h, v);
    assert_int_equal(h->total, 100000);
    assert_int_equal(h->max, 100000);
    static const double qs[] = {0.5, 0.95, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        double want = qs[i] * 100000, got = (double)pp_hist_quantile(h, qs[i]);
        assert_true(got >= want && got <= want * 1.04);
    }
    assert_int_equal(pp_hist_quantile(h, 1.0), 100000);
    free(h);
}

static void hist__small_and_huge__exact_and_capped(void **state)
{
    (void)state;
    pp_hist *h = calloc(1, sizeof(*h));
    assert_int_equal(pp_hist_quantile(h, 0.5), 0);
    pp_hist_record(h, 0);
    pp_hist_record(h, 7);
    pp_hist_record(h, UINT64_MAX / 2);
    assert_int_equal(pp_hist_quantile(h, 0.34), 7);
    assert_true(pp_hist_quantile(h, 1.0) == UINT64_MAX / 2);
    free(h);
}

int main(void)
{
    const char *s = getenv("PACER_SEED");
    g_seed = s ? strtoull(s, NULL, 10) : pp_rng_os_seed();
    if ((s = getenv("PACER_KS_SEED")))
        g_ks_seeds[g_nks++] = strtoull(s, NULL, 10);
    printf("test_pacer: seed %llu (PACER_SEED=%llu replays it)\n", (unsigned long long)g_seed,
           (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stages__random_lists__posts_inside_their_stage_counts_match),
        cmocka_unit_test(stages__repeat__the_list_cycles_and_never_ends),
        cmocka_unit_test(stages__forever__never_over),
        cmocka_unit_test(poisson__gaps__exponential_by_kolmogorov_smirnov),
        cmocka_unit_test(poisson__ramps__rescaled_gaps_exponential),
        cmocka_unit_test(poisson__diurnal__rescaled_gaps_exponential),
        cmocka_unit_test(poisson__seeds__same_times_or_other_times),
        cmocka_unit_test(diurnal__curve__peak_trough_and_between),
        cmocka_unit_test(diurnal__local_zone__from_tz),
        cmocka_unit_test(diurnal__compressed_day__counts_are_the_integral),
        cmocka_unit_test(delay__uniform__within_bounds_and_mean),
        cmocka_unit_test(delay__between_stages__starts_with_a_post_and_ends_on_time),
        cmocka_unit_test(delay__same_seed__same_delays),
        cmocka_unit_test(scale__third__a_third_of_the_arrivals),
        cmocka_unit_test(backlog__stall__late_arrivals_skipped_and_counted),
        cmocka_unit_test(backlog__random_stalls__sent_plus_dropped_is_the_schedule),
        cmocka_unit_test(backlog__poisson_skips__counted_as_a_poisson_count),
        cmocka_unit_test(backlog__whole_cycles__skipped_at_once),
        cmocka_unit_test(backlog__delay_stage_entered_late__its_first_post_dropped),
        cmocka_unit_test(rate_zero__due_when_sent__until_the_stage_ends),
        cmocka_unit_test(expected__many_cycles__the_integral),
        cmocka_unit_test(edges__tiny_rates__first_at_once_then_never),
        cmocka_unit_test(edges__end_of_time__saturates),
        cmocka_unit_test(edges__stall_across_the_whole_range__skips_without_overflow),
        cmocka_unit_test(edges__nan_and_infinite_inputs__no_wait_or_never),
        cmocka_unit_test(edges__delays_huge_infinite_nan_negative__saturated_or_no_wait),
        cmocka_unit_test(edges__extreme_limits__rate_and_duration),
        cmocka_unit_test(edges__poisson_rare_in_short_cycles__jumped),
        cmocka_unit_test(hist__quantiles__within_resolution),
        cmocka_unit_test(hist__small_and_huge__exact_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
