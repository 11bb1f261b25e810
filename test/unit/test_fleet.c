/* Unit tests of the verifier's fleet ledger: instances restricted to those verified, each
 * summarised against its own count, totals the sums, and random faults counted where
 * they were injected (seeded property). */
#include "unit.h"

#include <inttypes.h>
#include <time.h>

#include "pp_contract.h"
#include "pp_rng.h"
#include "pp_tally.h"

static uint64_t test_seed(void)
{
    const char *env = getenv("PP_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    print_message("seed %" PRIu64 " (replay with PP_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    return seed;
}

static void add_post(pp_tally *t, const char *inst, uint64_t seq, int skip_table)
{
    for (int tb = 0; tb < PP_NTABLES; tb++)
        if (tb != skip_table)
            pp_tally_add(t, inst, seq, tb, (int64_t)seq, 0);
}

/* Three instances, faults injected at random into each, and a stranger: each instance's
 * summary counts exactly its own faults, the total their sums, the stranger is other. */
static void fleet__random_faults__counted_per_instance(void **state)
{
    (void)state;
    uint64_t seed = test_seed();
    pp_rng rng;
    pp_rng_seed(&rng, seed, 0);
    for (int round = 0; round < 200; round++) {
        static const char *const names[] = {"run-0", "run-1", "run-2"};
        pp_tally *t = pp_tally_new();
        pp_tally_restrict(t, names, 3);
        pp_tally_member fleet[3];
        uint64_t want_missing[3] = {0}, want_partial[3] = {0}, want_dup[3] = {0},
                 want_beyond[3] = {0}, want_msgs[3] = {0};
        uint64_t stranger = 0;
        for (int i = 0; i < 3; i++) {
            uint64_t expected = 1 + pp_rng_below(&rng, 300); /* 0 would mean 1..max_seq */
            fleet[i] = (pp_tally_member){names[i], expected};
            for (uint64_t seq = 1; seq <= expected; seq++) {
                switch (pp_rng_below(&rng, 20)) {
                case 0: want_missing[i]++; break;
                case 1:
                    add_post(t, names[i], seq, (int)pp_rng_below(&rng, 3));
                    want_partial[i]++;
                    want_msgs[i] += 2;
                    break;
                case 2:
                    add_post(t, names[i], seq, -1);
                    pp_tally_add(t, names[i], seq, PP_GEO, (int64_t)seq, 0);
                    want_dup[i]++;
                    want_msgs[i] += 4;
                    break;
                default: add_post(t, names[i], seq, -1); want_msgs[i] += 3;
                }
            }
            if (pp_rng_below(&rng, 4) == 0) {
                add_post(t, names[i], expected + 1 + pp_rng_below(&rng, 5), -1);
                want_beyond[i]++;
                want_msgs[i] += 3;
            }
            /* A fourth instance, not in the fleet: other, never recorded. */
            if (pp_rng_below(&rng, 2)) {
                assert_int_equal(pp_tally_add(t, "stranger", 1, PP_PIN, 1, 0), 0);
                stranger++;
            }
        }
        pp_tally_result each[3], total;
        pp_tally_summarise_fleet(t, fleet, 3, each, &total);
        uint64_t sum_complete = 0;
        int any_bad = 0;
        for (int i = 0; i < 3; i++) {
            const pp_tally_result *r = &each[i];
            uint64_t complete = fleet[i].expected - want_missing[i] - want_partial[i];
            if (r->posts_missing != want_missing[i] || r->posts_partial != want_partial[i] ||
                r->duplicates != want_dup[i] || r->posts_unexpected != want_beyond[i] ||
                r->messages != want_msgs[i] || r->posts_complete != complete)
                fail_msg("seed %" PRIu64 " round %d %s: missing %" PRIu64 "/%" PRIu64
                         " partial %" PRIu64 "/%" PRIu64 " dup %" PRIu64 "/%" PRIu64
                         " beyond %" PRIu64 "/%" PRIu64 " complete %" PRIu64 "/%" PRIu64,
                         seed, round, names[i], r->posts_missing, want_missing[i], r->posts_partial,
                         want_partial[i], r->duplicates, want_dup[i], r->posts_unexpected,
                         want_beyond[i], r->posts_complete, complete);
            int bad = want_missing[i] || want_partial[i] || want_dup[i] || want_beyond[i];
            assert_int_equal(pp_tally_problems(r, fleet[i].expected), bad);
            any_bad |= bad;
            sum_complete += complete;
        }
        (void)any_bad;
        assert_int_equal(total.posts_complete, sum_complete);
        assert_int_equal(total.posts_missing, want_missing[0] + want_missing[1] + want_missing[2]);
        assert_int_equal(total.duplicates, want_dup[0] + want_dup[1] + want_dup[2]);
        assert_int_equal(total.messages, want_msgs[0] + want_msgs[1] + want_msgs[2]);
        assert_int_equal(total.other, stranger);
        pp_tally_destroy(t);
    }
}

/* Unrestricted, the fleet summary counts the messages of non-members as other; a member
 * that sent nothing owes all its posts; instances counts only those that sent something. */
static void fleet__unrestricted_and_silent_member(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    for (uint64_t seq = 1; seq <= 5; seq++) {
        add_post(t, "a", seq, -1);
        add_post(t, "z", seq, -1);
    }
    pp_tally_add_other(t);
    pp_tally_member fleet[] = {{"a", 5}, {"b", 4}};
    pp_tally_result each[2], total;
    pp_tally_summarise_fleet(t, fleet, 2, each, &total);
    assert_int_equal(each[0].posts_complete, 5);
    assert_false(pp_tally_problems(&each[0], 5));
    assert_int_equal(each[1].posts_missing, 4);
    assert_true(pp_tally_problems(&each[1], 4));
    assert_int_equal(total.posts_complete, 5);
    assert_int_equal(total.posts_missing, 4);
    assert_int_equal(total.messages, 15);
    assert_int_equal(total.other, 16); /* z's 15 and the one without headers */
    assert_int_equal(pp_tally_instances(t), 2);
    pp_tally_destroy(t);

    /* Restricted to a and b: z is other from the start, b is known but silent. */
    static const char *const names[] = {"a", "b", "a"};
    t = pp_tally_new();
    pp_tally_restrict(t, names, 3);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        add_post(t, "a", seq, -1);
        add_post(t, "z", seq, -1);
    }
    assert_int_equal(pp_tally_instances(t), 1);
    pp_tally_summarise_fleet(t, fleet, 2, each, &total);
    assert_int_equal(total.other, 15);
    assert_int_equal(each[1].posts_missing, 4);
    /* One instance's summary as before: the rest is other. */
    pp_tally_result one;
    pp_tally_summarise(t, "a", 5, &one);
    assert_int_equal(one.posts_complete, 5);
    assert_int_equal(one.other, 15);
    pp_tally_destroy(t);
}

/* A shortfall alone (fewer complete than expected, nothing else wrong) is a problem. */
static void problems__shortfall_alone(void **state)
{
    (void)state;
    pp_tally_result r = {0};
    r.posts_complete = 9;
    assert_true(pp_tally_problems(&r, 10));
    assert_false(pp_tally_problems(&r, 9));
    assert_false(pp_tally_problems(&r, 0));
    r.partition_mismatch = 1;
    assert_true(pp_tally_problems(&r, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fleet__random_faults__counted_per_instance),
        cmocka_unit_test(fleet__unrestricted_and_silent_member),
        cmocka_unit_test(problems__shortfall_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
