/* Unit tests of the Java .properties reader against the format's edge cases. */
#include "unit.h"

#include "pp_properties.h"

typedef struct collected {
    char text[2048];
} collected;

static int collect(void *opaque, const char *key, const char *value, int line, char *err, size_t n)
{
    collected *c = opaque;
    (void)err;
    (void)n;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof(c->text) - used, "%d[%s]=[%s]\n", line, key, value);
    return 0;
}

static void parse__format_rules__entries(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"a=b", "1[a]=[b]\n"},
        {"a = b  ", "1[a]=[b  ]\n"},
        {"  a:b", "1[a]=[b]\n"},
        {"a b c", "1[a]=[b c]\n"},
        {"a\t=\t b", "1[a]=[b]\n"},
        {"# comment\n! also\n\nk=v", "4[k]=[v]\n"},
        {"a=", "1[a]=[]\n"},
        {"a", "1[a]=[]\n"},
        {"a=b\\\n   c\\\n d", "1[a]=[bcd]\n"},
        {"a=b\\\\\nc=d", "1[a]=[b\\]\n2[c]=[d]\n"},
        {"k\\ ey\\=x=v\\tw", "1[k ey=x]=[v\tw]\n"},
        {"u=\\u0041\\u00e9\\u65e5", "1[u]=[A\xC3\xA9\xE6\x97\xA5]\n"},
        {"s=\\uD83C\\uDF84", "1[s]=[\xF0\x9F\x8E\x84]\n"},
        {"a=1\r\nb=2\rc=3", "1[a]=[1]\n2[b]=[2]\n3[c]=[3]\n"},
        {"a=1\na=2", "1[a]=[1]\n2[a]=[2]\n"},
        {"x=\\q\\#", "1[x]=[q#]\n"},
        {"  # not a key\n  \\#k=v", "2[#k]=[v]\n"},
        {"jaas=x required awsRoleArn=\"arn:aws:iam::1:role/r\";",
         "1[jaas]=[x required awsRoleArn=\"arn:aws:iam::1:role/r\";]\n"},
        {"last=value\\", "1[last]=[value]\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collected c = {""};
        char err[256] = "";
        int rc = pp_properties_parse("t.properties", cases[i].in, strlen(cases[i].in), collect, &c,
                                     err, sizeof(err));
        if (rc != 0)
            fail_msg("case %zu failed: %s", i, err);
        if (strcmp(c.text, cases[i].out) != 0)
            fail_msg("case %zu: got '%s' want '%s'", i, c.text, cases[i].out);
    }
}

static void parse__bad_escapes__error_with_line(void **state)
{
    (void)state;
    static const char *const bad[] = {"ok=1\nu=\\u12", "ok=1\nu=\\uZZZZ", "ok=1\nu=\\uD83C",
                                      "ok=1\nu=\\uDF84"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        collected c = {""};
        char err[256] = "";
        assert_int_equal(pp_properties_parse("f.properties", bad[i], strlen(bad[i]), collect, &c,
                                             err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "f.properties:2:"));
    }
}

/* A UTF-8 byte order mark is not part of the first key; a NUL (escaped or raw) would cut
 * a key or value short without a word, so it is an error naming the line. */
static void parse__bom_and_nul__skipped_or_refused(void **state)
{
    (void)state;
    collected c = {""};
    char err[256] = "";
    const char *bom = "\xEF\xBB\xBF"
                      "bootstrap.servers=b:9092\n";
    assert_int_equal(
        pp_properties_parse("f.properties", bom, strlen(bom), collect, &c, err, sizeof(err)), 0);
    assert_string_equal(c.text, "1[bootstrap.servers]=[b:9092]\n");

    static const struct {
        const char *in;
        size_t len;
    } bad[] = {
        {"ok=1\nsasl.password=abc\\u0000def\n", 0},
        {"ok=1\nk\\u0000ey=v\n", 0},
        {"ok=1\nsasl.password=abc\0def\n", 27},
        {"ok=1\nk=a\\\0b\n", 12},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
        memset(&c, 0, sizeof(c));
        err[0] = '\0';
        if (pp_properties_parse("f.properties", bad[i].in, len, collect, &c, err, sizeof(err)) !=
            -1)
            fail_msg("case %zu accepted: %s", i, c.text);
        if (!strstr(err, "f.properties:2: a NUL character"))
            fail_msg("case %zu: %s", i, err);
    }
}

static int reject(void *opaque, const char *key, const char *value, int line, char *err, size_t n)
{
    (void)opaque;
    (void)value;
    (void)line;
    snprintf(err, n, "unknown key '%s'", key);
    return -1;
}

static void parse__callback_error__prefixed_with_file_line(void **state)
{
    (void)state;
    char err[256] = "";
    const char *in = "\n\nbogus.key=1\n";
    assert_int_equal(
        pp_properties_parse("c.properties", in, strlen(in), reject, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "c.properties:3: unknown key 'bogus.key'");
}

static void load__missing_file__error(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(
        pp_properties_load("/nonexistent/x.properties", collect, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.properties: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse__format_rules__entries),
        cmocka_unit_test(parse__bad_escapes__error_with_line),
        cmocka_unit_test(parse__bom_and_nul__skipped_or_refused),
        cmocka_unit_test(parse__callback_error__prefixed_with_file_line),
        cmocka_unit_test(load__missing_file__error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
