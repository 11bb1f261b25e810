/* Unit tests of configuration loading: YAML, seed-format credentials, client.properties,
 * and the errors of malformed files. */
#include "unit.h"

#include "pp_config.h"

#include <math.h>

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
    assert_int_equal(c->emulation.shape, PP_SHAPE_DELAY);
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
    pp_config *c =
        load("emulation:\n  rate: 500\n  count: 10\n  duration: 2.5\n", err, sizeof(err));
    assert_non_null(c);
    assert_true(c->emulation.shape == PP_SHAPE_RATE && c->emulation.rate == 500);
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
        {"source:\n  port: abc\n", "pinpostd.yaml:2:", "source.port: 'abc' is not a whole number"},
        {"emulation:\n  rate: 5\n  seed: 1\n  rate: 6\n",
         "pinpostd.yaml:4:", "duplicate key 'emulation.rate' (first at line 2)"},
        {"emulation: {}\nsource: {}\nemulation: {}\n",
         "pinpostd.yaml:3:", "duplicate key 'emulation' (first at line 1)"},
        {"kafka:\n  settings:\n    linger.ms: 1\n    linger.ms: 2\n",
         "pinpostd.yaml:4:", "duplicate key 'kafka.settings.linger.ms' (first at line 3)"},
        {"emulation:\n  rate: 5\n---\nemulation:\n  rate: 6\n",
         "pinpostd.yaml:3:", "a second YAML document"},
        {"emulation:\n  rate: \"5\\0junk\"\n",
         "pinpostd.yaml:2:", "emulation.rate: the value holds a NUL"},
        {"emulation:\n  \"rate\\0x\": 5\n", "pinpostd.yaml:2:", "keys must be plain names"},
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
        {"RDS_HOST: a\nRDS_PORT: 1\nRDS_HOST: b\n",
         "db_creds.yaml:3: duplicate key 'RDS_HOST' (first at line 1)"},
        {"RDS_HOST: h\nRDS_PORT: 1\nRDS_USER: u\nRDS_PASSWORD: p\nRDS_DATABASE: d\n---\n"
         "RDS_HOST: other\n",
         "db_creds.yaml:6: a second YAML document"},
        {"RDS_HOST: h\nRDS_PORT: 0x10\n", "db_creds.yaml:2: RDS_PORT: '0x10' is not a whole number "
                                          "from 1 to 65535"},
        {"RDS_HOST: h\nRDS_PASSWORD: \"pw\\0tail\"\n", "RDS_PASSWORD: the value holds a NUL"},
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

static void validate__dot_topics_and_empty_bootstrap__error(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *words;
    } cases[] = {
        {"kafka:\n  topics: {pin: '.'}\n", "topic name '.' for pin is not a valid Kafka topic"},
        {"kafka:\n  topics: {user: '..'}\n", "topic name '..' for user"},
        {"kafka:\n  bootstrap_servers: ''\n", "pinpostd.yaml:2: bootstrap.servers is empty"},
        {"kafka:\n  bootstrap_servers: ' , '\n", "bootstrap.servers is empty"},
        {"kafka:\n  properties: empty.properties\n",
         "empty.properties:1: bootstrap.servers is empty"},
        {"kafka:\n  enabled: false\nkinesis:\n  enabled: true\n  streams: {geo: '..'}\n",
         "stream name '..' for geo"},
    };
    free(unit_write_file(dir, "empty.properties", "bootstrap.servers=\n"));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[1024] = "";
        pp_config *c = load(cases[i].yaml, err, sizeof(err));
        if (!c)
            fail_msg("case %zu did not load: %s", i, err);
        if (pp_config_validate(c, err, sizeof(err)) == 0)
            fail_msg("case %zu validated but should fail", i);
        if (!strstr(err, cases[i].words))
            fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].words);
        pp_config_destroy(c);
    }
}

static void load__utf8_bom__accepted(void **state)
{
    (void)state;
    char err[1024] = "";
    free(unit_write_file(dir, "db_creds.yaml",
                         "\xEF\xBB\xBFRDS_HOST: h\nRDS_PORT: 3307\nRDS_USER: u\nRDS_PASSWORD: p\n"
                         "RDS_DATABASE: d\n"));
    pp_config *c = load("\xEF\xBB\xBFsource:\n  credentials: db_creds.yaml\n", err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->source.host, "h");
    assert_int_equal(c->source.port, 3307);
    pp_config_destroy(c);
}

/* Every numeric key at its edge values: the boundaries are accepted, one step past them,
 * NaN, infinities, hex, spaces and junk are refused with a reason. */
/* service.metrics_listen: HOST:PORT and [V6]:PORT, and what is not. */
static void listen__parse__forms_and_edges(void **state)
{
    (void)state;
    static const struct {
        const char *text, *host;
        int port; /* 0: must be refused */
    } cases[] = {
        {"127.0.0.1:9464", "127.0.0.1", 9464},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"localhost:65535", "localhost", 65535},
        {"[::1]:9464", "::1", 9464},
        {"[::]:80", "::", 80},
        {"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80},
        {"127.0.0.1:0", NULL, 0},
        {"127.0.0.1:65536", NULL, 0},
        {"127.0.0.1:-1", NULL, 0},
        {"127.0.0.1:+80", NULL, 0},
        {"127.0.0.1: 80", NULL, 0},
        {"127.0.0.1:80 ", NULL, 0},
        {"127.0.0.1:9223372036854775808", NULL, 0},
        {"127.0.0.1:1e3", NULL, 0},
        {"127.0.0.1:", NULL, 0},
        {"127.0.0.1", NULL, 0},
        {":80", NULL, 0},
        {"::1:80", NULL, 0},
        {"[::1]80", NULL, 0},
        {"[]:80", NULL, 0},
        {"[::1:80", NULL, 0},
        {"[zz]:80", NULL, 0},
        {"a b:80", NULL, 0},
        {"a\nb:80", NULL, 0},
        {"h\x1b:80", NULL, 0},
        {"", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[256] = "", err[512] = "";
        int port = -1;
        int rc = pp_config_parse_listen(cases[i].text, host, sizeof(host), &port, err, sizeof(err));
        if (cases[i].port) {
            assert_int_equal(rc, 0);
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "is not HOST:PORT"));
            assert_null(strchr(err, '\x1b'));
        }
    }
    char host[4], err[256];
    assert_int_equal(
        pp_config_parse_listen("abcdef:80", host, sizeof(host), NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
}

static void numbers__edge_values__limits_of_the_key_table(void **state)
{
    (void)state;
    static const struct {
        const char *key, *text;
        int ok;
        double d;  /* expected value when ok (d for reals, i for integers) */
        double d2; /* emulation.delay's MAX */
    } cases[] = {
        {"emulation.rate", "0", 1, 0, 0},
        {"emulation.rate", "-0", 1, 0, 0},
        {"emulation.rate", "0.001", 1, 0.001, 0},
        {"emulation.rate", "1e9", 1, 1e9, 0},
        {"emulation.rate", "+5", 1, 5, 0},
        {"emulation.rate", "1e-13", 0, 0, 0},
        {"emulation.rate", "0.0009", 0, 0, 0},
        {"emulation.rate", "1000000001", 0, 0, 0},
        {"emulation.rate", "-1", 0, 0, 0},
        {"emulation.rate", "nan", 0, 0, 0},
        {"emulation.rate", "inf", 0, 0, 0},
        {"emulation.rate", "-inf", 0, 0, 0},
        {"emulation.rate", "0x10", 0, 0, 0},
        {"emulation.rate", " 5", 0, 0, 0},
        {"emulation.rate", "5 ", 0, 0, 0},
        {"emulation.rate", "5/s", 0, 0, 0},
        {"emulation.rate", "", 0, 0, 0},
        {"emulation.rate", "1e400", 0, 0, 0},
        {"emulation.rate", "1e-400", 0, 0, 0},
        {"emulation.duration", "0", 1, 0, 0},
        {"emulation.duration", "0.001", 1, 0.001, 0},
        {"emulation.duration", "1e12", 1, 1e12, 0},
        {"emulation.duration", "1e300", 0, 0, 0},
        {"emulation.duration", "1.000001e12", 0, 0, 0},
        {"emulation.duration", "1e-300", 0, 0, 0},
        {"emulation.count", "0", 1, 0, 0},
        {"emulation.count", "1000000000000000000", 1, 1e18, 0},
        {"emulation.count", "1000000000000000001", 0, 0, 0},
        {"emulation.count", "9223372036854775807", 0, 0, 0},
        {"emulation.count", "-9223372036854775808", 0, 0, 0},
        {"emulation.count", "18446744073709551615", 0, 0, 0},
        {"emulation.count", "1.5", 0, 0, 0},
        {"emulation.count", "1e3", 0, 0, 0},
        {"emulation.count", "-0", 1, 0, 0},
        {"emulation.delay", "0:86400", 1, 0, 86400},
        {"emulation.delay", "1.5:1.5", 1, 1.5, 1.5},
        {"emulation.delay", "2:1", 0, 0, 0},
        {"emulation.delay", "0:86401", 0, 0, 0},
        {"emulation.delay", "nan:1", 0, 0, 0},
        {"emulation.delay", "1:", 0, 0, 0},
        {"emulation.delay", ":1", 0, 0, 0},
        {"emulation.delay", "1:2:3", 0, 0, 0},
        {"source.port", "1", 1, 1, 0},
        {"source.port", "65535", 1, 65535, 0},
        {"source.port", "0", 0, 0, 0},
        {"source.port", "65536", 0, 0, 0},
        {"source.port", "-9223372036854775808", 0, 0, 0},
        {"source.port", "99999999999999999999", 0, 0, 0},
        {"kafka.partitions", "-1", 1, -1, 0},
        {"kafka.partitions", "0", 0, 0, 0},
        {"kafka.partitions", "100000", 1, 100000, 0},
        {"kafka.replication_factor", "-2", 0, 0, 0},
        {"kafka.flush_timeout", "86400", 1, 86400, 0},
        {"kafka.flush_timeout", "86400.1", 0, 0, 0},
        {"kinesis.max_requests", "65", 0, 0, 0},
        {"source.nonexistent", "1", 0, 0, 0},
        {"source.host", "1", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_number v;
        char err[256] = "";
        int rc = pp_config_parse_number(cases[i].key, cases[i].text, &v, err, sizeof(err));
        if ((rc == 0) != cases[i].ok)
            fail_msg("case %zu (%s '%s'): rc %d, %s", i, cases[i].key, cases[i].text, rc, err);
        if (!cases[i].ok && !err[0])
            fail_msg("case %zu: no reason given", i);
        if (!cases[i].ok)
            continue;
        int real = !strcmp(cases[i].key, "emulation.rate") ||
                   !strcmp(cases[i].key, "emulation.duration") ||
                   !strcmp(cases[i].key, "kafka.flush_timeout");
        if (!strcmp(cases[i].key, "emulation.delay")) {
            if (v.d != cases[i].d || v.d2 != cases[i].d2)
                fail_msg("case %zu: got %g:%g", i, v.d, v.d2);
        } else if (real) {
            if (v.d != cases[i].d || signbit(v.d)) /* -0 reads as 0 */
                fail_msg("case %zu: got %g", i, v.d);
        } else if ((double)v.i != cases[i].d) {
            fail_msg("case %zu: got %lld", i, (long long)v.i);
        }
    }
    /* The seed takes every 64-bit value, as pinpostd logs random seeds from that range. */
    pp_number v;
    char err[256];
    assert_int_equal(
        pp_config_parse_number("emulation.seed", "18446744073709551615", &v, err, sizeof(err)), 0);
    assert_true(v.u == UINT64_MAX);
    assert_int_equal(
        pp_config_parse_number("emulation.seed", "18446744073709551616", &v, err, sizeof(err)), -1);
    assert_int_equal(pp_config_parse_number("emulation.seed", "-1", &v, err, sizeof(err)), -1);
    /* The reason quotes the value, the range and the unit. */
    assert_int_equal(pp_config_parse_number("emulation.rate", "1e-13", &v, err, sizeof(err)), -1);
    assert_string_equal(err, "'1e-13' is not a number from 0.001 to 1e+09 posts/s, or 0 (as fast "
                             "as possible)");
    /* The file refuses what the command line refuses, naming file:line and the key. */
    char lerr[1024] = "";
    assert_null(load("emulation:\n  duration: 1e300\n", lerr, sizeof(lerr)));
    assert_non_null(strstr(lerr, "pinpostd.yaml:2: emulation.duration: '1e300' is not a number "
                                 "from 0.001 to 1e+12 seconds, or 0 (no limit)"));
}

static void delay__parse__bounds(void **state)
{
    (void)state;
    pp_number v;
    char err[256];
    const char *k = "emulation.delay";
    assert_int_equal(pp_config_parse_number(k, "0:2", &v, err, sizeof(err)), 0);
    assert_true(v.d == 0 && v.d2 == 2);
    assert_int_equal(pp_config_parse_number(k, "0.25:0.25", &v, err, sizeof(err)), 0);
    assert_int_equal(pp_config_parse_number(k, "2", &v, err, sizeof(err)), -1);
    assert_int_equal(pp_config_parse_number(k, "-1:2", &v, err, sizeof(err)), -1);
    assert_int_equal(pp_config_parse_number(k, "1:x", &v, err, sizeof(err)), -1);
    assert_int_equal(pp_config_parse_number(k, "nan:1", &v, err, sizeof(err)), -1);
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
        cmocka_unit_test(validate__dot_topics_and_empty_bootstrap__error),
        cmocka_unit_test(load__utf8_bom__accepted),
        cmocka_unit_test(numbers__edge_values__limits_of_the_key_table),
        cmocka_unit_test(listen__parse__forms_and_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
