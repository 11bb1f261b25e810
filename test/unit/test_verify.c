/* Unit tests of the verifier's ledger and of the message-versus-row comparison. */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include "pp_rowcheck.h"
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
    assert_int_equal(r.posts_complete, 8);      /* 1..10 minus 2 (partial) and 4 (missing) */
    assert_int_equal(r.posts_partial, 1);
    assert_int_equal(r.posts_missing, 3);       /* 4, 11, 12 */
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

static const pp_db_column geo_cols[] = {{"ind", MYSQL_TYPE_LONG},
                                        {"timestamp", MYSQL_TYPE_DATETIME},
                                        {"latitude", MYSQL_TYPE_FLOAT},
                                        {"amount", MYSQL_TYPE_NEWDECIMAL},
                                        {"country", MYSQL_TYPE_VAR_STRING},
                                        {"note", MYSQL_TYPE_BLOB}};

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
    char *row[] = {"7528", "2020-08-28 03:52:47.000", "-89.97869873046875", "12.50",
                   "Côte d'Ivoire", NULL};
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
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}", "ind"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:01\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}", "timestamp"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.6,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}", "latitude"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":1,"
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}", "amount"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"Atlantis\",\"note\":\"x\xEF\xBF\xBDy\"}", "country"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"xy\"}", "note"},
        {"{\"timestamp\":\"2020-01-01 00:00:00\",\"ind\":1,\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\"}", "expected column 'ind'"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\"}", "column note missing"},
        {"{\"ind\":1,\"timestamp\":\"2020-01-01 00:00:00\",\"latitude\":1.5,\"amount\":\"1.00\","
         "\"country\":\"France\",\"note\":\"x\xEF\xBF\xBDy\",\"more\":1}", "extra field 'more'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[256] = "";
        if (check(cases[i].json, row, why) != -1)
            fail_msg("case %zu matched but should not", i);
        if (!strstr(why, cases[i].words))
            fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].words);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tally__clean_run__all_complete),
        cmocka_unit_test(tally__faults__each_counted),
        cmocka_unit_test(rowcheck__equal_row__matches),
        cmocka_unit_test(rowcheck__differences__each_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
