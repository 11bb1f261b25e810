/* Unit tests of the metrics renderer (the textfile's and /metrics' one), the process and
 * librdkafka metrics of /metrics, and the local URL of `pinpostd health`. */
#include "unit.h"

#include "pp_httpd.h"
#include "pp_metrics.h"

#include <time.h>

/* What fn rendered into a memory stream; caller frees. */
static char *rendered(void (*fn)(FILE *f, void *arg), void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fn(f, arg);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void render_kafka(FILE *f, void *json)
{
    pp_metrics_render_kafka(f, "in\"st", json);
}

/* What librdkafka 2.0's statistics look like, cut down to the fields read. */
static const char stats_json[] =
    "{\"name\":\"pinpostd#producer-1\",\"type\":\"producer\",\"msg_cnt\":12,"
    "\"msg_size\":3456,\"msg_max\":100000,\"msg_size_max\":1073741824,"
    "\"brokers\":{"
    "\"127.0.0.1:9092/bootstrap\":{\"name\":\"127.0.0.1:9092/bootstrap\",\"nodeid\":-1,"
    "\"source\":\"configured\",\"state\":\"UP\",\"outbuf_msg_cnt\":1,\"waitresp_msg_cnt\":2,"
    "\"rtt\":{\"avg\":1500}},"
    "\"b\\\"2:9093/2\":{\"name\":\"b\\\"2:9093/2\",\"nodeid\":2,\"source\":\"learned\","
    "\"state\":\"TRY_CONNECT\",\"outbuf_msg_cnt\":0,\"waitresp_msg_cnt\":0},"
    "\"GroupCoordinator\":{\"name\":\"GroupCoordinator\",\"nodeid\":-1,\"source\":\"logical\","
    "\"state\":\"UP\"},"
    "\":0/internal\":{\"name\":\":0/internal\",\"nodeid\":-1,\"source\":\"internal\","
    "\"state\":\"INIT\"}},"
    "\"eos\":{\"idemp_state\":\"Assigned\",\"txn_state\":\"InTransaction\"}}";

static void render_kafka__stats__every_metric(void **state)
{
    (void)state;
    char *t = rendered(render_kafka, (void *)stats_json);
    static const char *const want[] = {
        "# TYPE pinpostd_kafka_queue_messages gauge\n",
        "pinpostd_kafka_queue_messages{instance=\"in\\\"st\"} 12\n",
        "pinpostd_kafka_queue_bytes{instance=\"in\\\"st\"} 3456\n",
        "pinpostd_kafka_queue_max_messages{instance=\"in\\\"st\"} 100000\n",
        "pinpostd_kafka_queue_max_bytes{instance=\"in\\\"st\"} 1073741824\n",
        "pinpostd_kafka_broker_state{instance=\"in\\\"st\",broker=\"127.0.0.1:9092/bootstrap\","
        "state=\"UP\"} 1\n",
        "pinpostd_kafka_broker_state{instance=\"in\\\"st\",broker=\"b\\\"2:9093/2\","
        "state=\"TRY_CONNECT\"} 1\n",
        "pinpostd_kafka_broker_up{instance=\"in\\\"st\",broker=\"127.0.0.1:9092/bootstrap\"} 1\n",
        "pinpostd_kafka_broker_up{instance=\"in\\\"st\",broker=\"b\\\"2:9093/2\"} 0\n",
        "pinpostd_kafka_broker_outbuf_messages{instance=\"in\\\"st\",broker=\"127.0.0.1:9092/"
        "bootstrap\"} 1\n",
        "pinpostd_kafka_broker_waitresp_messages{instance=\"in\\\"st\",broker=\"127.0.0.1:9092/"
        "bootstrap\"} 2\n",
        "pinpostd_kafka_broker_rtt_seconds{instance=\"in\\\"st\",broker=\"127.0.0.1:9092/"
        "bootstrap\"} 0.0015\n",
        "pinpostd_kafka_idempotence_state{instance=\"in\\\"st\",state=\"Assigned\"} 1\n",
        "pinpostd_kafka_transaction_state{instance=\"in\\\"st\",state=\"InTransaction\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], t);
    /* librdkafka's placeholders are no brokers. */
    assert_null(strstr(t, "GroupCoordinator"));
    assert_null(strstr(t, "internal"));
    /* a broker without rtt has no rtt series */
    assert_null(strstr(t, "pinpostd_kafka_broker_rtt_seconds{instance=\"in\\\"st\",broker=\"b"));
    free(t);
}

static void render_kafka__bad_json__nothing(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"msg_cnt\":\"x\",\"brokers\":[1],\"eos\":7}", /* wrong types */
        "{\"brokers\":{\"x\":{\"name\":1,\"state\":null}}}",
        "{\"msg_cnt\":1", /* cut short */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *t = rendered(render_kafka, (void *)bad[i]);
        /* At most the families' heads: no series. */
        for (char *line = t; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (*line != '#')
                fail_msg("case %zu rendered a series: %s", i, line);
        free(t);
    }
    char *t = rendered(render_kafka, NULL);
    assert_string_equal(t, "");
    free(t);
}

static void render_process(FILE *f, void *arg)
{
    (void)arg;
    pp_metrics_render_process(f);
}

static double sample(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("no %s in:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

static void render_process__this_process__plausible(void **state)
{
    (void)state;
    char *t = rendered(render_process, NULL);
    assert_true(sample(t, "process_cpu_seconds_total") >= 0);
    assert_true(sample(t, "process_resident_memory_bytes") > 1e6);
    assert_true(sample(t, "process_virtual_memory_bytes") >=
                sample(t, "process_resident_memory_bytes"));
    double start = sample(t, "process_start_time_seconds");
    assert_true(start > 1e9 && start <= (double)time(NULL) + 1);
    double fds = sample(t, "process_open_fds");
    assert_true(fds >= 3 && fds <= sample(t, "process_max_fds"));
    assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
    free(t);
}

typedef struct render_args {
    const char *instance;
    pp_stats *s;
} render_args;

static void render_all(FILE *f, void *arg)
{
    render_args *a = arg;
    pp_metrics_health h = {.source_up = 1, .sink_up = 0, .sink = "kafka"};
    assert_int_equal(pp_metrics_render(f, a->instance, a->s, &h, NULL), 0);
}

static void render__counters__same_as_textfile(void **state)
{
    (void)state;
    pp_stats s;
    pp_stats_init(&s, 0);
    s.posts_sampled = 10;
    s.posts_delivered = 7;
    s.posts_failed = 1;
    s.sinks.n = 1;
    snprintf(s.sinks.sink[0].name, sizeof(s.sinks.sink[0].name), "kafka");
    for (int t = 0; t < PP_NTABLES; t++)
        snprintf(s.sinks.sink[0].dest[t], sizeof(s.sinks.sink[0].dest[t]), "p.%s",
                 pp_table_names[t]);
    s.sinks.sink[0].counters.topic[PP_GEO].delivered = 7;
    s.sinks.sink[0].counters.topic[PP_GEO].bytes = 700;
    render_args a = {"a\\b\"c\nd", &s};
    char *t = rendered(render_all, &a);
    static const char *const want[] = {
        "pinpostd_posts_sampled_total{instance=\"a\\\\b\\\"c\\nd\"} 10\n",
        "pinpostd_posts_delivered_total{instance=\"a\\\\b\\\"c\\nd\"} 7\n",
        "pinpostd_posts_failed_total{instance=\"a\\\\b\\\"c\\nd\"} 1\n",
        "pinpostd_posts_in_flight{instance=\"a\\\\b\\\"c\\nd\"} 2\n",
        "pinpostd_messages_delivered_total{instance=\"a\\\\b\\\"c\\nd\",sink=\"kafka\","
        "table=\"geo\",topic=\"p.geo\"} 7\n",
        "pinpostd_bytes_delivered_total{instance=\"a\\\\b\\\"c\\nd\",sink=\"kafka\","
        "table=\"geo\",topic=\"p.geo\"} 700\n",
        "pinpostd_up{instance=\"a\\\\b\\\"c\\nd\",end=\"mysql\"} 1\n",
        "pinpostd_up{instance=\"a\\\\b\\\"c\\nd\",end=\"kafka\"} 0\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], t);
    /* The textfile is the same text. */
    char *dir = unit_tmpdir(), path[512], err[256], *file = NULL;
    snprintf(path, sizeof(path), "%s/m.prom", dir);
    pp_metrics_health h = {.source_up = 1, .sink_up = 0, .sink = "kafka"};
    assert_int_equal(pp_metrics_write(path, a.instance, &s, &h, NULL, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = strlen(t) + 16;
    file = calloc(1, cap);
    assert_int_equal(fread(file, 1, cap - 1, f), strlen(t));
    fclose(f);
    assert_string_equal(file, t);
    free(file);
    unlink(path);
    unit_rmdir(dir);
    free(t);
}

static void local_url__table__loopback_for_wildcards(void **state)
{
    (void)state;
    static const struct {
        const char *listen, *url;
    } cases[] = {
        {"127.0.0.1:9464", "http://127.0.0.1:9464/healthz"},
        {"0.0.0.0:9464", "http://127.0.0.1:9464/healthz"},
        {"[::]:80", "http://[::1]:80/healthz"},
        {"[::1]:9464", "http://[::1]:9464/healthz"},
        {"[fe80::1]:1", "http://[fe80::1]:1/healthz"},
        {"pod.example:9464", "http://pod.example:9464/healthz"},
    };
    char url[128], err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            pp_httpd_local_url(cases[i].listen, "/healthz", url, sizeof(url), err, sizeof(err)), 0);
        assert_string_equal(url, cases[i].url);
    }
    static const char *const bad[] = {"9464", "127.0.0.1:0", "127.0.0.1:65536", "[::1:9464", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(pp_httpd_local_url(bad[i], "/healthz", url, sizeof(url), err, sizeof(err)),
                         -1);
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(render_kafka__stats__every_metric),
        cmocka_unit_test(render_kafka__bad_json__nothing),
        cmocka_unit_test(render_process__this_process__plausible),
        cmocka_unit_test(render__counters__same_as_textfile),
        cmocka_unit_test(local_url__table__loopback_for_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
