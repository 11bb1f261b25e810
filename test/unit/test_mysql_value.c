/* Unit tests of the MySQL column -> JSON mapping, for every type the tables can hold. */
#include "unit.h"

#include "pp_mysql_value.h"

static char *render(const pp_mysql_value *v, size_t *replaced)
{
    pp_buf b = {0};
    size_t r = pp_mysql_value_json(&b, v);
    if (replaced)
        *replaced = r;
    return b.data;
}

static void check(const pp_mysql_value *v, const char *want)
{
    char *got = render(v, NULL);
    assert_string_equal(got, want);
    free(got);
}

static void ints__signed_unsigned_year__numbers(void **state)
{
    (void)state;
    check(&(pp_mysql_value){.type = MYSQL_TYPE_LONG, .i = 7528}, "7528");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_TINY, .i = -128}, "-128");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_LONGLONG, .is_unsigned = 1, .i = -1},
          "18446744073709551615");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_YEAR, .i = 2015}, "2015");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_INT24, .i = 8388607}, "8388607");
}

static void floats__column_precision__as_mysql_prints(void **state)
{
    (void)state;
    check(&(pp_mysql_value){.type = MYSQL_TYPE_FLOAT, .f = -89.9787f}, "-89.9787");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_FLOAT, .f = -173.293f}, "-173.293");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DOUBLE, .d = -89.9787}, "-89.9787");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DOUBLE, .d = (double)-89.9787f},
          "-89.97869873046875");
}

static void decimal__exact__string(void **state)
{
    (void)state;
    check(&(pp_mysql_value){.type = MYSQL_TYPE_NEWDECIMAL, .str = "12345.6700", .len = 10},
          "\"12345.6700\"");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DECIMAL, .str = "-0.1", .len = 4}, "\"-0.1\"");
}

static void null__any_type__null(void **state)
{
    (void)state;
    static const enum enum_field_types types[] = {MYSQL_TYPE_LONG, MYSQL_TYPE_FLOAT,
                                                  MYSQL_TYPE_DATETIME, MYSQL_TYPE_VAR_STRING,
                                                  MYSQL_TYPE_NEWDECIMAL};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        check(&(pp_mysql_value){.type = types[i], .is_null = 1}, "null");
}

static void temporal__all_kinds__strings(void **state)
{
    (void)state;
    MYSQL_TIME t = {.year = 2020, .month = 8, .day = 28, .hour = 3, .minute = 52, .second = 47};
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DATETIME, .tm = t}, "\"2020-08-28 03:52:47\"");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_TIMESTAMP, .tm = t}, "\"2020-08-28 03:52:47\"");
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DATE, .tm = t}, "\"2020-08-28\"");
    t.second_part = 5;
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DATETIME, .tm = t},
          "\"2020-08-28 03:52:47.000005\"");
    MYSQL_TIME tt = {.hour = 12, .minute = 0, .second = 1, .neg = 1};
    check(&(pp_mysql_value){.type = MYSQL_TYPE_TIME, .tm = tt}, "\"-12:00:01\"");
    MYSQL_TIME zero = {0};
    check(&(pp_mysql_value){.type = MYSQL_TYPE_DATETIME, .tm = zero}, "\"0000-00-00 00:00:00\"");
}

static void text__messy_real_data__passed_through(void **state)
{
    (void)state;
    static const char *const texts[] = {"124k",
                                        "User Info Error",
                                        "No Title Data Available",
                                        "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
                                        "Image src error.",
                                        "Côte d'Ivoire 🎄"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        pp_mysql_value v = {
            .type = MYSQL_TYPE_VAR_STRING, .str = texts[i], .len = strlen(texts[i])};
        char *got = render(&v, NULL);
        assert_int_equal(strlen(got), strlen(texts[i]) + 2);
        assert_memory_equal(got + 1, texts[i], strlen(texts[i]));
        free(got);
    }
}

static void blob__invalid_utf8__replaced_and_counted(void **state)
{
    (void)state;
    size_t replaced = 0;
    pp_mysql_value v = {.type = MYSQL_TYPE_BLOB, .str = "ok\xFE\xFF", .len = 4};
    char *got = render(&v, &replaced);
    assert_string_equal(got, "\"ok\xEF\xBF\xBD\xEF\xBF\xBD\"");
    assert_int_equal(replaced, 2);
    free(got);
}

static void bit__bytes__number(void **state)
{
    (void)state;
    check(&(pp_mysql_value){.type = MYSQL_TYPE_BIT, .str = "\x01\x02", .len = 2}, "258");
}

static void bind_kind__types__expected(void **state)
{
    (void)state;
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_LONG), PP_BIND_INT);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_FLOAT), PP_BIND_FLOAT);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_DOUBLE), PP_BIND_DOUBLE);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_DATETIME), PP_BIND_TIME);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_NEWDECIMAL), PP_BIND_TEXT);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_JSON), PP_BIND_TEXT);
    assert_int_equal(pp_mysql_bind_kind(MYSQL_TYPE_ENUM), PP_BIND_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ints__signed_unsigned_year__numbers),
        cmocka_unit_test(floats__column_precision__as_mysql_prints),
        cmocka_unit_test(decimal__exact__string),
        cmocka_unit_test(null__any_type__null),
        cmocka_unit_test(temporal__all_kinds__strings),
        cmocka_unit_test(text__messy_real_data__passed_through),
        cmocka_unit_test(blob__invalid_utf8__replaced_and_counted),
        cmocka_unit_test(bit__bytes__number),
        cmocka_unit_test(bind_kind__types__expected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
