/* Unit tests of configuration loading: YAML, seed-format credentials, client.properties,
 * and the errors of malformed files. */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include "pp_config.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = unit_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unit_rmdir(dir);
    return 0;
}

/* Load text as pinpostd.yaml; returns the config or NULL with err filled. */
static pp_config *load(const char *text, char *err, size_t n)
{
    char *path = unit_write_file(dir, "pinpostd.yaml", text);
    pp_config *c = pp_config_new_defaults();
    int rc = pp_config_load_file(c, path, err, n);
    free(path);
    if (rc != 0) {
        pp_config_destroy(c);
        return NULL;
    }
    return c;
}

static void defaults__no_file__design_values(void **state)
{
    (void)state;
    pp_config *c = pp_config_new_defaults();
    assert_string_equal(c->source.tables[PP_PIN].table, "pinterest_data");
    assert_string_equal(c->source.tables[PP_PIN].key, "index");
    assert_string_equal(c->source.tables[PP_GEO].table, "geolocation_data");
    assert_string_equal(c->source.tables[PP_USER].key, "ind");
    assert_false(c->emulation.fixed_rate);
    assert_true(c->emulation.delay_min_s == 0 && c->emulation.delay_max_s == 2);
    char *t = pp_config_topic(c, PP_GEO);
    assert_string_equal(t, "pinpostd.geo");
    free(t);
    pp_config_destroy(c);
}

static void load__design_example__all_keys_applied(void **state)
{
    (void)state;
    char err[1024] = "";
    free(unit_write_file(dir, "db_creds.yaml",
                         "RDS_HOST: db.example.internal\nRDS_PASSWORD: 'p@ss: word'\n"
                         "RDS_USER: reader\nRDS_DATABASE: pinterest\nRDS_PORT: 3307\n"));
    free(unit_write_file(dir, "client.properties",
                         "# MSK\nbootstrap.servers=b-1:9092,b-2:9092\n"
                         "sasl.mechanism = PLAIN\nsasl.password: hunter2\n"));
    pp_config *c = load("source:\n"
                        "  credentials: db_creds.yaml\n"
                        "  tables: {pin: {table: pins, key: id}, geo: {table: geo2}}\n"
                        "kafka:\n"
                        "  properties: client.properties\n"
                        "  topic_prefix: 124a514b9149\n"
                        "  topics: {user: users-topic}\n"
                        "  settings: {linger.ms: 20}\n"
                        "emulation:\n"
                        "  delay: 0.5:1.5\n"
                        "  seed: 100\n"
                        "service:\n"
                        "  instance: host-a\n",
                        err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->source.host, "db.example.internal");
    assert_int_equal(c->source.port, 3307);
    assert_string_equal(c->source.user, "reader");
    assert_string_equal(c->source.password, "p@ss: word");
    assert_string_equal(c->source.database, "pinterest");
    assert_string_equal(c->source.tables[PP_PIN].table, "pins");
    assert_string_equal(c->source.tables[PP_PIN].key, "id");
    assert_string_equal(c->source.tables[PP_GEO].table, "geo2");
    assert_string_equal(c->source.tables[PP_GEO].key, "ind");
    assert_string_equal(pp_config_get_kafka(c, "bootstrap.servers"), "b-1:9092,b-2:9092");
    assert_string_equal(pp_config_get_kafka(c, "sasl.mechanisms"), "PLAIN");
    assert_string_equal(pp_config_get_kafka(c, "linger.ms"), "20");
    char *t = pp_config_topic(c, PP_PIN);
    assert_string_equal(t, "124a514b9149.pin");
    free(t);
    t = pp_config_topic(c, PP_USER);
    assert_string_equal(t, "users-topic");
    free(t);
    assert_true(c->emulation.delay_min_s == 0.5 && c->emulation.delay_max_s == 1.5);
    assert_true(c->emulation.has_seed && c->emulation.seed == 100);
    assert_string_equal(c->service.instance, "host-a");
    assert_int_equal(pp_config_validate(c, err, sizeof(err)), 0);

    /* The redacted summary shows no secret. */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    pp_config_print(c, f);
    fclose(f);
    assert_null(strstr(out, "p@ss"));
    assert_null(strstr(out, "hunter2"));
    assert_non_null(strstr(out, "redacted"));
    free(out);
    pp_config_destroy(c);
}

static void load__rate__switches_to_rate_mode(void **state)
{
    (void)state;
    char err[512];
    pp_config *c = load("emulation:\n  rate: 500\n  count: 10\n  duration: 2.5\n", err,
                        sizeof(err));
    assert_non_null(c);
    assert_true(c->emulation.fixed_rate && c->emulation.rate == 500);
    assert_int_equal(c->emulation.count, 10);
    assert_true(c->emulation.duration_s == 2.5);
    pp_config_destroy(c);
}

static void load__password_file__read_and_trimmed(void **state)
{
    (void)state;
    char err[512];
    free(unit_write_file(dir, "pw", "topsecret\n"));
    pp_config *c = load("source:\n  user: u\n  password_file: pw\n  socket: /run/mysqld.sock\n",
                        err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->source.password, "topsecret");
    assert_string_equal(c->source.socket, "/run/mysqld.sock");
    pp_config_destroy(c);
}

/* Each malformed file fails with file:line and words naming the problem. */
static void load__malformed__precise_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *line;
        const char *words;
    } cases[] = {
        {"source:\n  hostt: x\n", "pinpostd.yaml:2:", "unknown key 'source.hostt'"},
        {"sauce:\n  host: x\n", "pinpostd.yaml:1:", "unknown key 'sauce'"},
        {"source:\n  port: 99999\n", "pinpostd.yaml:2:", "source.port"},
        {"source:\n  port: abc\n", "pinpostd.yaml:2:", "not an integer"},
        {"emulation:\n  delay: 3:1\n", "pinpostd.yaml:2:", "MIN:MAX"},
        {"emulation:\n  rate: -1\n", "pinpostd.yaml:2:", "emulation.rate"},
        {"source:\n  password: x\n", "pinpostd.yaml:2:", "password_file"},
        {"source: [1, 2]\n", "pinpostd.yaml:1:", "expected a mapping"},
        {"source:\n  host: [a]\n", "pinpostd.yaml:2:", "expected a single value"},
        {"source:\n  tls: maybe\n", "pinpostd.yaml:2:", "is not one of disabled, preferred"},
        {"source:\n  host: 'unterminated\n", "pinpostd.yaml:", "YAML syntax error"},
        {"source:\n  credentials: nope.yaml\n", "pinpostd.yaml:2:", "cannot open"},
        {"kafka:\n  properties: nope.properties\n", "nope.properties", "cannot open"},
        {"source:\n  host: ''\n", "pinpostd.yaml:2:", "must not be empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[1024] = "";
        pp_config *c = load(cases[i].yaml, err, sizeof(err));
        if (c)
            fail_msg("case %zu loaded but should fail", i);
        if (!strstr(err, cases[i].line) || !strstr(err, cases[i].words))
            fail_msg("case %zu: error '%s' lacks '%s' or '%s'", i, err, cases[i].line,
                     cases[i].words);
    }
}

static void credentials__malformed__precise_errors(void **state)
{
    (void)state;
    static const struct {
        const char *creds;
        const char *words;
    } cases[] = {
        {"RDS_HOST: h\nRDS_USER: u\nRDS_PASSWORD: p\nRDS_DATABASE: d\n", "missing RDS_PORT"},
        {"RDS_HOST: h\nRDS_PORT: x\n", "db_creds.yaml:2: RDS_PORT"},
        {"RDS_HOST: h\nRDS_PORTT: 1\n", "db_creds.yaml:2: unknown key 'RDS_PORTT'"},
        {"- a\n- b\n", "expected a mapping"},
        {"RDS_HOST: [h\n", "YAML syntax error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[1024] = "";
        free(unit_write_file(dir, "db_creds.yaml", cases[i].creds));
        pp_config *c = load("source:\n  credentials: db_creds.yaml\n", err, sizeof(err));
        if (c)
            fail_msg("case %zu loaded but should fail", i);
        if (!strstr(err, cases[i].words))
            fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].words);
    }
}

static void validate__bad_topic_prefix__error(void **state)
{
    (void)state;
    char err[512];
    pp_config *c = load("kafka:\n  topic_prefix: 'bad prefix'\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(pp_config_validate(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "kafka.topic_prefix"));
    pp_config_destroy(c);
}

static void kinesis__streams__default_names_and_checks(void **state)
{
    (void)state;
    char err[512];
    pp_config *c = load("kafka:\n  enabled: false\n  topic_prefix: p1\nkinesis:\n  enabled: true\n"
                        "  streams:\n    geo: custom-geo\n",
                        err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(pp_config_validate(c, err, sizeof(err)), 0);
    char *pin = pp_config_stream(c, PP_PIN), *geo = pp_config_stream(c, PP_GEO);
    assert_string_equal(pin, "streaming-p1-pin");
    assert_string_equal(geo, "custom-geo");
    free(pin);
    free(geo);
    pp_config_destroy(c);

    c = load("kafka:\n  enabled: false\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(pp_config_validate(c, err, sizeof(err)), -1);
    assert_string_equal(err, "kafka.enabled and kinesis.enabled are both false: enable at least "
                             "one sink");
    pp_config_destroy(c);

    c = load("kinesis:\n  enabled: true\n  streams:\n    user: 'no spaces'\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(pp_config_validate(c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "stream name 'no spaces' for user is not a valid Kinesis stream"));
    pp_config_destroy(c);
}

static void delay__parse__bounds(void **state)
{
    (void)state;
    double a, b;
    assert_int_equal(pp_config_parse_delay("0:2", &a, &b), 0);
    assert_true(a == 0 && b == 2);
    assert_int_equal(pp_config_parse_delay("0.25:0.25", &a, &b), 0);
    assert_int_equal(pp_config_parse_delay("2", &a, &b), -1);
    assert_int_equal(pp_config_parse_delay("-1:2", &a, &b), -1);
    assert_int_equal(pp_config_parse_delay("1:x", &a, &b), -1);
    assert_int_equal(pp_config_parse_delay("nan:1", &a, &b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults__no_file__design_values),
        cmocka_unit_test(load__design_example__all_keys_applied),
        cmocka_unit_test(load__rate__switches_to_rate_mode),
        cmocka_unit_test(load__password_file__read_and_trimmed),
        cmocka_unit_test(load__malformed__precise_errors),
        cmocka_unit_test(credentials__malformed__precise_errors),
        cmocka_unit_test(validate__bad_topic_prefix__error),
        cmocka_unit_test(kinesis__streams__default_names_and_checks),
        cmocka_unit_test(delay__parse__bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
