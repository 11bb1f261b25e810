/* Unit tests of live timestamps (emulation.timestamps: now): the DATETIME text against
 * glibc's calendar (seeded property), stamping in place whatever the value's length, the
 * demo source end to end through the sampler, and the verifier's side (form of a live
 * value, columns not compared). */
#include "unit.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <time.h>

#include "pp_config.h"
#include "pp_rng.h"
#include "pp_rowcheck.h"
#include "pp_sampler.h"
#include "pp_source.h"
#include "pp_util.h"

/* The seed of the property tests: PP_TEST_SEED to replay one, else the clock's. */
static uint64_t test_seed(void)
{
    const char *env = getenv("PP_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    print_message("seed %" PRIu64 " (replay with PP_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    return seed;
}

/* What the contract says for wall_us in a column of fsp digits, from gmtime_r (an
 * independent calendar) and the rule: truncate to the column, .ffffff only when non-zero. */
static void expected_text(int64_t wall_us, int fsp, char *out, size_t n)
{
    int64_t secs = wall_us / 1000000, usec = wall_us % 1000000;
    if (usec < 0) {
        usec += 1000000;
        secs--;
    }
    int64_t unit = 1;
    for (int i = fsp; i < 6; i++)
        unit *= 10;
    usec -= usec % unit;
    time_t tt = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&tt, &tm));
    int len = snprintf(out, n, "\"%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (usec)
        len += snprintf(out + len, n - (size_t)len, ".%06" PRId64, usec);
    snprintf(out + len, n - (size_t)len, "\"");
}

static void format__random_instants__equal_gmtime(void **state)
{
    (void)state;
    uint64_t seed = test_seed();
    pp_rng rng;
    pp_rng_seed(&rng, seed, 0);
    /* 0001-01-01 .. 9999-12-31, and the years near now more densely. */
    const int64_t lo = -62135596800LL * 1000000, hi = 253402300799LL * 1000000 + 999999;
    for (int i = 0; i < 200000; i++) {
        int64_t us;
        if (i % 2)
            us = lo + (int64_t)pp_rng_below(&rng, (uint64_t)(hi - lo) + 1);
        else
            us = 1500000000LL * 1000000 + (int64_t)pp_rng_below(&rng, 2000000000ULL * 1000000);
        if (i % 7 == 0)
            us -= us % 1000000; /* whole seconds: no fraction at all */
        int fsp = (int)pp_rng_below(&rng, 7);
        char got[PP_LIVE_TEXT_MAX + 1], want[64];
        size_t n = pp_post_live_format(got, us, fsp);
        got[n] = '\0';
        expected_text(us, fsp, want, sizeof(want));
        if (strcmp(got, want) != 0)
            fail_msg("seed %" PRIu64 ": %" PRId64 " us, fsp %d: %s, expected %s", seed, us, fsp,
                     got, want);
        /* What the writer writes, the verifier accepts for that column. */
        got[n - 1] = '\0';
        if (!pp_rowcheck_datetime_valid(got + 1, fsp))
            fail_msg("seed %" PRIu64 ": %s refused for fsp %d", seed, got + 1, fsp);
    }
}

static void format__edges__clamped_and_exact(void **state)
{
    (void)state;
    static const struct {
        int64_t us;
        int fsp;
        const char *want;
    } cases[] = {
        {0, 0, "\"1970-01-01 00:00:00\""},
        {999999, 0, "\"1970-01-01 00:00:00\""},        /* truncated, not rounded */
        {999999, 3, "\"1970-01-01 00:00:00.999000\""}, /* as DATETIME(3) holds it */
        {1000, 2, "\"1970-01-01 00:00:00\""},          /* a fraction the column drops */
        {-1, 6, "\"1969-12-31 23:59:59.999999\""},
        {951782400LL * 1000000, 0, "\"2000-02-29 00:00:00\""},
        {INT64_MIN, 6, "\"0001-01-01 00:00:00\""},
        {INT64_MAX, 6, "\"9999-12-31 23:59:59.999999\""},
        {1598586767LL * 1000000 + 5, 9, "\"2020-08-28 03:52:47.000005\""},
        {1598586767LL * 1000000 + 5, -3, "\"2020-08-28 03:52:47\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[PP_LIVE_TEXT_MAX + 1];
        size_t n = pp_post_live_format(got, cases[i].us, cases[i].fsp);
        got[n] = '\0';
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s, expected %s", i, got, cases[i].want);
    }
}

/* A post with live columns at random places of its rows, each written as a random value
 * (a placeholder, null, a date with or without fraction): after stamping, each row is the
 * same JSON built directly with the time's text in those places. Stamped twice, the second
 * time wins. */
static void stamp__random_rows__same_as_built_directly(void **state)
{
    (void)state;
    uint64_t seed = test_seed();
    pp_rng rng;
    pp_rng_seed(&rng, seed, 1);
    static const char *olds[] = {"null", "\"2020-08-28 03:52:47\"",
                                 "\"2020-08-28 03:52:47.120000\"", "\"1970-01-01 00:00:00\""};
    for (int round = 0; round < 3000; round++) {
        pp_post p = {0};
        int fields[PP_NTABLES];
        int live_at[PP_NTABLES][8];
        int fsp_of[PP_NTABLES][8];
        size_t nlive = 0;
        for (int t = 0; t < PP_NTABLES; t++) {
            fields[t] = 1 + (int)pp_rng_below(&rng, 7);
            pp_buf_puts(&p.value[t], "{");
            for (int f = 0; f < fields[t]; f++) {
                live_at[t][f] = nlive < PP_LIVE_COLUMNS_MAX && pp_rng_below(&rng, 3) == 0;
                fsp_of[t][f] = (int)pp_rng_below(&rng, 7);
                pp_buf_printf(&p.value[t], "%s\"c%d\":", f ? "," : "", f);
                if (live_at[t][f]) {
                    const char *old = olds[pp_rng_below(&rng, 4)];
                    size_t off = p.value[t].len;
                    pp_buf_puts(&p.value[t], old);
                    assert_int_equal(pp_post_live_mark(&p, t, fsp_of[t][f], off, strlen(old)), 0);
                    nlive++;
                } else {
                    pp_buf_printf(&p.value[t], "\"v%d\"", f);
                }
            }
            pp_buf_puts(&p.value[t], "}");
        }
        int64_t when[2] = {(int64_t)pp_rng_below(&rng, 4000000000ULL * 1000000),
                           (int64_t)pp_rng_below(&rng, 4000000000ULL * 1000000)};
        for (int k = 0; k < 2; k++)
            pp_post_stamp(&p, when[k]);
        for (int t = 0; t < PP_NTABLES; t++) {
            pp_buf want = {0};
            pp_buf_puts(&want, "{");
            for (int f = 0; f < fields[t]; f++) {
                pp_buf_printf(&want, "%s\"c%d\":", f ? "," : "", f);
                if (live_at[t][f]) {
                    char text[64];
                    expected_text(when[1], fsp_of[t][f], text, sizeof(text));
                    pp_buf_puts(&want, text);
                } else {
                    pp_buf_printf(&want, "\"v%d\"", f);
                }
            }
            pp_buf_puts(&want, "}");
            if (strcmp(p.value[t].data, want.data) != 0 || p.value[t].len != want.len)
                fail_msg("seed %" PRIu64 " round %d table %d:\n%s\nexpected\n%s", seed, round, t,
                         p.value[t].data, want.data);
            pp_buf_free(&want);
        }
        pp_post_release(&p);
    }
}

static void mark__beyond_the_limit__refused(void **state)
{
    (void)state;
    pp_post p = {0};
    for (int i = 0; i < PP_LIVE_COLUMNS_MAX; i++)
        assert_int_equal(pp_post_live_mark(&p, PP_GEO, 0, 0, 0), 0);
    assert_int_equal(pp_post_live_mark(&p, PP_GEO, 0, 0, 0), -1);
    assert_int_equal(p.nlive, PP_LIVE_COLUMNS_MAX);
}

/* A configuration with live timestamps in these columns. */
static pp_config *live_config(const char *const *cols, size_t n)
{
    pp_config *c = pp_config_new_defaults();
    for (size_t i = 0; i < c->emulation.nlive; i++)
        free(c->emulation.live[i].column);
    c->emulation.timestamps_now = 1;
    c->emulation.nlive = 0;
    for (size_t i = 0; i < n; i++) {
        const char *dot = strchr(cols[i], '.');
        enum pp_table t = PP_NTABLES;
        for (int k = 0; k < PP_NTABLES; k++)
            if (!strncmp(cols[i], pp_table_names[k], (size_t)(dot - cols[i])))
                t = (enum pp_table)k;
        assert_true(t != PP_NTABLES);
        c->emulation.live[i].table = t;
        c->emulation.live[i].column = pp_xstrdup(dot + 1);
        c->emulation.nlive++;
    }
    return c;
}

/* The string member name of a JSON object text, parsed. */
static char *member(const pp_buf *b, const char *name)
{
    cJSON *v = cJSON_Parse(b->data);
    assert_non_null(v);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, name);
    char *out = cJSON_IsString(m) ? strdup(m->valuestring) : NULL;
    cJSON_Delete(v);
    return out;
}

/* Seconds since the epoch of "YYYY-MM-DD HH:MM:SS", UTC. */
static int64_t parse_utc(const char *s)
{
    struct tm tm = {0};
    assert_non_null(strptime(s, "%Y-%m-%d %H:%M:%S", &tm));
    return (int64_t)timegm(&tm);
}

/* The demo data through the sampler, as pinpostd --demo runs it: every handed-out post
 * carries the hand-out time in geo.timestamp and user.date_joined (whole seconds, UTC),
 * and the rest of the row is what the data set holds. */
static void demo__timestamps_now__stamped_at_hand_out(void **state)
{
    (void)state;
    static const char *const cols[] = {"geo.timestamp", "user.DATE_JOINED"};
    pp_config *c = live_config(cols, 2);
    char err[512] = "";
    pp_source *live = pp_source_demo_open(c, 1, 1000);
    pp_source *plain = pp_source_demo_new(1, 1000);
    pp_config_destroy(c); /* the source copied what it needs */
    /* No explicit connect: pinpostd's runner only refreshes the keyspace and fetches. */
    pp_sampler *s = pp_sampler_new(live, 9, 16, 10);
    pp_sampler *ref = pp_sampler_new(plain, 9, 16, 10);
    for (int i = 0; i < 300; i++) {
        const pp_post *p, *q;
        pp_sample rc;
        int64_t before = pp_wall_us() / 1000000;
        while ((rc = pp_sampler_next(s, &p, err, sizeof(err))) == PP_SAMPLE_UNMATCHED)
            ;
        int64_t after = pp_wall_us() / 1000000;
        assert_int_equal(rc, PP_SAMPLE_POST);
        while ((rc = pp_sampler_next(ref, &q, err, sizeof(err))) == PP_SAMPLE_UNMATCHED)
            ;
        assert_int_equal(p->key, q->key);
        assert_int_equal(p->nlive, 2);
        char *ts = member(&p->value[PP_GEO], "timestamp");
        char *joined = member(&p->value[PP_USER], "date_joined");
        assert_non_null(ts);
        assert_non_null(joined);
        assert_string_equal(ts, joined); /* one instant per post */
        assert_int_equal(strlen(ts), 19);
        int64_t at = parse_utc(ts);
        if (at < before || at > after)
            fail_msg("post %d stamped %s, outside [%" PRId64 ", %" PRId64 "]", i, ts, before,
                     after);
        /* Everything else as the data set has it: put the reference's value in place. */
        cJSON *a = cJSON_Parse(p->value[PP_GEO].data), *b = cJSON_Parse(q->value[PP_GEO].data);
        cJSON_ReplaceItemInObjectCaseSensitive(b, "timestamp", cJSON_CreateString(ts));
        assert_true(cJSON_Compare(a, b, 1));
        assert_string_equal(p->value[PP_PIN].data, q->value[PP_PIN].data);
        cJSON_Delete(a);
        cJSON_Delete(b);
        free(ts);
        free(joined);
    }
    pp_sampler_destroy(s);
    pp_sampler_destroy(ref);
    pp_source_destroy(live);
    pp_source_destroy(plain);
}

static void demo__bad_live_columns__fatal_naming_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *col;
        const char *words[3];
    } cases[] = {
        {"geo.country",
         {"emulation.timestamp_columns: geo.country", "VARCHAR(64)", "not DATETIME"}},
        {"pin.downloaded", {"pin.downloaded", "INT", "not DATETIME"}},
        {"geo.nothere", {"geo.nothere", "no column 'nothere'", "table.column"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_config *c = live_config(&cases[i].col, 1);
        pp_source *s = pp_source_demo_open(c, 1, 100);
        char err[512] = "", err2[512] = "";
        assert_int_equal(pp_source_connect(s, err, sizeof(err)), PP_SRC_FATAL);
        for (int w = 0; w < 3; w++)
            if (!strstr(err, cases[i].words[w]))
                fail_msg("%s: '%s' lacks '%s'", cases[i].col, err, cases[i].words[w]);
        pp_source_destroy(s);
        /* The runner's way in, the keyspace, fails the same way. */
        s = pp_source_demo_open(c, 1, 100);
        pp_sampler *sm = pp_sampler_new(s, 1, 8, 10);
        assert_int_equal(pp_sampler_refresh(sm, err2, sizeof(err2)), PP_SRC_FATAL);
        assert_string_equal(err, err2);
        pp_sampler_destroy(sm);
        pp_source_destroy(s);
        pp_config_destroy(c);
    }
    /* Off: the columns are not looked at, nothing is stamped. */
    pp_config *c = live_config(&cases[0].col, 1);
    c->emulation.timestamps_now = 0;
    pp_source *s = pp_source_demo_open(c, 1, 100);
    char err[512] = "";
    assert_int_equal(pp_source_connect(s, err, sizeof(err)), PP_SRC_OK);
    pp_sampler *sm = pp_sampler_new(s, 1, 8, 10);
    const pp_post *p;
    while (pp_sampler_next(sm, &p, err, sizeof(err)) == PP_SAMPLE_UNMATCHED)
        ;
    assert_int_equal(p->nlive, 0);
    pp_sampler_destroy(sm);
    pp_source_destroy(s);
    pp_config_destroy(c);
}

static void datetime_valid__cases(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int fsp, ok;
    } cases[] = {
        {"2020-08-28 03:52:47", 0, 1},
        {"2020-08-28 03:52:47", 6, 1},
        {"2020-08-28 03:52:47.123456", 6, 1},
        {"2020-08-28 03:52:47.123000", 3, 1},
        {"2020-08-28 03:52:47.123400", 3, 0}, /* more digits than the column keeps */
        {"2020-08-28 03:52:47.100000", 0, 0},
        {"2020-08-28 03:52:47.000000", 6, 0}, /* the contract leaves a zero fraction out */
        {"2020-08-28 03:52:47.123", 3, 0},    /* six digits or none */
        {"2024-02-29 00:00:00", 0, 1},
        {"2023-02-29 00:00:00", 0, 0},
        {"1900-02-29 00:00:00", 0, 0},
        {"2000-02-29 00:00:00", 0, 1},
        {"2020-04-31 00:00:00", 0, 0},
        {"2020-13-01 00:00:00", 0, 0},
        {"2020-00-01 00:00:00", 0, 0},
        {"0000-01-01 00:00:00", 0, 0},
        {"2020-01-01 24:00:00", 0, 0},
        {"2020-01-01 23:60:00", 0, 0},
        {"2020-01-01 23:59:60", 0, 0},
        {"2020-01-01T23:59:59", 0, 0},
        {"2020-1-01 23:59:59", 0, 0},
        {"2020-01-01 23:59:59Z", 0, 0},
        {"+020-01-01 23:59:59", 0, 0},
        {"", 0, 0},
        {"now", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (pp_rowcheck_datetime_valid(cases[i].s, cases[i].fsp) != cases[i].ok)
            fail_msg("'%s' fsp %d: expected %s", cases[i].s, cases[i].fsp,
                     cases[i].ok ? "valid" : "refused");
}

static const pp_db_column geo_cols[] = {{"ind", MYSQL_TYPE_LONG},
                                        {"timestamp", MYSQL_TYPE_DATETIME},
                                        {"latitude", MYSQL_TYPE_FLOAT},
                                        {"country", MYSQL_TYPE_VAR_STRING}};

static int check_live(const char *json, char **row, const int *live, char *why)
{
    unsigned long lengths[4];
    for (int i = 0; i < 4; i++)
        lengths[i] = row[i] ? strlen(row[i]) : 0;
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    int rc = pp_rowcheck_live(v, geo_cols, live, 4, row, lengths, why, 256);
    cJSON_Delete(v);
    return rc;
}

/* A live column is checked for form, never against the row (NULL there too); every other
 * column is still compared. */
static void rowcheck_live__form_only_for_live_columns(void **state)
{
    (void)state;
    static const int live0[] = {-1, 0, -1, -1}, live3[] = {-1, 3, -1, -1};
    char *row[] = {"7", "2019-01-01 00:00:00", "1.5", "France"};
    char *row_null[] = {"7", NULL, "1.5", "France"};
    char why[256];
    const char *now = "{\"ind\":7,\"timestamp\":\"2031-05-06 07:08:09\",\"latitude\":1.5,"
                      "\"country\":\"France\"}";
    assert_int_equal(check_live(now, row, live0, why), 0);
    assert_int_equal(check_live(now, row_null, live0, why), 0);
    assert_int_equal(check_live(now, row, NULL, why), -1); /* not live: compared */
    assert_non_null(strstr(why, "timestamp"));
    assert_int_equal(check_live("{\"ind\":7,\"timestamp\":\"2031-05-06 07:08:09.250000\","
                                "\"latitude\":1.5,\"country\":\"France\"}",
                                row, live3, why),
                     0);
    static const char *const bad[] = {
        "{\"ind\":7,\"timestamp\":\"2031-05-06 07:08:09.250000\",\"latitude\":1.5,"
        "\"country\":\"France\"}", /* a fraction in a DATETIME(0) */
        "{\"ind\":7,\"timestamp\":null,\"latitude\":1.5,\"country\":\"France\"}",
        "{\"ind\":7,\"timestamp\":1620284889,\"latitude\":1.5,\"country\":\"France\"}",
        "{\"ind\":7,\"timestamp\":\"2031-02-30 07:08:09\",\"latitude\":1.5,"
        "\"country\":\"France\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check_live(bad[i], row, live0, why) != -1)
            fail_msg("bad live value %zu accepted", i);
        assert_non_null(strstr(why, "timestamp: a live timestamp"));
    }
    /* The other columns are compared as ever. */
    assert_int_equal(check_live("{\"ind\":7,\"timestamp\":\"2031-05-06 07:08:09\","
                                "\"latitude\":1.5,\"country\":\"Atlantis\"}",
                                row, live0, why),
                     -1);
    assert_non_null(strstr(why, "country"));
}

static void parse_live__cases(void **state)
{
    (void)state;
    enum pp_table t;
    char col[16], why[256];
    assert_int_equal(pp_rowcheck_parse_live("geo.timestamp", &t, col, sizeof(col), why, 256), 0);
    assert_int_equal(t, PP_GEO);
    assert_string_equal(col, "timestamp");
    assert_int_equal(pp_rowcheck_parse_live("user.date_joined", &t, col, sizeof(col), why, 256), 0);
    assert_int_equal(t, PP_USER);
    static const char *const bad[] = {"timestamp",
                                      "geo.",
                                      ".timestamp",
                                      "geolocation.x",
                                      "Geo.timestamp",
                                      "geo.a_column_name_too_long",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (pp_rowcheck_parse_live(bad[i], &t, col, sizeof(col), why, 256) != -1)
            fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format__random_instants__equal_gmtime),
        cmocka_unit_test(format__edges__clamped_and_exact),
        cmocka_unit_test(stamp__random_rows__same_as_built_directly),
        cmocka_unit_test(mark__beyond_the_limit__refused),
        cmocka_unit_test(demo__timestamps_now__stamped_at_hand_out),
        cmocka_unit_test(demo__bad_live_columns__fatal_naming_the_key),
        cmocka_unit_test(datetime_valid__cases),
        cmocka_unit_test(rowcheck_live__form_only_for_live_columns),
        cmocka_unit_test(parse_live__cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
