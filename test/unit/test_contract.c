/* Unit tests of pp_contract: the Kinesis partition key that carries a message's run and
 * post, written by the sink and read back by pinpost-verify. */
#include "unit.h"

#include "pp_contract.h"

#include <inttypes.h>

static void partition_key__round_trip__edges_of_every_field(void **state)
{
    (void)state;
    static const struct {
        int64_t key;
        uint64_t seq;
        const char *instance;
    } cases[] = {
        {1, 1, "pinpostd-1"},
        {0, 42, "host"},
        {-1, 7, "a:b:c"}, /* the instance is last: separators in it survive */
        {INT64_MIN, UINT64_MAX, "x"},
        {INT64_MAX, 1, "spaces and / slashes"},
        {123, 456, "ünïcödé"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char pk[PP_PARTITION_KEY_MAX + 1], inst[256];
        int n = pp_contract_partition_key(pk, sizeof(pk), cases[i].key, cases[i].seq,
                                          cases[i].instance);
        assert_true(n > 0);
        assert_int_equal((size_t)n, strlen(pk));
        int64_t key = 0;
        uint64_t seq = 0;
        assert_int_equal(
            pp_contract_parse_partition_key(pk, (size_t)n, &key, &seq, inst, sizeof(inst)), 0);
        if (key != cases[i].key || seq != cases[i].seq || strcmp(inst, cases[i].instance))
            fail_msg("case %zu: '%s' read back as %" PRId64 ", %" PRIu64 ", '%s'", i, pk, key, seq,
                     inst);
    }
}

static void partition_key__written_form__key_first_in_decimal(void **state)
{
    (void)state;
    char pk[64];
    assert_int_equal(pp_contract_partition_key(pk, sizeof(pk), -42, 9, "i"), 7);
    assert_string_equal(pk, "-42:9:i");
}

static void partition_key__longest_instance__fits_any_key_and_seq(void **state)
{
    (void)state;
    char inst[PP_PARTITION_KEY_INSTANCE_MAX + 2], pk[PP_PARTITION_KEY_MAX + 64];
    memset(inst, 'n', sizeof(inst) - 1);
    inst[PP_PARTITION_KEY_INSTANCE_MAX] = '\0';
    assert_int_equal(pp_contract_partition_key(pk, sizeof(pk), INT64_MIN, UINT64_MAX, inst),
                     PP_PARTITION_KEY_MAX);
    inst[PP_PARTITION_KEY_INSTANCE_MAX] = 'n'; /* one more character: over Kinesis's limit */
    inst[PP_PARTITION_KEY_INSTANCE_MAX + 1] = '\0';
    assert_int_equal(pp_contract_partition_key(pk, sizeof(pk), INT64_MIN, UINT64_MAX, inst), -1);
    /* and a buffer too small is refused, never truncated */
    assert_int_equal(pp_contract_partition_key(pk, 5, 1, 1, "abc"), -1);
}

static void partition_key__not_ours__refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "123", /* an older pinpostd: the bare post key */
        "",
        ":1:i", /* no key */
        "1::i",
        "1:0:i", /* no sequence number; 0 is not one */
        "1:2:",  /* no instance */
        "01:2:i",
        "1:02:i", /* leading zeros: not what we write */
        "1:-2:i",
        "+1:2:i", /* signs where none is written */
        "x:2:i",
        "1:2x:i",                  /* not numbers */
        "9223372036854775808:1:i", /* key beyond int64 */
        "-9223372036854775809:1:i",
        "1:18446744073709551616:i",    /* seq beyond uint64 */
        "1:123456789012345678901234:i" /* far too many digits */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t key = 5;
        uint64_t seq = 5;
        char inst[32] = "untouched";
        if (pp_contract_parse_partition_key(bad[i], strlen(bad[i]), &key, &seq, inst,
                                            sizeof(inst)) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(key, 5);
        assert_string_equal(inst, "untouched");
    }
    /* A NUL inside the instance, and a length that stops before it. */
    assert_int_equal(pp_contract_parse_partition_key("1:2:a\0b", 7, &(int64_t){0}, &(uint64_t){0},
                                                     (char[8]){0}, 8),
                     -1);
    char inst[8];
    int64_t key;
    uint64_t seq;
    assert_int_equal(
        pp_contract_parse_partition_key("1:2:ab-not-this", 6, &key, &seq, inst, sizeof(inst)), 0);
    assert_string_equal(inst, "ab");
}

static void partition_key__long_instance__truncated_to_the_buffer(void **state)
{
    (void)state;
    char inst[4];
    int64_t key;
    uint64_t seq;
    assert_int_equal(
        pp_contract_parse_partition_key("7:8:abcdef", 10, &key, &seq, inst, sizeof(inst)), 0);
    assert_string_equal(inst, "abc");
    assert_int_equal(key, 7);
    assert_int_equal(seq, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(partition_key__round_trip__edges_of_every_field),
        cmocka_unit_test(partition_key__written_form__key_first_in_decimal),
        cmocka_unit_test(partition_key__longest_instance__fits_any_key_and_seq),
        cmocka_unit_test(partition_key__not_ours__refused),
        cmocka_unit_test(partition_key__long_instance__truncated_to_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
