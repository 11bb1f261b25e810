/* Unit tests of the logger: the escaping every message goes through, the line format, and
 * the rate limit of repeated messages. */
#include "unit.h"

#include "pp_log.h"

#include <fcntl.h>

static void escape__table__escaped(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len; /* 0: strlen(in) */
        const char *out;
    } cases[] = {
        {"plain text, 42%", 0, "plain text, 42%"},
        {"", 0, ""},
        /* A forged line and the control characters that move the cursor. */
        {"a\n2026-01-01 pinpostd error: forged", 0, "a\\n2026-01-01 pinpostd error: forged"},
        {"cr\rover", 0, "cr\\rover"},
        {"tab\there", 0, "tab\\there"},
        {"\x1b[2J\x1b]0;title\x07", 0, "\\x1b[2J\\x1b]0;title\\x07"},
        {"\x01\x1f\x7f", 0, "\\x01\\x1f\\x7f"},
        {"nul\0after", 9, "nul\\x00after"},
        /* The escape character itself stays unambiguous. */
        {"C:\\dir\\n", 0, "C:\\\\dir\\\\n"},
        {"\\x1b", 0, "\\\\x1b"},
        /* Valid UTF-8 stays readable: 2, 3 and 4 byte forms, the first and last of each. */
        {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x84", 0,
         "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x84"},
        {"\xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 0,
         "\xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"},
        /* C1 controls: CSI (U+009B) clears a screen as ESC [ does; NEL (U+0085) breaks lines. */
        {"\xc2\x9b"
         "2J",
         0, "\\u009b2J"},
        {"\xc2\x80\xc2\x85\xc2\x9f", 0, "\\u0080\\u0085\\u009f"},
        /* Invalid UTF-8, byte by byte. */
        {"\xff\xfe", 0, "\\xff\\xfe"},
        {"\x80x", 0, "\\x80x"},                 /* stray continuation byte */
        {"\xc0\xaf", 0, "\\xc0\\xaf"},          /* overlong '/' */
        {"\xc1\xbf", 0, "\\xc1\\xbf"},          /* overlong */
        {"\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf"}, /* overlong 3-byte */
        {"\xf0\x80\x80\xaf", 0, "\\xf0\\x80\\x80\\xaf"},
        {"\xed\xa0\x80", 0, "\\xed\\xa0\\x80"},          /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0, "\\xf5\\x80\\x80\\x80"},
        {"\xe6\x97", 0, "\\xe6\\x97"},   /* truncated at the end */
        {"\xe6\x97x", 0, "\\xe6\\x97x"}, /* truncated before ASCII */
        {"\xc3\n", 0, "\\xc3\\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256];
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        size_t n = pp_log_escape(cases[i].in, len, out, sizeof(out));
        if (strcmp(out, cases[i].out) != 0 || n != strlen(out))
            fail_msg("case %zu: got '%s' (%zu) want '%s'", i, out, n, cases[i].out);
    }
}

static void escape__small_buffer__never_splits_an_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t size;
        const char *out;
    } cases[] = {
        {"ab\ncd", 3, "ab"}, /* "\n" needs 2 more bytes than fit */
        {"ab\ncd", 5, "ab\\n"},
        {"a\x1b", 5, "a"}, /* "\x1b" needs 4 */
        {"a\x1b", 6, "a\\x1b"},
        {"a\xe6\x97\xa5", 4, "a"}, /* a 3-byte character is kept whole or dropped */
        {"a\xe6\x97\xa5", 5, "a\xe6\x97\xa5"},
        {"abc", 1, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[16];
        memset(out, 'Z', sizeof(out));
        pp_log_escape(cases[i].in, strlen(cases[i].in), out, cases[i].size);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: got '%s' want '%s'", i, out, cases[i].out);
    }
}

static void escape__worst_case__fits_four_times_the_input(void **state)
{
    (void)state;
    char in[64], out[4 * sizeof(in) + 1];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)(i % 2 ? 0x01 : 0xff);
    size_t n = pp_log_escape(in, sizeof(in), out, sizeof(out));
    assert_int_equal(n, 4 * sizeof(in));
    assert_int_equal(strlen(out), n);
}

/* Run pp_log with stderr redirected to a file; returns what it wrote (caller frees). */
static char *captured_log(const char *program, const char *text)
{
    char *dir = unit_tmpdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    unsetenv("JOURNAL_STREAM");
    pp_log_init(0);
    if (program)
        pp_log_set_program(program);
    pp_log_warn("category %s, country %s", text, "FR");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    unit_rmdir(dir);
    return buf;
}

static void log__forged_line_in_a_value__one_escaped_line(void **state)
{
    (void)state;
    char *out = captured_log(NULL, "Art\n2026-01-01 00:00:00.000 pinpostd error: forged\r\x1b[2J");
    /* One line, labelled pinpostd, with the forged text visible but inert. */
    assert_non_null(strstr(out, " pinpostd warning: category Art\\n2026-01-01 00:00:00.000 "
                                "pinpostd error: forged\\r\\x1b[2J, country FR\n"));
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\x1b'));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
    free(out);
}

static void log__program_name__labels_the_line(void **state)
{
    (void)state;
    char *out = captured_log("pinpost-verify", "x");
    assert_non_null(strstr(out, " pinpost-verify warning: category x, country FR\n"));
    assert_null(strstr(out, "pinpostd"));
    free(out);
    pp_log_set_program("pinpostd");
}

/* stderr into a file while capturing; capture_end returns what was written (caller
 * frees). */
typedef struct capture {
    char *dir;
    char path[512];
    int saved;
} capture;

static void capture_begin(capture *c)
{
    c->dir = unit_tmpdir();
    snprintf(c->path, sizeof(c->path), "%s/stderr", c->dir);
    fflush(stderr);
    c->saved = dup(2);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(c->saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    unsetenv("JOURNAL_STREAM");
    pp_log_init(0);
}

static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 16384);
    size_t n = fread(buf, 1, 16383, f);
    buf[n] = '\0';
    fclose(f);
    unit_rmdir(c->dir);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void limited__burst__one_line_then_the_count(void **state)
{
    (void)state;
    capture c;
    pp_log_limit l = {.interval_us = 200000};
    capture_begin(&c);
    for (int i = 0; i < 5; i++)
        pp_log_limited(&l, LOG_WARNING, "post %d failed", i);
    usleep(250000);
    pp_log_limited(&l, LOG_WARNING, "post %d failed", 5);
    pp_log_limited(&l, LOG_WARNING, "post %d failed", 6);
    char *out = capture_end(&c);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, " pinpostd warning: post 0 failed\n"));
    assert_non_null(strstr(out, " pinpostd warning: post 5 failed (and 4 similar messages not "
                                "shown)\n"));
    assert_null(strstr(out, "post 6"));
    assert_int_equal(l.suppressed, 1);
    free(out);
}

static void limited__below_threshold__counted_not_shown(void **state)
{
    (void)state;
    capture c;
    pp_log_limit l = {0}; /* one second */
    capture_begin(&c);
    pp_log_init(-3); /* errors only */
    pp_log_limited(&l, LOG_WARNING, "hidden");
    pp_log_limited(&l, LOG_WARNING, "hidden too");
    char *out = capture_end(&c);
    assert_string_equal(out, "");
    assert_int_equal(l.suppressed, 1);
    assert_true(l.last_us > 0);
    free(out);
    pp_log_init(0);
}

static void limited__long_message__the_count_survives(void **state)
{
    (void)state;
    capture c;
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pp_log_limit l = {.interval_us = 1};
    capture_begin(&c);
    pp_log_limited(&l, LOG_WARNING, "%s", big);
    l.suppressed = 3;
    usleep(1000);
    pp_log_limited(&l, LOG_WARNING, "%s", big);
    char *out = capture_end(&c);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "xxx (and 3 similar messages not shown)\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape__table__escaped),
        cmocka_unit_test(escape__small_buffer__never_splits_an_escape),
        cmocka_unit_test(escape__worst_case__fits_four_times_the_input),
        cmocka_unit_test(log__forged_line_in_a_value__one_escaped_line),
        cmocka_unit_test(log__program_name__labels_the_line),
        cmocka_unit_test(limited__burst__one_line_then_the_count),
        cmocka_unit_test(limited__below_threshold__counted_not_shown),
        cmocka_unit_test(limited__long_message__the_count_survives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
