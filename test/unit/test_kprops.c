/* Unit tests of the client.properties translator and the JAAS parser. */
#include "unit.h"

#include "pp_config.h"
#include "pp_kprops.h"
#include "pp_log.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = unit_tmpdir();
    free(unit_write_file(dir, "pinpostd.yaml", "kafka:\n  properties: client.properties\n"));
    free(unit_write_file(dir, "ca.pem",
                         "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
    free(unit_write_file(dir, "client.pem",
                         "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"));
    free(unit_write_file(dir, "store.jks", "\xfe\xed\xfe\xed binary"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unit_rmdir(dir);
    return 0;
}

/* Load a config whose client.properties holds props. */
static pp_config *load(const char *props, char *err, size_t n)
{
    free(unit_write_file(dir, "client.properties", props));
    char path[512];
    snprintf(path, sizeof(path), "%s/pinpostd.yaml", dir);
    pp_config *c = pp_config_new_defaults();
    if (pp_config_load_file(c, path, err, n) != 0) {
        pp_config_destroy(c);
        return NULL;
    }
    return c;
}

static void expect(const pp_config *c, const char *key, const char *value)
{
    const char *got = pp_config_get_kafka(c, key);
    if (!got || strcmp(got, value) != 0)
        fail_msg("%s: got '%s', want '%s'", key, got ? got : "(unset)", value);
}

static void plain_and_scram__jaas__username_password(void **state)
{
    (void)state;
    static const char *const mechs[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    for (int i = 0; i < 3; i++) {
        char props[1024], err[512] = "";
        snprintf(props, sizeof(props),
                 "bootstrap.servers=b:9096\nsecurity.protocol=SASL_SSL\nsasl.mechanism=%s\n"
                 "sasl.jaas.config=org.apache.kafka.common.security.%s required \\\n"
                 "    username=\"alice\" password=\"p\\\\\"w=d;\";\n",
                 mechs[i], i == 0 ? "plain.PlainLoginModule" : "scram.ScramLoginModule");
        pp_config *c = load(props, err, sizeof(err));
        if (!c)
            fail_msg("%s: %s", mechs[i], err);
        expect(c, "sasl.mechanisms", mechs[i]);
        expect(c, "sasl.username", "alice");
        expect(c, "sasl.password", "p\"w=d;");
        expect(c, "security.protocol", "SASL_SSL");
        assert_false(c->msk.enabled);
        pp_config_destroy(c);
    }
}

static void ssl_pem__stores__librdkafka_locations(void **state)
{
    (void)state;
    char err[512] = "", want[600];
    pp_config *c = load("security.protocol=SSL\nssl.truststore.type=PEM\n"
                        "ssl.truststore.location=ca.pem\nssl.keystore.type=PEM\n"
                        "ssl.keystore.location=client.pem\nssl.key.password=kp\n"
                        "ssl.endpoint.identification.algorithm=\n",
                        err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    snprintf(want, sizeof(want), "%s/ca.pem", dir);
    expect(c, "ssl.ca.location", want);
    snprintf(want, sizeof(want), "%s/client.pem", dir);
    expect(c, "ssl.certificate.location", want);
    expect(c, "ssl.key.location", want);
    expect(c, "ssl.key.password", "kp");
    expect(c, "ssl.endpoint.identification.algorithm", "none");
    assert_null(pp_config_get_kafka(c, "ssl.truststore.location"));
    pp_config_destroy(c);
}

static void pkcs12_keystore__passed_to_librdkafka(void **state)
{
    (void)state;
    char err[512] = "";
    pp_config *c = load("ssl.keystore.type=PKCS12\nssl.keystore.location=store.jks\n"
                        "ssl.keystore.password=sp\n",
                        err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    expect(c, "ssl.keystore.password", "sp");
    pp_config_destroy(c);
}

static void msk_iam__both_forms__oauthbearer_with_options(void **state)
{
    (void)state;
    char err[512] = "";
    pp_config *c =
        load("security.protocol = SASL_SSL\nsasl.mechanism = AWS_MSK_IAM\n"
             "sasl.jaas.config = software.amazon.msk.auth.iam.IAMLoginModule required "
             "awsRoleArn=\"arn:aws:iam::123456789012:role/ec2-access-role\" "
             "awsRoleSessionName=\"s1\" awsRoleExternalId=\"x\" awsStsRegion=\"eu-west-1\" "
             "awsProfileName=\"team\";\n"
             "sasl.client.callback.handler.class = "
             "software.amazon.msk.auth.iam.IAMClientCallbackHandler\n",
             err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_true(c->msk.enabled);
    expect(c, "sasl.mechanisms", "OAUTHBEARER");
    assert_string_equal(c->msk.role_arn, "arn:aws:iam::123456789012:role/ec2-access-role");
    assert_string_equal(c->msk.role_session_name, "s1");
    assert_string_equal(c->msk.external_id, "x");
    assert_string_equal(c->msk.sts_region, "eu-west-1");
    assert_string_equal(c->msk.profile, "team");
    pp_config_destroy(c);

    c = load("security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n"
             "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer."
             "OAuthBearerLoginModule required;\n"
             "sasl.login.callback.handler.class=software.amazon.msk.auth.iam."
             "IAMOAuthBearerLoginCallbackHandler\n"
             "sasl.client.callback.handler.class=software.amazon.msk.auth.iam."
             "IAMOAuthBearerLoginCallbackHandler\n",
             err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_true(c->msk.enabled);
    expect(c, "sasl.mechanisms", "OAUTHBEARER");
    pp_config_destroy(c);
}

static void java_keys__renamed_or_ignored(void **state)
{
    (void)state;
    char err[512] = "";
    pp_config *c = load("acks=all\nlinger.ms=20\nbatch.size=65536\ncompression.type=lz4\n"
                        "client.id=me\nrequest.timeout.ms=10000\ndelivery.timeout.ms=60000\n"
                        "key.serializer=org.apache.kafka.common.serialization.StringSerializer\n"
                        "buffer.memory=33554432\nmax.request.size=2000000\n",
                        err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    expect(c, "acks", "all");
    expect(c, "linger.ms", "20");
    expect(c, "batch.size", "65536");
    expect(c, "compression.type", "lz4");
    expect(c, "client.id", "me");
    expect(c, "request.timeout.ms", "10000");
    expect(c, "message.timeout.ms", "60000");
    expect(c, "message.max.bytes", "2000000");
    assert_null(pp_config_get_kafka(c, "key.serializer"));
    assert_null(pp_config_get_kafka(c, "buffer.memory"));
    pp_config_destroy(c);
}

static void bad_files__precise_errors(void **state)
{
    (void)state;
    static const struct {
        const char *props;
        const char *words;
    } cases[] = {
        {"bootstrap.servers=x\n\nno.such.key=1\n",
         "client.properties:3: unknown Kafka client property 'no.such.key'"},
        {"acks=sometimes\n", "client.properties:1: acks"},
        {"ssl.truststore.location=store.jks\n", "keytool -exportcert"},
        {"ssl.truststore.type=JKS\nssl.truststore.location=ca.pem\n", "JKS trust store"},
        {"ssl.keystore.location=store.jks\n", "keytool -importkeystore"},
        {"ssl.truststore.location=missing.pem\n", "cannot open"},
        {"sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain."
         "PlainLoginModule required username=\"a\"\n",
         "must end with ';'"},
        {"sasl.jaas.config=com.example.Custom required;\n", "login module com.example.Custom"},
        {"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
         "user=\"a\";\n",
         "sasl.jaas.config: option 1: unknown name; pinpostd knows username"},
        {"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
         "username=\"a;\n",
         "unterminated"},
        {"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule maybe;\n",
         "control flag"},
        {"sasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security."
         "oauthbearer.OAuthBearerLoginModule required;\n",
         "Amazon MSK IAM only"},
        {"sasl.login.callback.handler.class=com.example.Handler\n", "not supported"},
        {"sasl.mechanism=PLAIN\nsasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule "
         "required;\n",
         "needs sasl.mechanism=AWS_MSK_IAM"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[1024] = "";
        pp_config *c = load(cases[i].props, err, sizeof(err));
        if (c)
            fail_msg("case %zu loaded but should fail", i);
        if (!strstr(err, cases[i].words))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].words);
    }
}

/* However a JAAS line is malformed, no part of a value reaches the error message. */
static void jaas__malformed__never_echoes_values(void **state)
{
    (void)state;
    static const char *const jaas[] = {
        /* an unquoted value with a space: "ret-PLANTED1" becomes an option without '=' */
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
        "password=sec ret-PLANTED1;",
        /* ... or an option with '=' that pinpostd does not know */
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
        "password=sec ret-PLANTED1=x;",
        /* a quote inside a quoted value ends it early */
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
        "password=\"sec\"ret-PLANTED1\";",
        /* no control flag: the second word is a value */
        "org.apache.kafka.common.security.plain.PlainLoginModule ret-PLANTED1 password=x;",
        /* no module: the first word is a value */
        "ret-PLANTED1 required;",
        "password=ret-PLANTED1",
    };
    for (size_t i = 0; i < sizeof(jaas) / sizeof(jaas[0]); i++) {
        char props[512], err[1024] = "";
        snprintf(props, sizeof(props), "sasl.mechanism=PLAIN\nsasl.jaas.config=%s\n", jaas[i]);
        pp_config *c = load(props, err, sizeof(err));
        if (c)
            fail_msg("case %zu loaded but should fail", i);
        if (!strstr(err, "sasl.jaas.config"))
            fail_msg("case %zu: '%s' does not name sasl.jaas.config", i, err);
        if (strstr(err, "PLANTED"))
            fail_msg("case %zu: '%s' echoes the value", i, err);
    }
}

static int collect(void *opaque, const char *key, const char *value, char *err, size_t n)
{
    (void)err;
    (void)n;
    char *out = opaque;
    size_t used = strlen(out);
    snprintf(out + used, 512 - used, "[%s=%s]", key, value);
    return 0;
}

static void jaas__quoting_and_whitespace__options(void **state)
{
    (void)state;
    char module[128], out[512] = "", err[256];
    assert_int_equal(pp_kprops_parse_jaas("  Mod\tREQUIRED a=\"x y\"\n b=plain c=\"q\\\"\\\\\" ; ",
                                          module, sizeof(module), collect, out, err, sizeof(err)),
                     0);
    assert_string_equal(module, "Mod");
    assert_string_equal(out, "[a=x y][b=plain][c=q\"\\]");
}

/* The translator alone, without a configuration: it returns what it read, in order,
 * with origins, and the configuration merges it. */
static void translate__alone__settings_and_msk_returned(void **state)
{
    (void)state;
    char err[512] = "", path[512];
    snprintf(path, sizeof(path), "%s/client.properties", dir);
    const pp_kv entries[] = {
        {"bootstrap.servers", "b-1.x.kafka.eu-west-1.amazonaws.com:9098", "p:1"},
        {"linger.ms", "5", "p:2"},
        {"sasl.mechanism", "AWS_MSK_IAM", "p:3"},
        {"sasl.jaas.config",
         "software.amazon.msk.auth.iam.IAMLoginModule required awsRoleArn=\"arn:aws:iam::1:role/r\" "
         "awsProfileName=\"team\";",
         "p:4"},
        {"ssl.ca.location", "ca.pem", "p:5"},
        {"delivery.timeout.ms", "90000", "p:6"},
        {"linger.ms", "25", "p:7"},
    };
    pp_kprops k;
    assert_int_equal(pp_kprops_translate(entries, sizeof(entries) / sizeof(entries[0]), path, &k,
                                         err, sizeof(err)),
                     0);
    char ca[600];
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    const char *const want[][3] = {
        {"bootstrap.servers", "b-1.x.kafka.eu-west-1.amazonaws.com:9098", "p:1"},
        {"linger.ms", "25", "p:7"}, /* set twice: its first place, its last value */
        {"ssl.ca.location", ca, "p:5"},
        {"message.timeout.ms", "90000", "p:6"},
        {"sasl.mechanisms", "OAUTHBEARER", "p:3"},
    };
    assert_int_equal(k.nsettings, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < k.nsettings; i++) {
        assert_string_equal(k.settings[i].key, want[i][0]);
        assert_string_equal(k.settings[i].value, want[i][1]);
        assert_string_equal(k.settings[i].origin, want[i][2]);
    }
    assert_true(k.msk.enabled);
    assert_string_equal(k.msk.role_arn, "arn:aws:iam::1:role/r");
    assert_string_equal(k.msk.profile, "team");
    assert_null(k.msk.role_session_name);
    assert_null(k.msk.external_id);
    assert_null(k.msk.sts_region);
    pp_kprops_release(&k);
    assert_null(k.settings);
    assert_int_equal(k.nsettings, 0);

    /* A failure returns nothing to release. */
    const pp_kv bad[] = {{"linger.ms", "5", "p:1"}, {"no.such.property", "x", "p:2"}};
    assert_int_equal(pp_kprops_translate(bad, 2, path, &k, err, sizeof(err)), -1);
    assert_string_equal(err, "p:2: unknown Kafka client property 'no.such.property' (neither a "
                             "Java client setting pinpostd translates nor a librdkafka property)");
    assert_null(k.settings);
    assert_int_equal(k.nsettings, 0);
}

/* What client.properties sets lands where the YAML puts kafka.properties: settings before
 * it are overridden by the file, settings after it override the file. */
static void merge__yaml_order__later_wins(void **state)
{
    (void)state;
    char err[512] = "", path[512];
    free(unit_write_file(dir, "client.properties",
                         "bootstrap.servers=b:9092\nlinger.ms=7\nbatch.size=1000\n"));
    free(unit_write_file(dir, "order.yaml",
                         "kafka:\n  settings:\n    linger.ms: 1\n    acks: all\n"
                         "  properties: client.properties\n"
                         "  bootstrap_servers: other:9092\n"));
    snprintf(path, sizeof(path), "%s/order.yaml", dir);
    pp_config *c = pp_config_new_defaults();
    assert_int_equal(pp_config_load_file(c, path, err, sizeof(err)), 0);
    expect(c, "linger.ms", "7");
    expect(c, "acks", "all");
    expect(c, "batch.size", "1000");
    expect(c, "bootstrap.servers", "other:9092");
    const pp_kv *kv = pp_kv_find(c->kafka.settings, c->kafka.nsettings, "linger.ms");
    assert_non_null(strstr(kv->origin, "client.properties:2"));
    assert_false(c->msk.enabled);
    pp_config_destroy(c);
}

int main(void)
{
    pp_log_init(-3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_and_scram__jaas__username_password),
        cmocka_unit_test(ssl_pem__stores__librdkafka_locations),
        cmocka_unit_test(pkcs12_keystore__passed_to_librdkafka),
        cmocka_unit_test(msk_iam__both_forms__oauthbearer_with_options),
        cmocka_unit_test(java_keys__renamed_or_ignored),
        cmocka_unit_test(bad_files__precise_errors),
        cmocka_unit_test(jaas__quoting_and_whitespace__options),
        cmocka_unit_test(jaas__malformed__never_echoes_values),
        cmocka_unit_test(translate__alone__settings_and_msk_returned),
        cmocka_unit_test(merge__yaml_order__later_wins),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
