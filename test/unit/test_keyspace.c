/* Unit tests of the keyspace: runs, counts and indexing, at the edges of int64_t too. */
#include "unit.h"

#include "pp_keyspace.h"

static void add__consecutive_and_gaps__runs_and_order(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    static const int64_t keys[] = {-3, -2, -1, 0, 1, 5, 6, 100};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(pp_keyspace_add(ks, keys[i]), 0);
    assert_int_equal(pp_keyspace_count(ks), 8);
    assert_int_equal(pp_keyspace_runs(ks), 3);
    assert_int_equal(pp_keyspace_max(ks), 100);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(pp_keyspace_at(ks, i), keys[i]);
    pp_keyspace_destroy(ks);
}

static void add__not_ascending__refused(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    assert_int_equal(pp_keyspace_add(ks, 10), 0);
    assert_int_equal(pp_keyspace_add(ks, 10), -1);
    assert_int_equal(pp_keyspace_add(ks, 9), -1);
    assert_int_equal(pp_keyspace_count(ks), 1);
    pp_keyspace_destroy(ks);
}

/* The keys a BIGINT column can hold at its ends, each alone and next to its neighbour:
 * under UBSan (make test-unit) any signed overflow in add, max or at aborts the test. */
static void edges__int64_min_and_max__exact(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    static const int64_t keys[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(pp_keyspace_add(ks, keys[i]), 0);
    assert_int_equal(pp_keyspace_count(ks), 6);
    assert_int_equal(pp_keyspace_runs(ks), 3);
    assert_true(pp_keyspace_max(ks) == INT64_MAX);
    for (size_t i = 0; i < 6; i++)
        assert_true(pp_keyspace_at(ks, i) == keys[i]);
    /* Nothing lies above INT64_MAX: every further key is refused, none wraps around. */
    assert_int_equal(pp_keyspace_add(ks, INT64_MAX), -1);
    assert_int_equal(pp_keyspace_add(ks, INT64_MIN), -1);
    assert_int_equal(pp_keyspace_count(ks), 6);
    pp_keyspace_destroy(ks);
}

static void edges__single_key_at_max__max_and_at(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    assert_int_equal(pp_keyspace_add(ks, INT64_MAX), 0);
    assert_true(pp_keyspace_max(ks) == INT64_MAX);
    assert_true(pp_keyspace_at(ks, 0) == INT64_MAX);
    assert_int_equal(pp_keyspace_add(ks, INT64_MAX), -1);
    pp_keyspace_destroy(ks);
}

static void edges__single_key_at_min__then_neighbour_extends_run(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    assert_int_equal(pp_keyspace_add(ks, INT64_MIN), 0);
    assert_true(pp_keyspace_max(ks) == INT64_MIN);
    assert_int_equal(pp_keyspace_add(ks, INT64_MIN + 1), 0);
    assert_int_equal(pp_keyspace_runs(ks), 1);
    assert_true(pp_keyspace_at(ks, 1) == INT64_MIN + 1);
    pp_keyspace_destroy(ks);
}

/* One run across zero: indexing is exact on both sides of the sign change. */
static void run__crossing_zero__indexing_exact(void **state)
{
    (void)state;
    pp_keyspace *ks = pp_keyspace_new();
    for (int64_t k = -1000; k <= 1000; k++)
        assert_int_equal(pp_keyspace_add(ks, k), 0);
    assert_int_equal(pp_keyspace_runs(ks), 1);
    assert_int_equal(pp_keyspace_count(ks), 2001);
    assert_int_equal(pp_keyspace_at(ks, 0), -1000);
    assert_int_equal(pp_keyspace_at(ks, 1000), 0);
    assert_int_equal(pp_keyspace_at(ks, 2000), 1000);
    assert_int_equal(pp_keyspace_max(ks), 1000);
    pp_keyspace_destroy(ks);
}

static void destroy__null__ok(void **state)
{
    (void)state;
    pp_keyspace_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add__consecutive_and_gaps__runs_and_order),
        cmocka_unit_test(add__not_ascending__refused),
        cmocka_unit_test(edges__int64_min_and_max__exact),
        cmocka_unit_test(edges__single_key_at_max__max_and_at),
        cmocka_unit_test(edges__single_key_at_min__then_neighbour_extends_run),
        cmocka_unit_test(run__crossing_zero__indexing_exact),
        cmocka_unit_test(destroy__null__ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
