/* Unit tests of the JSON writer: numbers, strings, UTF-8 repair, datetimes. */
#include "unit.h"

#include <math.h>

#include "pp_json.h"

static void float__column_precision__shortest_roundtrip(void **state)
{
    (void)state;
    static const struct {
        float in;
        const char *out;
    } cases[] = {
        {-89.9787f, "-89.9787"},
        {-173.293f, "-173.293"},
        {0.1f, "0.1"},
        {1.0f, "1"},
        {123.4567f, "123.4567"},
        {3.4028235e38f, "3.4028235e+38"},
        {-0.0f, "-0"},
        {1e-45f, "1e-45"},
        {16777216.0f, "16777216"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_buf b = {0};
        pp_json_float(&b, cases[i].in);
        assert_string_equal(b.data, cases[i].out);
        assert_true(strtof(b.data, NULL) == cases[i].in);
        pp_buf_free(&b);
    }
}

static void double__values__shortest_roundtrip(void **state)
{
    (void)state;
    static const struct {
        double in;
        const char *out;
    } cases[] = {
        {0.1, "0.1"},       {-89.97869873046875, "-89.97869873046875"},
        {1e300, "1e+300"},  {2.0 / 3.0, "0.6666666666666666"},
        {5e-324, "5e-324"}, {42.0, "42"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_buf b = {0};
        pp_json_double(&b, cases[i].in);
        assert_string_equal(b.data, cases[i].out);
        pp_buf_free(&b);
    }
}

static void number__non_finite__null(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_json_double(&b, NAN);
    pp_json_float(&b, INFINITY);
    assert_string_equal(b.data, "nullnull");
    pp_buf_free(&b);
}

static void integers__extremes__exact(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_json_int(&b, INT64_MIN);
    pp_buf_puts(&b, " ");
    pp_json_uint(&b, UINT64_MAX);
    assert_string_equal(b.data, "-9223372036854775808 18446744073709551615");
    pp_buf_free(&b);
}

static void string__escapes__json_escaped(void **state)
{
    (void)state;
    pp_buf b = {0};
    const char in[] = "a\"b\\c\n\t\r\b\f\x01\x1f/\x7f";
    assert_int_equal(pp_json_string(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/\x7f\"");
    pp_buf_free(&b);
}

static void string__embedded_nul__escaped_not_truncated(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_json_string(&b, "a\0b", 3);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    pp_buf_free(&b);
}

static void string__valid_utf8__passed_through(void **state)
{
    (void)state;
    pp_buf b = {0};
    const char *in = "Côte d'Ivoire 日本 🎄 \xEF\xBF\xBF";
    assert_int_equal(pp_json_cstring(&b, in), 0);
    assert_int_equal(b.len, strlen(in) + 2);
    assert_memory_equal(b.data + 1, in, strlen(in));
    pp_buf_free(&b);
}

static void string__invalid_utf8__replaced_and_counted(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
        size_t replaced;
    } cases[] = {
        {"a\xFF"
         "b",
         "\"a\xEF\xBF\xBD"
         "b\"",
         1},                                                             /* invalid byte */
        {"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"", 2},                 /* overlong '/' */
        {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", 3}, /* surrogate */
        {"\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", 4},
        {"x\xE6\x97", "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"", 2}, /* truncated at end */
        {"\x80", "\"\xEF\xBF\xBD\"", 1},                   /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_buf b = {0};
        assert_int_equal(pp_json_cstring(&b, cases[i].in), cases[i].replaced);
        assert_string_equal(b.data, cases[i].out);
        pp_buf_free(&b);
    }
}

static void string__64k_text__complete(void **state)
{
    (void)state;
    size_t n = 65535;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[100] = '"';
    pp_buf b = {0};
    assert_int_equal(pp_json_string(&b, in, n), 0);
    assert_int_equal(b.len, n + 3); /* quotes plus one escape backslash */
    assert_int_equal(b.data[b.len - 1], '"');
    assert_memory_equal(b.data + 101, "\\\"", 2);
    assert_memory_equal(b.data + 103, in + 101, n - 101);
    pp_buf_free(&b);
    free(in);
}

static void datetime__fraction_only_when_present(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_datetime dt = {2020, 8, 28, 3, 52, 47, 0, 0};
    pp_json_datetime(&b, &dt);
    pp_buf_puts(&b, " ");
    dt.usec = 120;
    pp_json_datetime(&b, &dt);
    pp_buf_puts(&b, " ");
    pp_json_date(&b, &dt);
    pp_buf_puts(&b, " ");
    pp_datetime t = {0, 0, 0, 838, 59, 59, 500000, 1};
    pp_json_time(&b, &t);
    assert_string_equal(b.data, "\"2020-08-28 03:52:47\" \"2020-08-28 03:52:47.000120\" "
                                "\"2020-08-28\" \"-838:59:59.500000\"");
    pp_buf_free(&b);
}

/* RFC 4648 section 10 test vectors, both alphabets. */
static void base64__rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        pp_buf a = {0}, b = {0};
        pp_buf_base64(&a, in[i], strlen(in[i]), 0);
        pp_buf_base64(&b, in[i], strlen(in[i]), 1);
        assert_string_equal(a.data ? a.data : "", std[i]);
        assert_string_equal(b.data ? b.data : "", url[i]);
        pp_buf_free(&a);
        pp_buf_free(&b);
    }
    /* The two alphabets differ in 62 and 63: 0xfb 0xff -> "+/8=" and "-_8". */
    pp_buf a = {0}, b = {0};
    pp_buf_base64(&a, "\xfb\xff", 2, 0);
    pp_buf_base64(&b, "\xfb\xff", 2, 1);
    assert_string_equal(a.data, "+/8=");
    assert_string_equal(b.data, "-_8");
    pp_buf_free(&a);
    pp_buf_free(&b);
}

static void object__fields__commas_between(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_json_obj_begin(&b);
    pp_json_key(&b, "a");
    pp_json_int(&b, 1);
    pp_json_key(&b, "n");
    pp_json_null(&b);
    pp_json_key(&b, "o");
    pp_json_obj_begin(&b);
    pp_json_obj_end(&b);
    pp_json_key(&b, "s");
    pp_json_cstring(&b, "x");
    pp_json_obj_end(&b);
    assert_string_equal(b.data, "{\"a\":1,\"n\":null,\"o\":{},\"s\":\"x\"}");
    pp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float__column_precision__shortest_roundtrip),
        cmocka_unit_test(double__values__shortest_roundtrip),
        cmocka_unit_test(number__non_finite__null),
        cmocka_unit_test(integers__extremes__exact),
        cmocka_unit_test(string__escapes__json_escaped),
        cmocka_unit_test(string__embedded_nul__escaped_not_truncated),
        cmocka_unit_test(string__valid_utf8__passed_through),
        cmocka_unit_test(string__invalid_utf8__replaced_and_counted),
        cmocka_unit_test(string__64k_text__complete),
        cmocka_unit_test(datetime__fraction_only_when_present),
        cmocka_unit_test(object__fields__commas_between),
        cmocka_unit_test(base64__rfc4648_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
