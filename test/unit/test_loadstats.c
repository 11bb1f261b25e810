/* Unit tests of the per-stage figures: time and posts per stage, warm-up, the two
 * latencies, and the table of posts in flight under random settle orders. */
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_loadstats.h"
#include "pp_rng.h"

static pp_load stages(const char *text)
{
    pp_load l;
    char err[256];
    memset(&l, 0, sizeof(l));
    assert_int_equal(pp_load_parse_stages(text, &l, err, sizeof(err)), 0);
    return l;
}

static void done(pp_loadstats *ls, uint64_t seq, pp_outcome o, int64_t latency_us)
{
    pp_post_result r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    r.outcome = o;
    r.latency_us = latency_us;
    pp_loadstats_done(ls, &r);
}

/* Posts sent on time, each delivered 2 ms later: per-stage counts, seconds and the
 * target are the schedule's; produce and intended latencies are equal. */
static void stages__on_time__counts_seconds_and_targets(void **state)
{
    (void)state;
    pp_load l = stages("100/s:2s,ramp 100-300/s:1s,pause:1s");
    pp_pacer p;
    int64_t t0 = 5000000;
    pp_pacer_init(&p, &l, 1.0, 1, t0, 0, 0);
    pp_loadstats *ls = pp_loadstats_new();
    pp_loadstats_start(ls, 1, t0, 0, 0);
    uint64_t seq = 0;
    while (!pp_pacer_over(&p, pp_pacer_due(&p)) && pp_pacer_due(&p) != INT64_MAX) {
        int64_t due = pp_pacer_due(&p);
        pp_loadstats_tick(ls, &p, due);
        pp_loadstats_produced(ls, &p, ++seq, pp_pacer_stage(&p), due, due);
        done(ls, seq, PP_DELIVERED, 2000);
        pp_pacer_posted(&p, due);
    }
    pp_loadstats_tick(ls, &p, t0 + 10000000); /* long after the end: clamped to it */
    cJSON *j = pp_loadstats_json(ls);
    cJSON *st = cJSON_GetObjectItem(j, "stages");
    assert_int_equal(cJSON_GetArraySize(st), 3);
    static const double posts[] = {200, 200, 0}, secs[] = {2, 1, 1}, target[] = {100, 200, 0};
    for (int i = 0; i < 3; i++) {
        cJSON *e = cJSON_GetArrayItem(st, i);
        assert_true(fabs(cJSON_GetObjectItem(e, "posts")->valuedouble - posts[i]) <= 1);
        assert_true(fabs(cJSON_GetObjectItem(e, "seconds")->valuedouble - secs[i]) < 1e-6);
        assert_true(fabs(cJSON_GetObjectItem(e, "target_rate")->valuedouble - target[i]) < 0.01);
        assert_int_equal((int)cJSON_GetObjectItem(e, "runs")->valuedouble, 1);
    }
    const pp_load_totals *t = pp_loadstats_totals(ls);
    assert_int_equal(t->delivered, seq);
    assert_true(fabs(t->seconds - 4) < 1e-6);
    assert_int_equal(pp_hist_quantile(&t->produce, 0.99), pp_hist_quantile(&t->intended, 0.99));
    cJSON_Delete(j);
    pp_loadstats_destroy(ls);
}

/* A post sent 3 s late: intended latency = wait + produce latency; produce alone stays. */
static void late_post__intended_includes_the_wait(void **state)
{
    (void)state;
    pp_load l = stages("10/s:forever");
    pp_pacer p;
    pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
    pp_loadstats *ls = pp_loadstats_new();
    pp_loadstats_start(ls, 1, 0, 0, 0);
    pp_loadstats_produced(ls, &p, 1, 0, 0, 3000000);
    done(ls, 1, PP_DELIVERED, 1000);
    const pp_load_totals *t = pp_loadstats_totals(ls);
    assert_int_equal(t->intended.max, 3001000);
    assert_int_equal(t->produce.max, 1000);
    /* Not delivered: counted as a post, not in the percentiles. */
    pp_loadstats_produced(ls, &p, 2, 0, 100000, 100000);
    done(ls, 2, PP_FAILED, 5);
    assert_int_equal(t->posts, 2);
    assert_int_equal(t->delivered, 1);
    assert_int_equal(t->produce.total, 1);
    /* Unknown sequence numbers and second reports are ignored. */
    done(ls, 2, PP_DELIVERED, 5);
    done(ls, 77, PP_DELIVERED, 5);
    assert_int_equal(t->delivered, 1);
    pp_loadstats_destroy(ls);
}

/* Warm-up by posts and by time: those posts go apart, the rest to the totals. */
static void warmup__kept_apart(void **state)
{
    (void)state;
    pp_load l = stages("100/s:forever");
    for (int by_time = 0; by_time < 2; by_time++) {
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
        pp_loadstats *ls = pp_loadstats_new();
        pp_loadstats_start(ls, 1, 0, by_time ? 500000 : 0, by_time ? 0 : 30);
        for (uint64_t seq = 1; seq <= 100; seq++) {
            int64_t due = pp_pacer_due(&p);
            pp_loadstats_tick(ls, &p, due);
            pp_loadstats_produced(ls, &p, seq, pp_pacer_stage(&p), due, due);
            done(ls, seq, PP_DELIVERED, 10);
            pp_pacer_posted(&p, due);
        }
        uint64_t warm = by_time ? 50 : 30;
        assert_int_equal(pp_loadstats_warmup(ls)->posts, warm);
        assert_int_equal(pp_loadstats_totals(ls)->posts, 100 - warm);
        assert_int_equal(pp_loadstats_totals(ls)->produce.total, 100 - warm);
        pp_loadstats_destroy(ls);
    }
}

/* The table of posts in flight against a reference, under random produce, skip and
 * settle orders with many posts in flight at once, one of them in flight all along. */
static void in_flight__random_orders__match_a_reference(void **state)
{
    (void)state;
    uint64_t seed = 20261122;
    const char *env = getenv("LOADSTATS_SEED");
    if (env)
        seed = strtoull(env, NULL, 10);
    printf("test_loadstats: seed %llu (LOADSTATS_SEED replays it)\n", (unsigned long long)seed);
    for (int sparse = 0; sparse < 2; sparse++) {
        pp_rng rng;
        pp_rng_seed(&rng, seed, 1);
        pp_load l = stages("1000/s:forever");
        pp_pacer p;
        pp_pacer_init(&p, &l, 1.0, 1, 0, 0, 0);
        pp_loadstats *ls = pp_loadstats_new();
        pp_loadstats_start(ls, 1, 0, 0, 0);
        enum { N = 200000, MAXLIVE = 3000 };
        uint64_t *live = calloc(MAXLIVE, sizeof(uint64_t)), nlive = 0, seq = 0, delivered = 0;
        uint64_t stuck = 0, produced = 0;
        for (int step = 0; step < N; step++) {
            uint64_t r = pp_rng_below(&rng, 100);
            if (nlive < MAXLIVE && (r < 55 || nlive == 0)) {
                /* Half the time numbers far apart, so the table's probe runs collide (the
             * daemon's consecutive numbers rarely do). */
                uint64_t step_by = sparse ? 1 + pp_rng_below(&rng, 1u << 20) : 1;
                seq += step_by;
                pp_loadstats_produced(ls, &p, seq, 0, 0, (int64_t)pp_rng_below(&rng, 1000));
                produced++;
                if (!stuck)
                    stuck = seq; /* never settled until the end: the span grows, not the table */
                else
                    live[nlive++] = seq;
                if (pp_rng_below(&rng, 50) == 0) { /* skipped: forgotten, the number reused */
                    pp_loadstats_forget(ls, seq);
                    nlive--;
                    seq -= step_by;
                    produced--;
                }
            } else if (nlive) {
                uint64_t k = pp_rng_below(&rng, nlive);
                done(ls, live[k], PP_DELIVERED, 1);
                delivered++;
                live[k] = live[--nlive];
            }
        }
        assert_int_equal(pp_loadstats_totals(ls)->delivered, delivered);
        for (uint64_t k = 0; k < nlive; k++)
            done(ls, live[k], PP_DELIVERED, 1);
        done(ls, stuck, PP_DELIVERED, 1);
        assert_int_equal(pp_loadstats_totals(ls)->delivered, delivered + nlive + 1);
        assert_int_equal(pp_loadstats_totals(ls)->posts, produced);
        free(live);
        pp_loadstats_destroy(ls);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stages__on_time__counts_seconds_and_targets),
        cmocka_unit_test(late_post__intended_includes_the_wait),
        cmocka_unit_test(warmup__kept_apart),
        cmocka_unit_test(in_flight__random_orders__match_a_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
