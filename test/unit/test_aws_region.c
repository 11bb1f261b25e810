/* Unit tests of the one AWS region rule (pp_aws_region) and its MSK IAM use. */
#include "unit.h"

#include "pp_aws_region.h"
#include "pp_config.h"
#include "pp_msk.h"

static void clear_env(void)
{
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

static void region_of_host__table__region_or_none(void **state)
{
    (void)state;
    static const struct {
        const char *host, *region; /* NULL: none */
    } cases[] = {
        {"b-1.cluster.abc.c2.kafka.us-east-1.amazonaws.com:9098", "us-east-1"},
        {"boot-x.c2.kafka-serverless.eu-central-1.amazonaws.com:9098", "eu-central-1"},
        {"SASL_SSL://b-2.c.kafka.ap-southeast-2.amazonaws.com:9096", "ap-southeast-2"},
        {"https://kinesis.eu-west-1.amazonaws.com/", "eu-west-1"},
        {"https://kinesis.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
        {"https://vpce-0123-abcd.kinesis.us-east-1.vpce.amazonaws.com", "us-east-1"},
        {"kinesis.cn-north-1.amazonaws.com.cn", "cn-north-1"},
        {"  b-1.x.kafka.il-central-1.amazonaws.com.:9098  ", "il-central-1"},
        {"sts.amazonaws.com", NULL},           /* global: no region in the name */
        {"kinesis.amazonaws.com", NULL},       /* "kinesis" is no region */
        {"http://127.0.0.1:4566", NULL},       /* moto, localstack */
        {"kafka.eu-west-1.example.com", NULL}, /* not AWS */
        {"[::1]:9092", NULL},
        {"amazonaws.com", NULL},
        {"", NULL},
        {"x.EU-WEST-1.amazonaws.com", NULL}, /* regions are lower case */
        {"x.eu-west.amazonaws.com", NULL},   /* no number */
        {"x.west-1.amazonaws.com", NULL},    /* one group only */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char r[PP_AWS_REGION_MAX + 1] = "";
        int rc = pp_aws_region_of_host(cases[i].host, strlen(cases[i].host), r, sizeof(r));
        if (cases[i].region) {
            if (rc != 0)
                fail_msg("%s: no region found", cases[i].host);
            assert_string_equal(r, cases[i].region);
        } else if (rc == 0) {
            fail_msg("%s: found region '%s'", cases[i].host, r);
        }
    }
}

static void region__sources__in_order(void **state)
{
    (void)state;
    char r[PP_AWS_REGION_MAX + 1], err[512];
    pp_aws_region_src src = {.who = "Kinesis",
                             .setting = "kinesis.region",
                             .value = "eu-west-3",
                             .hosts = "https://kinesis.ca-central-1.amazonaws.com",
                             .hosts_name = "kinesis.endpoint"};
    clear_env();
    setenv("AWS_REGION", "us-west-2", 1);
    setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_OK);
    assert_string_equal(r, "eu-west-3"); /* the setting first */
    src.value = "";
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_OK);
    assert_string_equal(r, "us-west-2");
    unsetenv("AWS_REGION");
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_OK);
    assert_string_equal(r, "sa-east-1");
    unsetenv("AWS_DEFAULT_REGION");
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_OK);
    assert_string_equal(r, "ca-central-1"); /* the endpoint's host last */
    clear_env();
}

static void region__none__error_names_the_setting_and_no_default(void **state)
{
    (void)state;
    char r[PP_AWS_REGION_MAX + 1] = "unchanged", err[512] = "";
    pp_aws_region_src src = {.who = "Kinesis",
                             .setting = "kinesis.region",
                             .hosts = "http://127.0.0.1:4566",
                             .hosts_name = "kinesis.endpoint"};
    clear_env();
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_NONE);
    assert_string_equal(err, "no AWS region for Kinesis: set kinesis.region (or AWS_REGION); "
                             "tried kinesis.region, AWS_REGION, AWS_DEFAULT_REGION and "
                             "kinesis.endpoint (http://127.0.0.1:4566)");
    assert_null(strstr(r, "us-east-1"));
    src.hosts = NULL;
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_NONE);
    assert_non_null(strstr(err, "and kinesis.endpoint (none set)"));
}

static void region__not_a_region_name__refused_naming_where(void **state)
{
    (void)state;
    char r[PP_AWS_REGION_MAX + 1], err[512] = "";
    pp_aws_region_src src = {
        .who = "MSK IAM", .setting = "kafka.aws_region", .value = "eu-west-1/x"};
    clear_env();
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_BAD);
    assert_non_null(strstr(err, "kafka.aws_region: 'eu-west-1/x' is not an AWS region name"));
    src.value = NULL;
    setenv("AWS_REGION", "Frankfurt am Main", 1);
    assert_int_equal(pp_aws_region(&src, r, sizeof(r), err, sizeof(err)), PP_AWS_REGION_BAD);
    assert_non_null(strstr(err, "AWS_REGION: 'Frankfurt am Main' is not"));
    clear_env();
    assert_false(pp_aws_region_valid(""));
    assert_false(pp_aws_region_valid("-eu"));
    assert_false(pp_aws_region_valid("eu-west-1\n"));
    assert_true(pp_aws_region_valid("eu-west-1"));
    assert_true(pp_aws_region_valid("local")); /* a stand-in's region is taken as given */
}

static void msk_region__broker_names__region(void **state)
{
    (void)state;
    char r[PP_AWS_REGION_MAX + 1], err[512] = "";
    pp_config *c = pp_config_new_defaults();
    clear_env();
    pp_config_set_kafka(c, "bootstrap.servers",
                        "127.0.0.1:9092, b-1.x.kafka.eu-north-1.amazonaws.com:9098", "test");
    assert_int_equal(pp_msk_region(c, r, sizeof(r), err, sizeof(err)), 0);
    assert_string_equal(r, "eu-north-1");
    pp_config_set_kafka(c, "bootstrap.servers", "127.0.0.1:9092", "test");
    assert_int_not_equal(pp_msk_region(c, r, sizeof(r), err, sizeof(err)), 0);
    assert_non_null(strstr(err, "no AWS region for MSK IAM: set kafka.aws_region"));
    assert_non_null(strstr(err, "the broker host names (127.0.0.1:9092)"));
    pp_config_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_of_host__table__region_or_none),
        cmocka_unit_test(region__sources__in_order),
        cmocka_unit_test(region__none__error_names_the_setting_and_no_default),
        cmocka_unit_test(region__not_a_region_name__refused_naming_where),
        cmocka_unit_test(msk_region__broker_names__region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
