/* Unit tests of SigV4 and the MSK IAM token. The expected signatures follow AWS's
 * Signature Version 4 test suite (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
 * us-east-1, service "service"); get-vanilla's value is the one AWS publishes, the others
 * were computed with botocore's SigV4Auth at the same frozen time. */
#include "unit.h"

#include "pp_sigv4.h"

#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SESSION_TOKEN                                                                              \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicR"        \
    "XmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKs"          \
    "burEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0"         \
    "iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

static void authorization__test_suite__signatures(void **state)
{
    (void)state;
    static const struct {
        const char *name, *method, *path, *query;
        const char *headers[8];
        size_t nheaders;
        const char *payload;
        int token;
        const char *signed_headers, *signature;
    } cases[] = {
        {"get-vanilla",
         "GET",
         "/",
         "",
         {"Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z"},
         2,
         "",
         0,
         "host;x-amz-date",
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        {"get-vanilla-query-order-key-case",
         "GET",
         "/",
         "Param2=value2&Param1=value1",
         {"Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z"},
         2,
         "",
         0,
         "host;x-amz-date",
         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
        {"get-header-value-trim",
         "GET",
         "/",
         "",
         {"Host", "example.amazonaws.com", "My-Header1", " value1", "My-Header2", " \"a   b   c\"",
          "X-Amz-Date", "20150830T123600Z"},
         4,
         "",
         0,
         "host;my-header1;my-header2;x-amz-date",
         "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
        {"post-x-www-form-urlencoded",
         "POST",
         "/",
         "",
         {"Content-Type", "application/x-www-form-urlencoded", "Host", "example.amazonaws.com",
          "X-Amz-Date", "20150830T123600Z"},
         3,
         "Param1=value1",
         0,
         "content-type;host;x-amz-date",
         "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
        {"get-space",
         "GET",
         "/example space/",
         "",
         {"Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z"},
         2,
         "",
         0,
         "host;x-amz-date",
         "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
        {"get-vanilla-with-session-token",
         "GET",
         "/",
         "",
         {"Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z", "X-Amz-Security-Token",
          SESSION_TOKEN},
         3,
         "",
         1,
         "host;x-amz-date;x-amz-security-token",
         "c8db8b9676d526f735dac5330f17623554c6cad1e2980d321903e9a3884c051b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_aws_creds c = {"AKIDEXAMPLE", SECRET, cases[i].token ? SESSION_TOKEN : NULL, 0};
        pp_sigv4_request r = {
            cases[i].method,   cases[i].path,    cases[i].query,           cases[i].headers,
            cases[i].nheaders, cases[i].payload, strlen(cases[i].payload), "us-east-1",
            "service",         SUITE_TIME};
        pp_buf out = {0}, want = {0};
        pp_sigv4_authorization(&c, &r, &out, NULL);
        pp_buf_printf(&want,
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=%s, Signature=%s",
                      cases[i].signed_headers, cases[i].signature);
        if (strcmp(out.data, want.data) != 0)
            fail_msg("%s:\n got  %s\n want %s", cases[i].name, out.data, want.data);
        pp_buf_free(&out);
        pp_buf_free(&want);
    }
}

static void authorization__canonical_request__suite_format(void **state)
{
    (void)state;
    const char *headers[] = {"Host", "example.amazonaws.com", "X-Amz-Date", "20150830T123600Z"};
    pp_aws_creds c = {"AKIDEXAMPLE", SECRET, NULL, 0};
    pp_sigv4_request r = {
        "GET",     "/",       "Param2=value2&Param1=value1", headers, 2, "", 0, "us-east-1",
        "service", SUITE_TIME};
    pp_buf out = {0}, canon = {0};
    pp_sigv4_authorization(&c, &r, &out, &canon);
    assert_string_equal(canon.data,
                        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pp_buf_free(&out);
    pp_buf_free(&canon);
}

static void uri_encode__reserved__percent_upper(void **state)
{
    (void)state;
    pp_buf b = {0};
    pp_sigv4_uri_encode(&b, "a b/c~d_e-f.g:h+i=ü", strlen("a b/c~d_e-f.g:h+i=ü"), 0);
    assert_string_equal(b.data, "a%20b%2Fc~d_e-f.g%3Ah%2Bi%3D%C3%BC");
    pp_buf_reset(&b);
    pp_sigv4_uri_encode(&b, "/x y/", 5, 1);
    assert_string_equal(b.data, "/x%20y/");
    pp_buf_free(&b);
}

/* Decode base64url without padding. */
static char *unbase64url(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = calloc(n, 1);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *p = strchr(tab, s[i]);
        assert_non_null(p);
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return out;
}

static void msk_token__structure__presigned_connect_url(void **state)
{
    (void)state;
    pp_aws_creds c = {"AKIDEXAMPLE", SECRET, "tok/en+1", 0};
    pp_buf token = {0};
    int64_t life = 0;
    pp_msk_token(&c, "us-west-2", SUITE_TIME, 900, &token, &life);
    assert_null(strchr(token.data, '='));
    assert_null(strchr(token.data, '+'));
    assert_null(strchr(token.data, '/'));
    char *url = unbase64url(token.data);
    assert_non_null(
        strstr(url, "https://kafka.us-west-2.amazonaws.com/?Action=kafka-cluster%3AConnect&"));
    assert_non_null(strstr(
        url,
        "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-west-2%2Fkafka-cluster%2Faws4_request&"));
    assert_non_null(
        strstr(url, "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&"));
    assert_non_null(strstr(url, "&X-Amz-Security-Token=tok%2Fen%2B1&X-Amz-Signature="));
    assert_non_null(strstr(url, "&User-Agent=pinpostd%2F"));
    assert_true(life == (int64_t)(SUITE_TIME + 900) * 1000);
    free(url);

    /* Credentials expiring sooner cap the token's lifetime. */
    c.expiration = SUITE_TIME + 60;
    pp_buf_reset(&token);
    pp_msk_token(&c, "us-west-2", SUITE_TIME, 3600, &token, &life);
    assert_true(life == (int64_t)(SUITE_TIME + 60) * 1000);
    url = unbase64url(token.data);
    assert_non_null(strstr(url, "X-Amz-Expires=900&")); /* never above 900 */
    free(url);
    pp_buf_free(&token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authorization__test_suite__signatures),
        cmocka_unit_test(authorization__canonical_request__suite_format),
        cmocka_unit_test(uri_encode__reserved__percent_upper),
        cmocka_unit_test(msk_token__structure__presigned_connect_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
