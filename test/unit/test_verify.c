/* Unit tests of the verifier's ledger and of the message-versus-row comparison. */
#include "unit.h"

#include "pp_rowcheck.h"
#include "pp_contract.h"
#include "pp_tally.h"

static void tally__clean_run__all_complete(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    for (uint64_t seq = 1; seq <= 1000; seq++)
        for (int tb = 0; tb < PP_NTABLES; tb++)
            pp_tally_add(t, "a", seq, tb, (int64_t)seq * 7, (int32_t)(seq % 3));
    pp_tally_add_other(t);
    pp_tally_result r;
    pp_tally_summarise(t, NULL, 1000, &r);
    assert_int_equal(r.posts_complete, 1000);
    assert_int_equal(r.posts_partial + r.posts_missing + r.duplicates, 0);
    assert_int_equal(r.key_mismatch + r.partition_mismatch, 0);
    assert_int_equal(r.messages, 3000);
    assert_int_equal(r.other, 1);
    pp_tally_destroy(t);
}

static void tally__faults__each_counted(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    for (uint64_t seq = 1; seq <= 10; seq++) {
        if (seq == 4)
            continue; /* missing */
        for (int tb = 0; tb < PP_NTABLES; tb++) {
            if (seq == 2 && tb == PP_USER)
                continue; /* partial */
            int64_t key = (seq == 6 && tb == PP_GEO) ? 999 : (int64_t)seq;
            int32_t part = (seq == 7 && tb == PP_PIN) ? 2 : 0;
            pp_tally_add(t, "a", seq, tb, key, part);
        }
    }
    pp_tally_add(t, "a", 9, PP_GEO, 9, 0); /* duplicate */
    pp_tally_add(t, "b", 1, PP_PIN, 1, 0); /* another instance */
    pp_tally_result r;
    pp_tally_summarise(t, "a", 12, &r);
    assert_int_equal(r.posts_complete, 8); /* 1..10 minus 2 (partial) and 4 (missing) */
    assert_int_equal(r.posts_partial, 1);
    assert_int_equal(r.posts_missing, 3); /* 4, 11, 12 */
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.key_mismatch, 1);
    assert_int_equal(r.partition_mismatch, 1);
    assert_int_equal(r.other, 1);
    assert_int_equal(pp_tally_instances(t), 2);

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pp_tally_print_problems(t, "a", 12, f, 20);
    fclose(f);
    assert_non_null(strstr(out, "a seq 2 key 2: pin 1 geo 1 user 0"));
    assert_non_null(strstr(out, "a seq 4: missing"));
    assert_non_null(strstr(out, "keys differ"));
    free(out);

    pp_tally_summarise(t, "nobody", 5, &r);
    assert_int_equal(r.posts_missing, 5);
    pp_tally_destroy(t);
}

/* Resident memory in MB, from /proc/self/statm. */
static long rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

/* One post of three messages, the way pinpostd writes it. */
static void add_post(pp_tally *t, const char *inst, uint64_t seq)
{
    for (int tb = 0; tb < PP_NTABLES; tb++)
        pp_tally_add(t, inst, seq, tb, 42, 0);
}

/* A header's sequence number decides nothing about memory: 2^62 + 1 once overflowed
 * cap * sizeof(slot) into a 1-byte buffer, 2^34 asked for 512 GB. */
static void tally__huge_seq__counted_in_bounded_memory(void **state)
{
    (void)state;
    alarm(20); /* a loop over the sequence numbers would never end */
    static const uint64_t hostile[] = {(1ULL << 62) + 1, 1ULL << 34, INT64_MAX, 1ULL << 63};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        pp_tally *t = pp_tally_new();
        for (uint64_t seq = 1; seq <= 5; seq++)
            add_post(t, "a", seq);
        add_post(t, "a", hostile[i]);
        pp_tally_result r;
        pp_tally_summarise(t, NULL, 5, &r);
        assert_int_equal(r.posts_complete, 5);
        assert_int_equal(r.posts_unexpected, 1); /* outside 1..expected: a problem */
        assert_int_equal(r.posts_missing + r.posts_partial, 0);
        assert_int_equal(r.max_seq, hostile[i]);
        assert_int_equal(r.messages, 18);
        /* Without an expected count every number up to the highest is owed. */
        pp_tally_summarise(t, NULL, 0, &r);
        assert_int_equal(r.posts_complete, 6);
        assert_int_equal(r.posts_missing, hostile[i] - 6);
        assert_int_equal(r.posts_unexpected, 0);

        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        pp_tally_print_problems(t, NULL, 5, f, 10);
        fclose(f);
        char want[96];
        snprintf(want, sizeof(want), "a seq %llu key 42: pin 1 geo 1 user 1 message(s), beyond",
                 (unsigned long long)hostile[i]);
        assert_non_null(strstr(out, want));
        free(out);
        pp_tally_destroy(t);
    }

    /* Many scattered numbers, many instances: memory follows the messages. */
    long before = rss_mb();
    pp_tally *t = pp_tally_new();
    for (uint64_t i = 1; i <= 100000; i++) {
        pp_tally_add(t, "a", i << 40, PP_PIN, 1, 0);
        if (i % 10 == 0) {
            char name[32];
            snprintf(name, sizeof(name), "i%llu", (unsigned long long)i);
            pp_tally_add(t, name, i << 30, PP_GEO, 1, 0);
        }
    }
    long grown = rss_mb() - before;
    if (grown > 200)
        fail_msg("110000 messages took %ld MB", grown);
    assert_int_equal(pp_tally_instances(t), 10001);
    pp_tally_result r;
    pp_tally_summarise(t, "a", 0, &r);
    assert_int_equal(r.posts_partial, 100000);
    assert_int_equal(r.posts_missing, (100000ULL << 40) - 100000);
    assert_int_equal(r.other, 10000);
    pp_tally_destroy(t);
    alarm(0);
}

/* --expect 10^18 with a handful of posts: missing ones are counted, not visited, and only
 * the first ten are listed. */
static void tally__huge_expect__counted_and_listed_briefly(void **state)
{
    (void)state;
    alarm(20);
    pp_tally *t = pp_tally_new();
    for (uint64_t seq = 1; seq <= 3; seq++)
        add_post(t, "a", seq);
    pp_tally_result r;
    pp_tally_summarise(t, "a", 1000000000000000000ULL, &r);
    assert_int_equal(r.posts_complete, 3);
    assert_int_equal(r.posts_missing, 1000000000000000000ULL - 3);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pp_tally_print_problems(t, "a", 1000000000000000000ULL, f, 10);
    fclose(f);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 10);
    assert_non_null(strstr(out, "  a seq 4: missing\n"));
    assert_non_null(strstr(out, "  a seq 13: missing\n"));
    free(out);
    pp_tally_destroy(t);
    alarm(0);
}

/* Posts arriving out of order (one partition of many read first) land in the hash table
 * and move into the dense array as it grows; each is still counted once, in order. */
static void tally__out_of_order__same_as_in_order(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    for (uint64_t seq = 3000; seq >= 1; seq--) {
        if (seq == 1500)
            continue; /* missing */
        for (int tb = 0; tb < PP_NTABLES; tb++) {
            if (seq == 2999 && tb == PP_GEO)
                continue; /* partial */
            pp_tally_add(t, "a", seq, tb, (int64_t)seq, 0);
        }
    }
    pp_tally_add(t, "a", 7, PP_PIN, 8, 0);        /* duplicate, key differs */
    pp_tally_add(t, "a", 2500, PP_USER, 2500, 1); /* duplicate, partition differs */
    pp_tally_add(t, "a", 5000000, PP_PIN, 1, 0);  /* far beyond */
    pp_tally_result r;
    pp_tally_summarise(t, "a", 3000, &r);
    assert_int_equal(r.posts_complete, 2998);
    assert_int_equal(r.posts_partial, 1);
    assert_int_equal(r.posts_missing, 1);
    assert_int_equal(r.posts_unexpected, 1);
    assert_int_equal(r.duplicates, 2);
    assert_int_equal(r.key_mismatch, 1);
    assert_int_equal(r.partition_mismatch, 1);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pp_tally_print_problems(t, "a", 3000, f, 10);
    fclose(f);
    const char *want[] = {"a seq 7 key 7: pin 2 geo 1 user 1 message(s), keys differ\n",
                          "a seq 1500: missing\n",
                          "a seq 2500 key 2500: pin 1 geo 1 user 2 message(s), partitions differ\n",
                          "a seq 2999 key 2999: pin 1 geo 0 user 1 message(s)\n",
                          "a seq 5000000 key 1: pin 1 geo 0 user 0 message(s), beyond"};
    const char *at = out;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *hit = strstr(at, want[i]);
        if (!hit)
            fail_msg("'%s' not listed (in order) in:\n%s", want[i], out);
        at = hit;
    }
    free(out);
    pp_tally_destroy(t);
}

/* An instance name comes from a header: listed escaped, never as terminal control. */
static void tally__hostile_instance_name__escaped(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    pp_tally_add(t, "x\x1b[2J\n", 2, PP_PIN, 1, 0);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    pp_tally_print_problems(t, NULL, 0, f, 10);
    fclose(f);
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "  x\\x1b[2J\\n seq 1: missing\n"));
    free(out);
    pp_tally_destroy(t);
}

static const pp_db_column geo_cols[] = {
    {"ind", MYSQL_TYPE_LONG},           {"timestamp", MYSQL_TYPE_DATETIME},
    {"latitude", MYSQL_TYPE_FLOAT},     {"amount", MYSQL_TYPE_NEWDECIMAL},
    {"country", MYSQL_TYPE_VAR_STRING}, {"note", MYSQL_TYPE_BLOB}};

static int check(const char *json, char **row, char *why)
{
    unsigned long lengths[6];
    for (int i = 0; i < 6; i++)
        lengths[i] = row[i] ? strlen(row[i]) : 0;
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    int rc = pp_rowcheck(v, geo_cols, 6, row, lengths, why, 256);
    cJSON_Delete(v);
    return rc;
}

static void rowcheck__equal_row__matches(void **state)
{
    (void)state;
    char why[256] = "";
    /* The FLOAT arrives as CAST(... AS DOUBLE): its exact value. DATETIME(3) prints its
     * declared precision; the message prints .ffffff only for non-zero fractions. */
    char *row[] = {"7528",  "2020-08-28 03:52:47.000", "-89.97869873046875",
                   "12.50", "Côte d'Ivoire",           NULL};
    assert_int_equal(check("{\"ind\":7528,\"timestamp\":\"2020-08-28 03:52:47\","
                           "\"latitude\":-89.9787,\"amount\":\"12.50\","
                           "\"country\":\"Côte d'Ivoire\",\"note\":null}",
                           row, why),
                     0);
}

static void rowcheck__differences__each_named(void **state)
{
    (void)state;
    char *row[] = {"1", "2020-01-01 00:00:00", "1.5", "1.00", "France", "x\xFFy"};
    static const struct {
        const char *json;
        const char *words;
    } cases[] = {
        {"{\"ind\":2,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "ind"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:01\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "timestamp"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.6,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "latitude"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":1,"
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "amount"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"Atlantis\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "country"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"xy\"}",
         "note"},
        {"{\"timestamp\":\"2020-01-01 00:00:00\",\"ind\":1,\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}",
         "expected column 'ind'"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\"}",
         "column note missing"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\",\"more\":1}",
         "extra field 'more'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[256] = "";
        if (check(cases[i].json, row, why) != -1)
            fail_msg("case %zu matched but should not", i);
        if (!strstr(why, cases[i].words))
            fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].words);
    }
}

/* Kinesis records join by their partition key "KEY:SEQ:INSTANCE", the shard number as
 * the partition; anything else is another producer's record. */
static void tally__partition_keys__posts_and_other(void **state)
{
    (void)state;
    pp_tally *t = pp_tally_new();
    int64_t key = 0;
    uint64_t seq = 0;
    for (int tb = 0; tb < PP_NTABLES; tb++) {
        assert_int_equal(pp_tally_add_partition_key(t, NULL, "42:1:host:a", 11, tb, 3, &key, &seq),
                         1);
        assert_int_equal(key, 42);
        assert_int_equal(seq, 1);
    }
    /* Post 2 lost its user record; its geo record came twice. */
    assert_int_equal(pp_tally_add_partition_key(t, NULL, "7:2:host:a", 10, PP_PIN, 1, &key, &seq),
                     1);
    assert_int_equal(pp_tally_add_partition_key(t, NULL, "7:2:host:a", 10, PP_GEO, 1, &key, &seq),
                     1);
    assert_int_equal(pp_tally_add_partition_key(t, NULL, "7:2:host:a", 10, PP_GEO, 1, &key, &seq),
                     1);
    /* Not pinpostd's: a bare key (an older pinpostd), sequence 0, garbage, too long. */
    static const char *const others[] = {"42", "42:0:host:a", "x:1:h", "42:1:", ""};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_int_equal(pp_tally_add_partition_key(t, NULL, others[i], strlen(others[i]), PP_PIN,
                                                    0, &key, &seq),
                         0);
    char longkey[PP_PARTITION_KEY_MAX + 2];
    memset(longkey, 'h', sizeof(longkey));
    memcpy(longkey, "1:3:", 4);
    assert_int_equal(
        pp_tally_add_partition_key(t, NULL, longkey, sizeof(longkey), PP_PIN, 0, &key, &seq), 0);
    /* Another instance than the one asked for. */
    assert_int_equal(
        pp_tally_add_partition_key(t, "host:a", "9:3:host:b", 10, PP_PIN, 0, &key, &seq), 0);
    pp_tally_result r;
    pp_tally_summarise(t, "host:a", 0, &r);
    assert_int_equal(r.messages, 6);
    assert_int_equal(r.other, 7);
    assert_int_equal(r.posts_complete, 1);
    assert_int_equal(r.posts_partial, 1);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.max_seq, 2);
    assert_int_equal(pp_tally_instances(t), 1);
    pp_tally_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tally__clean_run__all_complete),
        cmocka_unit_test(tally__faults__each_counted),
        cmocka_unit_test(tally__huge_seq__counted_in_bounded_memory),
        cmocka_unit_test(tally__huge_expect__counted_and_listed_briefly),
        cmocka_unit_test(tally__out_of_order__same_as_in_order),
        cmocka_unit_test(tally__hostile_instance_name__escaped),
        cmocka_unit_test(rowcheck__equal_row__matches),
        cmocka_unit_test(rowcheck__differences__each_named),
        cmocka_unit_test(tally__partition_keys__posts_and_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
