/* Unit tests of the run report and the summary line: unknown posts and messages are
 * reported apart from failed ones; each sink's messages are counted once, in its own
 * section, and survive the sink being replaced by a reload. */
#include "unit.h"

#include <cjson/cJSON.h>

#include "pp_config.h"
#include "pp_inflight.h"
#include "pp_stats.h"

static cJSON *report_of(const pp_stats *s)
{
    pp_config c;
    memset(&c, 0, sizeof(c));
    c.service.instance = "unit";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(pp_stats_write_report(s, &c, 7, NULL, f), 0);
    assert_int_equal(fclose(f), 0);
    cJSON *r = cJSON_Parse(text);
    free(text);
    assert_non_null(r);
    return r;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const cJSON *obj(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsObject(v));
    return v;
}

/* A stand-in sink: it produces nothing, its counters are set by the test. */
static pp_sink_put fake_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    (void)s, (void)p, (void)seq, (void)e, (void)n;
    return PP_SINK_FAILED;
}

static void fake_destroy(pp_sink *s)
{
    pp_sink_base_release(s);
    free(s);
}

static const pp_sink_ops fake_ops = {.produce = fake_produce, .destroy = fake_destroy};

/* The sink's destinations are PREFIX.pin, PREFIX.geo, PREFIX.user, with PREFIX passed as
 * kafka.topic_prefix. */
static char *dest_of(const pp_config *c, enum pp_table t)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s.%s", c->kafka.topic_prefix, pp_table_names[t]);
    return strdup(buf);
}

static pp_sink *fake_sink(const char *name, const char *prefix)
{
    pp_sink *s = calloc(1, sizeof(*s));
    pp_config c;
    memset(&c, 0, sizeof(c));
    c.kafka.topic_prefix = (char *)prefix;
    pp_sink_base_init(s, &fake_ops, name, &c, dest_of, NULL, NULL);
    return s;
}

/* n deliveries of table t, each of `bytes` bytes and latency_ms. */
static void deliver(pp_sink *s, enum pp_table t, int n, size_t bytes, int64_t latency_ms)
{
    for (int i = 0; i < n; i++)
        pp_sink_counters_count(&s->counters, t, PP_DELIVERED, bytes, latency_ms * 1000);
}

static pp_stats outcome_stats(void)
{
    pp_stats s;
    pp_stats_init(&s, 0);
    s.posts_sampled = 10;
    s.posts_delivered = 6;
    s.posts_failed = 1;
    s.posts_unknown = 2;
    pp_sink *k = fake_sink("kafka", "p");
    for (int t = 0; t < PP_NTABLES; t++) {
        k->counters.topic[t].delivered = 18 + (uint64_t)t;
        k->counters.topic[t].failed = 3;
        k->counters.topic[t].unknown = 5;
    }
    pp_stats_update_sinks(&s, k, NULL);
    pp_sink_destroy(k);
    pp_stats_finish(&s, 2000000);
    return s;
}

static void write_report__unknown_posts__counted_apart_from_failed(void **state)
{
    (void)state;
    pp_stats s = outcome_stats();
    cJSON *r = report_of(&s);
    assert_true(num(r, "posts_unknown") == 2);
    assert_true(num(r, "posts_failed") == 1);
    /* 10 sampled: 6 delivered, 1 failed, 2 unknown, so 1 still in flight. */
    assert_true(num(r, "posts_in_flight") == 1);
    assert_true(num(r, "messages_unknown") == 15);
    assert_true(num(r, "messages_failed") == 9);
    assert_true(num(r, "messages_delivered") == 18 + 19 + 20);
    const cJSON *geo = obj(obj(r, "per_topic"), "geo");
    assert_true(num(geo, "messages_unknown") == 5);
    assert_true(num(geo, "messages_delivered") == 19);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(geo, "topic")), "p.geo");
    cJSON_Delete(r);
}

static void summary__unknown_posts__named(void **state)
{
    (void)state;
    pp_stats s = outcome_stats();
    char line[512];
    pp_stats_summary(&s, NULL, 2000000, line, sizeof(line));
    assert_non_null(strstr(line, "failed 1, unknown 2,"));
    assert_non_null(strstr(line, "in flight 1;"));
    assert_non_null(strstr(line, "messages 57,"));
}

/* Both sinks on: 100 posts are 300 messages to each; the top level is the first sink's
 * (as with one sink), and each sink's section counts its own messages once. */
static void write_report__two_sinks__each_counted_once_in_its_section(void **state)
{
    (void)state;
    pp_stats s;
    pp_stats_init(&s, 0);
    s.posts_sampled = s.posts_delivered = 100;
    pp_sink *k = fake_sink("kafka", "topic"), *q = fake_sink("kinesis", "stream");
    pp_sink *kids[2] = {k, q};
    pp_sink *pair = pp_sink_pair_new(kids, 2, NULL, NULL);
    for (int t = 0; t < PP_NTABLES; t++) {
        deliver(k, t, 100, 10, 2);
        deliver(q, t, 100, 10, 40);
    }
    pp_stats_update_sinks(&s, pair, NULL);
    pp_stats_finish(&s, 1000000);
    cJSON *r = report_of(&s);
    assert_true(num(r, "posts_delivered") == 100);
    assert_true(num(r, "messages_delivered") == 300);
    assert_true(num(r, "bytes_delivered") == 3000);
    assert_true(num(obj(obj(r, "per_topic"), "pin"), "messages_delivered") == 100);
    /* The top-level latency is Kafka's alone: 2 ms, not a mix with Kinesis's 40 ms. */
    assert_true(num(obj(r, "latency_ms"), "max") < 3);
    const cJSON *sinks = obj(r, "sinks");
    const char *names[2] = {"kafka", "kinesis"};
    for (int i = 0; i < 2; i++) {
        const cJSON *sk = obj(sinks, names[i]);
        assert_true(num(sk, "messages_delivered") == 300);
        assert_true(num(sk, "bytes_delivered") == 3000);
        assert_true(num(obj(sk, "latency_ms"), "count") == 300);
        const cJSON *pin = obj(obj(sk, "per_topic"), "pin");
        assert_true(num(pin, "messages_delivered") == 100);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(pin, "topic")),
                            i ? "stream.pin" : "topic.pin");
    }
    assert_true(num(obj(obj(sinks, "kinesis"), "latency_ms"), "p50") > 30);
    cJSON_Delete(r);
    char line[1024];
    pp_stats_summary(&s, NULL, 1000000, line, sizeof(line));
    assert_non_null(strstr(line, "; messages 300, "));
    assert_non_null(strstr(line, "; kinesis: messages 300, "));
    pp_sink_destroy(pair);
}

/* A reload replaces the sink: what the old one counted stays in the run's totals, by
 * name, and a sink no longer configured keeps its section. */
static void update_sinks__after_reload__retired_counts_kept(void **state)
{
    (void)state;
    pp_stats s;
    pp_stats_sinks retired = {0};
    pp_stats_init(&s, 0);
    pp_sink *a = fake_sink("kafka", "old"), *b = fake_sink("kinesis", "s");
    pp_sink *kids[2] = {a, b};
    pp_sink *pair = pp_sink_pair_new(kids, 2, NULL, NULL);
    deliver(a, PP_PIN, 5, 1, 1);
    deliver(b, PP_GEO, 7, 1, 1);
    pp_stats_retire_sinks(&retired, pair);
    pp_sink_destroy(pair);
    pp_sink *c = fake_sink("kafka", "new");
    deliver(c, PP_PIN, 3, 1, 1);
    pp_stats_update_sinks(&s, c, &retired);
    assert_int_equal(s.sinks.n, 2);
    assert_string_equal(s.sinks.sink[0].name, "kafka");
    assert_int_equal(s.sinks.sink[0].counters.topic[PP_PIN].delivered, 8);
    assert_int_equal(s.sinks.sink[0].counters.latency_us.total, 8);
    assert_string_equal(s.sinks.sink[0].dest[PP_PIN], "new.pin");
    assert_string_equal(s.sinks.sink[1].name, "kinesis");
    assert_int_equal(s.sinks.sink[1].counters.topic[PP_GEO].delivered, 7);
    /* Updating again does not count anything twice. */
    pp_stats_update_sinks(&s, c, &retired);
    assert_int_equal(s.sinks.sink[0].counters.topic[PP_PIN].delivered, 8);
    pp_sink_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_report__unknown_posts__counted_apart_from_failed),
        cmocka_unit_test(summary__unknown_posts__named),
        cmocka_unit_test(write_report__two_sinks__each_counted_once_in_its_section),
        cmocka_unit_test(update_sinks__after_reload__retired_counts_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
