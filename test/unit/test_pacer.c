/* Unit tests of pacing arithmetic and the latency histogram. */
#include "unit.h"

#include <math.h>

#include "pp_pacer.h"
#include "pp_stats.h"

static void rate__10000_per_s__exact_schedule(void **state)
{
    (void)state;
    pp_pacer p;
    int64_t t0 = 1000000;
    pp_pacer_init_rate(&p, 10000, t0);
    /* Post whenever due, as the main loop does: 300 000 posts take 30 s exactly. */
    for (int i = 0; i < 300000; i++) {
        int64_t now = pp_pacer_due(&p);
        pp_pacer_posted(&p, now);
    }
    int64_t elapsed = pp_pacer_due(&p) - t0;
    assert_true(elapsed >= 29999999 && elapsed <= 30000001);
}

static void rate__late_by_a_little__catches_up(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, 100, 0);
    /* 50 ms late: the next posts are already due, so the average holds. */
    pp_pacer_posted(&p, 50000);
    assert_int_equal(pp_pacer_due(&p), 10000);
}

static void rate__stalled__schedule_restarts(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, 100, 0);
    /* 5 s stall: no burst of 500 posts; the schedule restarts from now. */
    pp_pacer_posted(&p, 5000000);
    assert_int_equal(pp_pacer_due(&p), 5000000);
    pp_pacer_posted(&p, 5000000);
    assert_int_equal(pp_pacer_due(&p), 5010000);
}

static void rate__zero__always_due(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, 0, 0);
    pp_pacer_posted(&p, 77);
    assert_int_equal(pp_pacer_due(&p), 77);
}

static void delay__uniform__within_bounds_and_mean(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_delay(&p, 0.5, 1.5, 9, 0);
    int64_t now = 0;
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        pp_pacer_posted(&p, now);
        int64_t d = pp_pacer_due(&p) - now;
        assert_true(d >= 500000 && d <= 1500000);
        sum += (double)d;
        now = pp_pacer_due(&p);
    }
    double mean = sum / 100000 / 1e6;
    assert_true(mean > 0.99 && mean < 1.01);
}

static void delay__same_seed__same_delays(void **state)
{
    (void)state;
    pp_pacer a, b;
    pp_pacer_init_delay(&a, 0, 2, 5, 0);
    pp_pacer_init_delay(&b, 0, 2, 5, 0);
    for (int i = 0; i < 100; i++) {
        pp_pacer_posted(&a, 0);
        pp_pacer_posted(&b, 0);
        assert_int_equal(pp_pacer_due(&a), pp_pacer_due(&b));
    }
}

/* Waits too long to represent saturate at INT64_MAX (never due) instead of overflowing;
 * under UBSan (make test-unit) an overflow or an out-of-range conversion aborts. */
static void rate__tiny__never_due_again(void **state)
{
    (void)state;
    static const double rates[] = {1e-13, 1e-300, 5e-324};
    static const int64_t starts[] = {0, 1000000, INT64_MAX - 5, INT64_MIN};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
        for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
            pp_pacer p;
            pp_pacer_init_rate(&p, rates[r], starts[s]);
            assert_true(pp_pacer_due(&p) == starts[s]); /* the first post is due at once */
            pp_pacer_posted(&p, starts[s]);
            assert_true(pp_pacer_due(&p) == INT64_MAX);
            pp_pacer_posted(&p, starts[s]);
            assert_true(pp_pacer_due(&p) == INT64_MAX);
        }
}

static void rate__near_the_end_of_time__saturates(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, 1, INT64_MAX - 10);
    pp_pacer_posted(&p, INT64_MAX - 10);
    assert_true(pp_pacer_due(&p) == INT64_MAX);
}

static void rate__stall_across_the_whole_range__restarts_without_overflow(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, 1, INT64_MIN);
    /* now - due is about 2^64: it must read as a stall, not wrap to a negative lag. */
    pp_pacer_posted(&p, INT64_MAX - 2000000);
    assert_true(pp_pacer_due(&p) == INT64_MAX - 2000000);
    pp_pacer_posted(&p, INT64_MAX - 2000000);
    assert_true(pp_pacer_due(&p) == INT64_MAX - 1000000);
}

static void rate__nan_or_infinite__no_wait(void **state)
{
    (void)state;
    pp_pacer p;
    pp_pacer_init_rate(&p, NAN, 5);
    pp_pacer_posted(&p, 7);
    assert_int_equal(pp_pacer_due(&p), 7);
    pp_pacer_init_rate(&p, INFINITY, 5);
    pp_pacer_posted(&p, 7);
    assert_true(pp_pacer_due(&p) <= 7);
}

static void delay__huge_infinite_nan_negative__saturated_or_no_wait(void **state)
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
        pp_pacer p;
        pp_pacer_init_delay(&p, cases[i].min, cases[i].max, 1, cases[i].now);
        pp_pacer_posted(&p, cases[i].now);
        if (pp_pacer_due(&p) != cases[i].due)
            fail_msg("case %zu: due %lld, want %lld", i, (long long)pp_pacer_due(&p),
                     (long long)cases[i].due);
    }
}

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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate__10000_per_s__exact_schedule),
        cmocka_unit_test(rate__late_by_a_little__catches_up),
        cmocka_unit_test(rate__stalled__schedule_restarts),
        cmocka_unit_test(rate__zero__always_due),
        cmocka_unit_test(delay__uniform__within_bounds_and_mean),
        cmocka_unit_test(delay__same_seed__same_delays),
        cmocka_unit_test(rate__tiny__never_due_again),
        cmocka_unit_test(rate__near_the_end_of_time__saturates),
        cmocka_unit_test(rate__stall_across_the_whole_range__restarts_without_overflow),
        cmocka_unit_test(rate__nan_or_infinite__no_wait),
        cmocka_unit_test(delay__huge_infinite_nan_negative__saturated_or_no_wait),
        cmocka_unit_test(hist__quantiles__within_resolution),
        cmocka_unit_test(hist__small_and_huge__exact_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
