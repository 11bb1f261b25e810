/* Unit tests of the client layer: the Kafka configuration every program builds (pp_kafka)
 * and the MySQL connect's error words (pp_mysql). */
#include "unit.h"

#include "pp_config.h"
#include "pp_kafka.h"
#include "pp_mysql.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The value librdkafka holds for key in conf, in buf (or "(unset)"). */
static const char *conf_get(rd_kafka_conf_t *conf, const char *key, char *buf, size_t n)
{
    size_t len = n;
    if (rd_kafka_conf_get(conf, key, buf, &len) != RD_KAFKA_CONF_OK)
        snprintf(buf, n, "(unset)");
    return buf;
}

static void expect_conf(rd_kafka_conf_t *conf, const char *key, const char *want)
{
    char buf[512];
    const char *got = conf_get(conf, key, buf, sizeof(buf));
    if (strcmp(got, want) != 0)
        fail_msg("%s: got '%s', want '%s'", key, got, want);
}

/* A configuration with these kafka.settings (key, value pairs, then NULL). */
static pp_config *config_with(const char *const *kv)
{
    pp_config *c = pp_config_new_defaults();
    for (size_t i = 0; kv[i]; i += 2)
        pp_config_set_kafka(c, kv[i], kv[i + 1], "client.properties:7");
    return c;
}

static int app_marker;

static void producer__defaults_then_settings__settings_win(void **state)
{
    (void)state;
    /* Nothing listens on port 9 of loopback: the handle made below reaches no one. */
    static const char *const kv[] = {"bootstrap.servers", "127.0.0.1:9", "linger.ms", "50", NULL};
    pp_config *c = config_with(kv);
    pp_kafka_opts o = {.role = PP_KAFKA_PRODUCER, .app = &app_marker};
    pp_kafka *kc = NULL;
    char err[512] = "";
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    assert_non_null(kc);
    expect_conf(conf, "acks", "-1"); /* librdkafka's name for all */
    expect_conf(conf, "enable.idempotence", "true");
    expect_conf(conf, "client.id", "pinpostd");
    expect_conf(conf, "linger.ms", "50"); /* the setting over the default 5 */
    expect_conf(conf, "message.timeout.ms", "300000");
    expect_conf(conf, "bootstrap.servers", "127.0.0.1:9");
    expect_conf(conf, "transactional.id", "(unset)");
    /* The handle's opaque is the client; the caller's pointer comes back through it. */
    rd_kafka_t *rk = pp_kafka_handle_new(kc, conf, err, sizeof(err));
    if (!rk)
        fail_msg("%s", err);
    assert_ptr_equal(rd_kafka_opaque(rk), kc);
    assert_ptr_equal(pp_kafka_app(rd_kafka_opaque(rk)), &app_marker);
    rd_kafka_destroy(rk);
    pp_kafka_destroy(kc);
    pp_config_destroy(c);
}

static void producer__exactly_once__transactional_id_and_60s_timeout(void **state)
{
    (void)state;
    static const char *const kv[] = {"bootstrap.servers", "b:9092", NULL};
    pp_config *c = config_with(kv);
    free(c->service.instance);
    c->service.instance = strdup("host-7");
    c->kafka.exactly_once = 1;
    pp_kafka_opts o = {.role = PP_KAFKA_PRODUCER};
    pp_kafka *kc = NULL;
    char err[512] = "";
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    expect_conf(conf, "transactional.id", "pinpostd-host-7");
    expect_conf(conf, "message.timeout.ms", "60000");
    rd_kafka_conf_destroy(conf);
    pp_kafka_destroy(kc);

    c->kafka.transactional_id = strdup("fleet-a");
    conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    expect_conf(conf, "transactional.id", "fleet-a");
    rd_kafka_conf_destroy(conf);
    pp_kafka_destroy(kc);
    pp_config_destroy(c);
}

static void consumer__settings__producer_only_left_out_and_fixed_ones_kept(void **state)
{
    (void)state;
    static const char *const kv[] = {"bootstrap.servers",
                                     "b:9092",
                                     "acks",
                                     "all",
                                     "linger.ms",
                                     "20",
                                     "transactional.id",
                                     "t",
                                     "security.protocol",
                                     "sasl_plaintext",
                                     "sasl.mechanisms",
                                     "SCRAM-SHA-256",
                                     "enable.auto.commit",
                                     "true",
                                     "auto.offset.reset",
                                     "latest",
                                     "group.id",
                                     "theirs",
                                     NULL};
    pp_config *c = config_with(kv);
    pp_kafka_opts o = {.role = PP_KAFKA_CONSUMER, .client_id = "pinpost-verify"};
    pp_kafka *kc = NULL;
    char err[512] = "", buf[512];
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    expect_conf(conf, "linger.ms", "5"); /* librdkafka's default: the setting was left out */
    expect_conf(conf, "transactional.id", "(unset)");
    expect_conf(conf, "security.protocol", "sasl_plaintext");
    expect_conf(conf, "sasl.mechanisms", "SCRAM-SHA-256");
    /* What a reader of a whole run relies on, whatever the settings say. */
    expect_conf(conf, "enable.auto.commit", "false");
    expect_conf(conf, "auto.offset.reset", "smallest"); /* librdkafka's name for earliest */
    expect_conf(conf, "enable.partition.eof", "true");
    expect_conf(conf, "isolation.level", "read_committed");
    expect_conf(conf, "client.id", "pinpost-verify");
    conf_get(conf, "group.id", buf, sizeof(buf));
    assert_int_equal(strncmp(buf, "pinpost-verify-", 15), 0);
    assert_int_equal(strlen(buf), 15 + 16);
    /* The caller may still choose its isolation level. */
    assert_int_equal(pp_kafka_conf_set(conf, "isolation.level", "read_uncommitted",
                                       "--read-uncommitted", err, sizeof(err)),
                     0);
    expect_conf(conf, "isolation.level", "read_uncommitted");
    rd_kafka_conf_destroy(conf);
    pp_kafka_destroy(kc);
    pp_config_destroy(c);
    assert_int_equal(pp_kafka_producer_only("acks"), 1);
    assert_int_equal(pp_kafka_producer_only("security.protocol"), 0);
}

static void conf_new__bad_setting__names_origin_and_key(void **state)
{
    (void)state;
    static const char *const kv[] = {"bootstrap.servers", "b:9092", "linger.ms", "soon", NULL};
    pp_config *c = config_with(kv);
    pp_kafka_opts o = {.role = PP_KAFKA_PRODUCER};
    pp_kafka *kc = (pp_kafka *)&app_marker; /* must be reset to NULL on failure */
    char err[512] = "";
    assert_null(pp_kafka_conf_new(c, &o, &kc, err, sizeof(err)));
    assert_null(kc);
    assert_non_null(strstr(err, "client.properties:7: kafka setting 'linger.ms': "));
    pp_config_destroy(c);
}

static void conf_new__no_bootstrap__error_unless_demo(void **state)
{
    (void)state;
    static const char *const none[] = {NULL};
    static const char *const kv[] = {"bootstrap.servers", "b:9092", NULL};
    pp_config *c = config_with(none);
    pp_kafka_opts o = {.role = PP_KAFKA_CONSUMER};
    pp_kafka *kc = NULL;
    char err[512] = "";
    assert_null(pp_kafka_conf_new(c, &o, &kc, err, sizeof(err)));
    assert_string_equal(err, "no Kafka bootstrap servers: set bootstrap.servers in the file named "
                             "by kafka.properties, or kafka.bootstrap_servers");
    pp_config_destroy(c);

    /* --demo: the in-process cluster, never the configured servers. */
    c = config_with(kv);
    o = (pp_kafka_opts){.role = PP_KAFKA_PRODUCER, .demo = 1};
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    expect_conf(conf, "test.mock.num.brokers", "3");
    expect_conf(conf, "bootstrap.servers", "(unset)");
    rd_kafka_conf_destroy(conf);
    pp_kafka_destroy(kc);
    pp_config_destroy(c);
}

static void conf_new__msk_iam__needs_a_region(void **state)
{
    (void)state;
    static const char *const kv[] = {"bootstrap.servers",
                                     "127.0.0.1:9",
                                     "security.protocol",
                                     "sasl_plaintext",
                                     "sasl.mechanisms",
                                     "OAUTHBEARER",
                                     NULL};
    pp_config *c = config_with(kv);
    c->msk.enabled = 1;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    /* The token is signed from these at once, on librdkafka's background thread. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDUNITTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    pp_kafka_opts o = {.role = PP_KAFKA_CONSUMER};
    pp_kafka *kc = NULL;
    char err[512] = "";
    assert_null(pp_kafka_conf_new(c, &o, &kc, err, sizeof(err)));
    assert_non_null(strstr(err, "kafka.aws_region"));

    /* With a region the client is made, its token refresh served on the background
     * thread. */
    c->kafka.aws_region = strdup("eu-west-1");
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    rd_kafka_t *rk = pp_kafka_handle_new(kc, conf, err, sizeof(err));
    if (!rk)
        fail_msg("%s", err);
    assert_int_equal(pp_kafka_auth_failed(kc, NULL, 0), 0);
    rd_kafka_destroy(rk);
    pp_kafka_destroy(kc);
    pp_config_destroy(c);
}

static void handle_new__bad_conf__takes_it_and_says_why(void **state)
{
    (void)state;
    static const char *const kv[] = {"bootstrap.servers", "b:9092", NULL};
    pp_config *c = config_with(kv);
    pp_kafka_opts o = {.role = PP_KAFKA_PRODUCER};
    pp_kafka *kc = NULL;
    char err[512] = "";
    rd_kafka_conf_t *conf = pp_kafka_conf_new(c, &o, &kc, err, sizeof(err));
    assert_non_null(conf);
    /* Idempotence with acks=1 is refused when the handle is made. */
    assert_int_equal(pp_kafka_conf_set(conf, "acks", "1", "test", err, sizeof(err)), 0);
    assert_null(pp_kafka_handle_new(kc, conf, err, sizeof(err))); /* conf freed (ASan) */
    assert_non_null(strstr(err, "creating the Kafka producer: "));
    pp_kafka_destroy(kc);
    pp_kafka_destroy(NULL);
    pp_config_destroy(c);
}

static void mysql_error__words__hint_and_fatal(void **state)
{
    (void)state;
    char err[512];
    pp_mysql_set_stop(NULL);
    pp_mysql_error(CR_SSL_CONNECTION_ERROR, "TLS/SSL error: bad cert",
                   "connecting to MySQL at h:1 as u", err, sizeof(err));
    assert_string_equal(err, "connecting to MySQL at h:1 as u: MySQL error 2026: TLS/SSL error: "
                             "bad cert (check that source.tls_ca holds the CA that signed the "
                             "server's certificate and, for verify_identity, that the "
                             "certificate names the host pinpostd connects to)");
    pp_mysql_error(ER_BAD_DB_ERROR, "Unknown database 'x'", "w", err, sizeof(err));
    assert_non_null(strstr(err, "w: MySQL error 1049: Unknown database 'x' (check the database"));
    pp_mysql_error(CR_SERVER_LOST, "Lost connection", "fetching", err, sizeof(err));
    assert_string_equal(err, "fetching: MySQL error 2013: Lost connection");

    static const unsigned fatal[] = {ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR,
                                     ER_BAD_DB_ERROR,        ER_NO_SUCH_TABLE,
                                     ER_BAD_FIELD_ERROR,     ER_TABLEACCESS_DENIED_ERROR,
                                     ER_PARSE_ERROR,         CR_SSL_CONNECTION_ERROR};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        assert_int_equal(pp_mysql_error_is_fatal(fatal[i]), 1);
    assert_int_equal(pp_mysql_error_is_fatal(CR_SERVER_LOST), 0);
    assert_int_equal(pp_mysql_error_is_fatal(CR_CONN_HOST_ERROR), 0);
    assert_int_equal(pp_mysql_error_is_fatal(0), 0);
}

static void mysql_connect__no_server__says_where_and_as_whom(void **state)
{
    (void)state;
    pp_config *c = pp_config_new_defaults();
    char err[512] = "";
    unsigned code = 1;
    c->source.socket = strdup("/nonexistent/pinpostd-unit.sock");
    c->source.user = strdup("reader");
    c->source.password = strdup("Unit-Secret-Pw");
    c->source.connect_timeout_s = 2;
    assert_null(pp_mysql_connect(c, &code, err, sizeof(err)));
    assert_int_equal(code, CR_CONNECTION_ERROR);
    assert_int_equal(pp_mysql_error_is_fatal(code), 0);
    assert_int_equal(strncmp(err,
                             "connecting to MySQL at /nonexistent/pinpostd-unit.sock as reader: "
                             "MySQL error 2002: ",
                             strlen("connecting to MySQL at /nonexistent/pinpostd-unit.sock as "
                                    "reader: MySQL error 2002: ")),
                     0);
    assert_null(strstr(err, "Unit-Secret-Pw"));
    pp_config_destroy(c);
}

static void mysql_connect__stop_requested__abandoned_not_blamed_on_the_server(void **state)
{
    (void)state;
    /* A listener that never answers: the connection completes on its backlog and the
     * connect then waits for the server's greeting until the stop request ends the wait. */
    char dir_tmpl[] = "/tmp/pinpostd-unit-XXXXXX";
    char *dir = mkdtemp(dir_tmpl);
    assert_non_null(dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/silent.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    const char *path = sa.sun_path;

    static volatile sig_atomic_t stop = 1; /* already requested */
    pp_mysql_set_stop(&stop);
    pp_config *c = pp_config_new_defaults();
    c->source.socket = strdup(path);
    c->source.connect_timeout_s = 10;
    char err[512] = "";
    unsigned code = 0;
    assert_null(pp_mysql_connect(c, &code, err, sizeof(err)));
    assert_non_null(strstr(err, "abandoned: the server did not answer within 0.5 s of the stop "
                                "request"));
    pp_mysql_set_stop(NULL);
    pp_config_destroy(c);
    close(fd);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(producer__defaults_then_settings__settings_win),
        cmocka_unit_test(producer__exactly_once__transactional_id_and_60s_timeout),
        cmocka_unit_test(consumer__settings__producer_only_left_out_and_fixed_ones_kept),
        cmocka_unit_test(conf_new__bad_setting__names_origin_and_key),
        cmocka_unit_test(conf_new__no_bootstrap__error_unless_demo),
        cmocka_unit_test(conf_new__msk_iam__needs_a_region),
        cmocka_unit_test(handle_new__bad_conf__takes_it_and_says_why),
        cmocka_unit_test(mysql_error__words__hint_and_fatal),
        cmocka_unit_test(mysql_connect__no_server__says_where_and_as_whom),
        cmocka_unit_test(mysql_connect__stop_requested__abandoned_not_blamed_on_the_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
