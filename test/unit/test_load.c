/* Unit tests of the load's parser: durations, the stage text, times of day, zones. */
#include "unit.h"

#include <math.h>

#include "pp_load.h"
#include "pp_rng.h"
#include "pp_util.h"

static uint64_t g_seed; /* base seed of the property tests: LOAD_SEED=N replays a run */

static void duration__every_unit__seconds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double want;
    } ok[] = {
        {"500ms", 0.5},  {"30s", 30},    {"5m", 300},    {"2h", 7200},     {"1d", 86400},
        {"1.5h", 5400},  {"90", 90},     {"1e3s", 1000}, {"0.001", 0.001}, {"1ms", 0.001},
        {"1e12s", 1e12}, {"1e12", 1e12}, {"0.25m", 15},  {"+5s", 5},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double v = -1;
        char err[256] = "";
        if (pp_load_parse_duration(ok[i].text, &v, err, sizeof(err)) || v != ok[i].want)
            fail_msg("'%s': got %g (%s), want %g", ok[i].text, v, err, ok[i].want);
    }
}

static void duration__bad__refused_with_the_form(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      "0",    "0s",   "-1s",  "nan",   "inf",   "1e300", "1e13s", "5x",
        "5 s",   " 5s",  "5s ",  "s",    "1e",    "0x10s", "2w",    "1e-4s", "5S",
        "0.5ms", "NaNs", "infs", "--1s", "1e400", "1,5s",  ".5.s",  "5sec",  "forever",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v = 42;
        char err[256] = "";
        if (!pp_load_parse_duration(bad[i], &v, err, sizeof(err)))
            fail_msg("'%s' accepted as %g", bad[i], v);
        assert_true(v == 42); /* untouched on error */
        if (!strstr(err, "duration") && !strstr(err, "range"))
            fail_msg("'%s': message '%s' says neither what nor how", bad[i], err);
    }
    double v;
    char err[256];
    assert_int_equal(pp_load_parse_duration(NULL, &v, err, sizeof(err)), -1);
}

static void stages__every_form__parsed(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        pp_stage_kind kind;
        double from, to, dur;
    } ok[] = {
        {"100/s:30s", PP_STAGE_RATE, 100, 0, 30},
        {"0/s:1m", PP_STAGE_RATE, 0, 0, 60},
        {"0.001/s:1s", PP_STAGE_RATE, 0.001, 0, 1},
        {"1e9/s:1s", PP_STAGE_RATE, 1e9, 0, 1},
        {"1e3/s:90", PP_STAGE_RATE, 1000, 0, 90},
        {"ramp 100-5000/s:5m", PP_STAGE_RAMP, 100, 5000, 300},
        {"ramp   0-10/s:1s", PP_STAGE_RAMP, 0, 10, 1},
        {"ramp\t5000-0/s:2h", PP_STAGE_RAMP, 5000, 0, 7200},
        {"ramp 1e-3-2e3/s:1s", PP_STAGE_RAMP, 0.001, 2000, 1},
        {"pause:10s", PP_STAGE_PAUSE, 0, 0, 10},
        {"pause:forever", PP_STAGE_PAUSE, 0, 0, INFINITY},
        {"delay 0.5-1.5:1m", PP_STAGE_DELAY, 0.5, 1.5, 60},
        {"delay 0-0:1s", PP_STAGE_DELAY, 0, 0, 1},
        {"delay 1e-3-86400:1d", PP_STAGE_DELAY, 0.001, 86400, 86400},
        {"diurnal:forever", PP_STAGE_DIURNAL, 0, 0, INFINITY},
        {"diurnal:7d", PP_STAGE_DIURNAL, 0, 0, 7 * 86400},
        {"  100/s:30s  ", PP_STAGE_RATE, 100, 0, 30},
        {"5/s:forever", PP_STAGE_RATE, 5, 0, INFINITY},
        {"delay 2-2:forever", PP_STAGE_DELAY, 2, 2, INFINITY},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        pp_load l;
        memset(&l, 0, sizeof(l));
        char err[256] = "";
        if (pp_load_parse_stages(ok[i].text, &l, err, sizeof(err)))
            fail_msg("'%s' refused: %s", ok[i].text, err);
        assert_int_equal(l.nstages, 1);
        assert_int_equal(l.repeat, 0);
        const pp_stage *s = &l.stage[0];
        if (s->kind != ok[i].kind || s->from != ok[i].from || s->duration_s != ok[i].dur ||
            (ok[i].kind == PP_STAGE_RAMP || ok[i].kind == PP_STAGE_DELAY ? s->to != ok[i].to : 0))
            fail_msg("'%s': kind %d %g-%g for %g s", ok[i].text, s->kind, s->from, s->to,
                     s->duration_s);
    }
}

static void stages__a_list_with_repeat__in_order(void **state)
{
    (void)state;
    pp_load l;
    memset(&l, 0, sizeof(l));
    char err[256];
    assert_int_equal(pp_load_parse_stages(" 100/s:30s , ramp 100-5000/s:5m,pause:1s,  delay 1-2:1m,"
                                          "diurnal:1h , repeat ",
                                          &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.nstages, 5);
    assert_int_equal(l.repeat, 1);
    static const pp_stage_kind kinds[] = {PP_STAGE_RATE, PP_STAGE_RAMP, PP_STAGE_PAUSE,
                                          PP_STAGE_DELAY, PP_STAGE_DIURNAL};
    static const double durs[] = {30, 300, 1, 60, 3600};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(l.stage[i].kind, kinds[i]);
        assert_true(l.stage[i].duration_s == durs[i]);
    }
    /* A list of strings: each appends. */
    memset(&l, 0, sizeof(l));
    assert_int_equal(pp_load_parse_stages("100/s:1s", &l, err, sizeof(err)), 0);
    assert_int_equal(pp_load_parse_stages("pause:2s,repeat", &l, err, sizeof(err)), 0);
    assert_int_equal(l.nstages, 2);
    assert_int_equal(l.repeat, 1);
    assert_true(l.stage[1].kind == PP_STAGE_PAUSE && l.stage[1].duration_s == 2);
}

static void stages__bad__item_named_and_form_given(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* substrings of the message, '|' between them */
    } bad[] = {
        {"", "no stages"},
        {"   ", "no stages"},
        {"0", "item 1 '0'|no ':DURATION'|RATE/s:DURATION"},
        {"-1/s:5s", "item 1 '-1/s:5s'|out of range"},
        {"nan/s:5s", "item 1|not a number|RATE/s:DURATION"},
        {"NaN/s:5s", "not a number"},
        {"inf/s:5s", "not a number"},
        {"1e300/s:5s", "out of range"},
        {"1e400/s:5s", "not a number"},
        {"0.0001/s:5s", "out of range"},
        {"2e9/s:5s", "out of range"},
        {"100/s:0s", "item 1|out of range|1ms"},
        {"100/s:-1s", "out of range"},
        {"100/s:nan", "not a duration"},
        {"100/s:inf", "not a duration"},
        {"100/s:1e300s", "out of range"},
        {"100/s:5x", "not a duration: unknown unit"},
        {"100/s:", "empty duration"},
        {"100:30s", "no unit '/s'|RATE/s:DURATION"},
        {"100/m:30s", "no unit '/s'"},
        {"100/s", "no ':DURATION'"},
        {",100/s:1s", "item 1 ''|empty item"},
        {"100/s:1s,", "item 2 ''|empty item"},
        {"100/s:1s,,pause:1s", "item 2|empty item"},
        {",", "item 1|empty item"},
        {"jump 1-2/s:1s", "item 1 'jump 1-2/s:1s'|unknown stage|ramp FROM-TO/s:DURATION"},
        {"Pause:1s", "unknown stage"},
        {"100/s:1s,wait:5s", "item 2 'wait:5s'|unknown stage"},
        {"ramp 100-/s:5m", "item 1 'ramp 100-/s:5m'|not two numbers|write ramp FROM-TO/s:DURATION"},
        {"ramp -/s:5m", "not two numbers"},
        {"ramp 100/s:5m", "not two numbers"},
        {"ramp 1-2:5s", "no unit '/s'"},
        {"ramp1-2/s:5s", "a blank must follow 'ramp'"},
        {"ramp 0-0/s:5s", "sends nothing"},
        {"ramp -5-10/s:5s", "out of range"},
        {"ramp 5-2e9/s:5s", "out of range"},
        {"ramp nan-5/s:5s", "not two numbers"},
        {"ramp 1-2/s:forever", "finite duration"},
        {"ramp 1-2/s", "no ':DURATION'"},
        {"delay 2-1:5s", "MIN is greater than MAX|delay MIN-MAX:DURATION"},
        {"delay 0-90000:5s", "out of range"},
        {"delay -1-2:5s", "out of range"},
        {"delay 1-2/s:5s", "not two numbers"},
        {"delay 1:5s", "not two numbers"},
        {"pause 1s", "no ':DURATION'"},
        {"pause :1s", "nothing may come between"},
        {"pause:1s:2s", "not a duration"},
        {"diurnal 5:1s", "nothing may come between"},
        {"repeat", "item 1 'repeat'|no stages to repeat"},
        {"repeat,100/s:1s", "item 1|no stages to repeat"},
        {"100/s:1s,repeat,pause:1s", "item 3 'pause:1s'|follows repeat"},
        {"100/s:1s,repeat,repeat", "item 3|follows repeat"},
        {"repeat:5", "repeat takes nothing"},
        {"100/s:forever,pause:1s", "item 2 'pause:1s'|follows a stage that lasts forever"},
        {"100/s:forever,repeat", "item 2 'repeat'|never repeats"},
        {"100/s:30s\x01", "item 1 '100/s:30s?'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pp_load l;
        memset(&l, 0, sizeof(l));
        char err[512] = "";
        if (!pp_load_parse_stages(bad[i].text, &l, err, sizeof(err)))
            fail_msg("'%s' accepted", bad[i].text);
        if (l.nstages || l.repeat)
            fail_msg("'%s': appended on error", bad[i].text);
        char want[256];
        snprintf(want, sizeof(want), "%s", bad[i].want);
        for (char *w = strtok(want, "|"); w; w = strtok(NULL, "|"))
            if (!strstr(err, w))
                fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, err, w);
    }
}

static void stages__sixty_five__refused_at_the_sixty_fifth(void **state)
{
    (void)state;
    char text[64 * 16 + 32] = "", err[256];
    for (int i = 0; i < 64; i++)
        strcat(text, i ? ",1/s:1s" : "1/s:1s");
    pp_load l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(pp_load_parse_stages(text, &l, err, sizeof(err)), 0);
    assert_int_equal(l.nstages, PP_STAGES_MAX);
    memset(&l, 0, sizeof(l));
    strcat(text, ",2/s:1s");
    assert_int_equal(pp_load_parse_stages(text, &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "item 65 '2/s:1s'"));
    assert_non_null(strstr(err, "more than 64 stages"));
    assert_int_equal(l.nstages, 0);
    /* "repeat" is not a stage: 64 stages and repeat fit. */
    text[strlen(text) - strlen(",2/s:1s")] = '\0';
    strcat(text, ",repeat");
    assert_int_equal(pp_load_parse_stages(text, &l, err, sizeof(err)), 0);
    assert_int_equal(l.repeat, 1);
}

static void stages__appended__limits_count_the_list_before(void **state)
{
    (void)state;
    pp_load l;
    char err[256];
    memset(&l, 0, sizeof(l));
    l.nstages = 60;
    assert_int_equal(
        pp_load_parse_stages("1/s:1s,1/s:1s,1/s:1s,1/s:1s,1/s:1s", &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "item 5"));
    assert_int_equal(l.nstages, 60);
    memset(&l, 0, sizeof(l));
    assert_int_equal(pp_load_parse_stages("1/s:forever", &l, err, sizeof(err)), 0);
    assert_int_equal(pp_load_parse_stages("pause:1s", &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lasts forever"));
    assert_int_equal(l.nstages, 1);
    memset(&l, 0, sizeof(l));
    assert_int_equal(pp_load_parse_stages("1/s:1s,repeat", &l, err, sizeof(err)), 0);
    assert_int_equal(pp_load_parse_stages("pause:1s", &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "follows repeat"));
    assert_int_equal(l.nstages, 1);
}

static void describe__known__the_syntax(void **state)
{
    (void)state;
    static const struct {
        pp_stage s;
        const char *want;
    } cases[] = {
        {{PP_STAGE_RAMP, 100, 5000, 300}, "ramp 100-5000/s:300s"},
        {{PP_STAGE_RATE, 0.1, 0, 30}, "0.1/s:30s"},
        {{PP_STAGE_RATE, 0, 0, INFINITY}, "0/s:forever"},
        {{PP_STAGE_PAUSE, 0, 0, 1.5}, "pause:1.5s"},
        {{PP_STAGE_DELAY, 0.5, 1.5, 60}, "delay 0.5-1.5:60s"},
        {{PP_STAGE_DIURNAL, 0, 0, 86400}, "diurnal:86400s"},
        {{PP_STAGE_RATE, 1e9, 0, 1e12}, "1e+09/s:1e+12s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        pp_load_describe_stage(&cases[i].s, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
}

/* A value drawn over many magnitudes in [lo, hi], with all 53 bits of a double. */
static double draw(pp_rng *r, double lo, double hi)
{
    double v = lo * pow(hi / lo, pp_rng_unit(r));
    return v < lo ? lo : v > hi ? hi : v;
}

static void describe__random_stages__parse_back_exactly(void **state)
{
    (void)state;
    pp_rng r;
    pp_rng_seed(&r, g_seed, 1);
    for (int i = 0; i < 20000; i++) {
        pp_stage s = {0};
        s.kind = (pp_stage_kind)pp_rng_below(&r, 5);
        s.duration_s = pp_rng_below(&r, 10) ? draw(&r, 0.001, 1e12) : INFINITY;
        if (s.kind == PP_STAGE_RAMP && isinf(s.duration_s))
            s.duration_s = 60;
        switch (s.kind) {
        case PP_STAGE_RATE: s.from = pp_rng_below(&r, 10) ? draw(&r, 0.001, 1e9) : 0; break;
        case PP_STAGE_RAMP:
            s.from = pp_rng_below(&r, 5) ? draw(&r, 0.001, 1e9) : 0;
            s.to = draw(&r, 0.001, 1e9);
            break;
        case PP_STAGE_DELAY:
            s.from = pp_rng_below(&r, 5) ? draw(&r, 0.001, 86400) : 0;
            s.to = s.from + (86400 - s.from) * pp_rng_unit(&r);
            break;
        default: break;
        }
        char text[128], err[256];
        pp_load_describe_stage(&s, text, sizeof(text));
        pp_load l;
        memset(&l, 0, sizeof(l));
        if (pp_load_parse_stages(text, &l, err, sizeof(err)))
            fail_msg("seed %llu case %d: '%s' refused: %s", (unsigned long long)g_seed, i, text,
                     err);
        assert_int_equal(l.nstages, 1);
        const pp_stage *b = &l.stage[0];
        if (b->kind != s.kind || b->from != s.from || b->to != s.to ||
            b->duration_s != s.duration_s)
            fail_msg("seed %llu case %d: '%s' read back as %d %.17g-%.17g %.17g",
                     (unsigned long long)g_seed, i, text, l.stage[0].kind, l.stage[0].from,
                     l.stage[0].to, l.stage[0].duration_s);
    }
}

static void time_of_day__forms_and_limits(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double want;
    } ok[] = {{"19:00", 68400}, {"7:30", 27000}, {"07:30", 27000},   {"23:59:59", 86399},
              {"00:00", 0},     {"0:00:01", 1},  {"12:34:56", 45296}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double v = -1;
        char err[256];
        if (pp_load_parse_time_of_day(ok[i].text, &v, err, sizeof(err)) || v != ok[i].want)
            fail_msg("'%s': %g, want %g", ok[i].text, v, ok[i].want);
    }
    static const char *const bad[] = {"24:00",   "19:60",  "19",    "19:00:60", "1900",
                                      " 19:00",  "19:00 ", "-1:00", "19:0",     "",
                                      "19:00:5", "123:00", "7pm",   "19.5",     "19:00:00:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v = 42;
        char err[256] = "";
        if (!pp_load_parse_time_of_day(bad[i], &v, err, sizeof(err)))
            fail_msg("'%s' accepted as %g", bad[i], v);
        assert_non_null(strstr(err, "HH:MM"));
    }
}

static void zone__forms__offsets_and_names_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int local;
        int32_t off;
    } ok[] = {{"UTC", 0, 0},         {"utc", 0, 0},        {"Z", 0, 0},
              {"GMT", 0, 0},         {"local", 1, 0},      {"+05:30", 0, 19800},
              {"-08:00", 0, -28800}, {"UTC+2", 0, 7200},   {"UTC-3:30", 0, -12600},
              {"+5", 0, 18000},      {"+18:00", 0, 64800}, {"-00:00", 0, 0},
              {"UTC+14", 0, 50400}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        pp_diurnal d = {.tz_local = 7, .utc_offset_s = 7};
        char err[256];
        if (pp_load_parse_zone(ok[i].text, &d, err, sizeof(err)) || d.tz_local != ok[i].local ||
            d.utc_offset_s != ok[i].off)
            fail_msg("'%s': local %d offset %d", ok[i].text, d.tz_local, (int)d.utc_offset_s);
    }
    static const struct {
        const char *text, *want;
    } bad[] = {{"Europe/Paris", "use tz: local with TZ=Europe/Paris in the environment"},
               {"America/New_York", "TZ=America/New_York"},
               {"CET", "zone name"},
               {"+18:01", "+HH:MM"},
               {"+0530", "+HH:MM"},
               {"UTC+", "+HH:MM"},
               {"+5:60", "+HH:MM"},
               {"", "not a zone"},
               {"UTC 2", "not a zone"},
               {"+05:30 ", "+HH:MM"},
               {"GMT+2", "ambiguous"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pp_diurnal d = {0};
        char err[512] = "";
        if (!pp_load_parse_zone(bad[i].text, &d, err, sizeof(err)))
            fail_msg("'%s' accepted", bad[i].text);
        if (!strstr(err, bad[i].want))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, err, bad[i].want);
    }
}

int main(void)
{
    const char *s = getenv("LOAD_SEED");
    g_seed = s ? strtoull(s, NULL, 10) : pp_rng_os_seed();
    printf("test_load: seed %llu (LOAD_SEED=%llu replays it)\n", (unsigned long long)g_seed,
           (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration__every_unit__seconds),
        cmocka_unit_test(duration__bad__refused_with_the_form),
        cmocka_unit_test(stages__every_form__parsed),
        cmocka_unit_test(stages__a_list_with_repeat__in_order),
        cmocka_unit_test(stages__bad__item_named_and_form_given),
        cmocka_unit_test(stages__sixty_five__refused_at_the_sixty_fifth),
        cmocka_unit_test(stages__appended__limits_count_the_list_before),
        cmocka_unit_test(describe__known__the_syntax),
        cmocka_unit_test(describe__random_stages__parse_back_exactly),
        cmocka_unit_test(time_of_day__forms_and_limits),
        cmocka_unit_test(zone__forms__offsets_and_names_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
