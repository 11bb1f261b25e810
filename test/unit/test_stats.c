/* Unit tests of the run report and the summary line: unknown posts and messages are
 * reported apart from failed ones. */
#include "unit.h"

#include <cjson/cJSON.h>

#include "pp_config.h"
#include "pp_stats.h"

static cJSON *report_of(const pp_stats *s)
{
    pp_config c;
    memset(&c, 0, sizeof(c));
    c.service.instance = "unit";
    const char *const topics[PP_NTABLES] = {"p.pin", "p.geo", "p.user"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(pp_stats_write_report(s, &c, 7, topics, f), 0);
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

static pp_stats outcome_stats(void)
{
    pp_stats s;
    pp_stats_init(&s, 0);
    s.posts_sampled = 10;
    s.posts_delivered = 6;
    s.posts_failed = 1;
    s.posts_unknown = 2;
    for (int t = 0; t < PP_NTABLES; t++) {
        s.topic[t].delivered = 18 + (uint64_t)t;
        s.topic[t].failed = 3;
        s.topic[t].unknown = 5;
    }
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
    const cJSON *geo =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "per_topic"), "geo");
    assert_true(num(geo, "messages_unknown") == 5);
    assert_true(num(geo, "messages_delivered") == 19);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_report__unknown_posts__counted_apart_from_failed),
        cmocka_unit_test(summary__unknown_posts__named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
