/* Unit tests of what the sinks share: a post's outcome from its messages' fates, the
 * sink's own counters, the done report; and the dry-run sink built on them, writing to a
 * pipe. */
#include "unit.h"

#include <signal.h>
#include <unistd.h>

#include "pp_config.h"
#include "pp_inflight.h"
#include "pp_sink.h"

typedef struct reports {
    int n;
    pp_post_result last;
    char error[256];
} reports;

static void on_done(void *opaque, const pp_post_result *r)
{
    reports *rep = opaque;
    rep->n++;
    rep->last = *r;
    snprintf(rep->error, sizeof(rep->error), "%s", r->error ? r->error : "");
}

static pp_sink_put no_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    (void)s, (void)p, (void)seq, (void)e, (void)n;
    return PP_SINK_FAILED;
}

static void no_destroy(pp_sink *s)
{
    (void)s;
}

static const pp_sink_ops ops = {.produce = no_produce, .destroy = no_destroy};

static pp_post a_post(const char *pin, const char *geo, const char *user)
{
    pp_post p;
    memset(&p, 0, sizeof(p));
    p.key = 7528;
    p.found = PP_POST_COMPLETE;
    pp_buf_puts(&p.value[PP_PIN], pin);
    pp_buf_puts(&p.value[PP_GEO], geo);
    pp_buf_puts(&p.value[PP_USER], user);
    return p;
}

static void outcome__message_fates__post_outcome(void **state)
{
    (void)state;
    static const struct {
        pp_outcome m[PP_NTABLES], want;
    } cases[] = {
        {{PP_DELIVERED, PP_DELIVERED, PP_DELIVERED}, PP_DELIVERED},
        {{PP_DELIVERED, PP_FAILED, PP_DELIVERED}, PP_UNKNOWN}, /* part of it is there */
        {{PP_FAILED, PP_UNKNOWN, PP_FAILED}, PP_UNKNOWN},      /* some may be there */
        {{PP_FAILED, PP_FAILED, PP_FAILED}, PP_FAILED},        /* none can be */
    };
    pp_post p = a_post("{}", "{}", "{}");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_inflight r;
        pp_inflight_start(&r, &p, 3);
        for (int t = 0; t < PP_NTABLES; t++)
            assert_int_equal(pp_inflight_message(&r, t, cases[i].m[t], 1, 10, "why"),
                             PP_NTABLES - 1 - t);
        assert_int_equal(pp_inflight_outcome(&r), cases[i].want);
    }
    pp_post_release(&p);
}

static void done__counts_and_reports__per_sink(void **state)
{
    (void)state;
    pp_sink s;
    reports rep = {0};
    memset(&s, 0, sizeof(s));
    pp_sink_base_init(&s, &ops, "unit", NULL, NULL, on_done, &rep);
    pp_post p = a_post("{\"index\":7528}", "{\"ind\":7528}", "{}");
    pp_inflight r;
    pp_inflight_start(&r, &p, 9);
    pp_inflight_message(&r, PP_PIN, PP_DELIVERED, 2, 100, NULL);
    pp_inflight_message(&r, PP_GEO, PP_UNKNOWN, -1, -1, "timed out");
    pp_inflight_message(&r, PP_USER, PP_FAILED, -1, -1, "refused");
    for (int t = 0; t < PP_NTABLES; t++)
        pp_inflight_count(&s, &r, t,
                          t == PP_PIN   ? PP_DELIVERED
                          : t == PP_GEO ? PP_UNKNOWN
                                        : PP_FAILED);
    pp_inflight_done(&s, &r, pp_inflight_outcome(&r), "Somewhere");
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.last.seq, 9);
    assert_int_equal(rep.last.key, 7528);
    assert_int_equal(rep.last.outcome, PP_UNKNOWN);
    assert_string_equal(rep.error, "timed out"); /* the first failure */
    assert_int_equal(rep.last.partition[PP_PIN], 2);
    assert_int_equal(rep.last.offset[PP_PIN], 100);
    assert_int_equal(rep.last.partition[PP_USER], -1);
    const pp_sink_counters *c = &s.counters;
    assert_int_equal(c->topic[PP_PIN].delivered, 1);
    assert_int_equal(c->topic[PP_PIN].bytes, strlen("{\"index\":7528}"));
    assert_int_equal(c->topic[PP_GEO].unknown, 1);
    assert_int_equal(c->topic[PP_GEO].bytes, 0);
    assert_int_equal(c->topic[PP_USER].failed, 1);
    assert_int_equal(c->latency_us.total, 1); /* deliveries only */
    pp_sink_base_release(&s);
    pp_post_release(&p);
}

static pp_config *config(void)
{
    pp_config *c = pp_config_new_defaults();
    free(c->service.instance);
    c->service.instance = strdup("unit-1");
    return c;
}

static void dry__pipe__lines_written_and_counted(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pp_config *c = config();
    reports rep = {0};
    pp_sink *s = pp_sink_dry_new(c, fds[1], on_done, &rep);
    pp_post p = a_post("{\"index\":1}", "{\"ind\":1}", "{\"ind\":1}");
    char e[256];
    assert_int_equal(pp_sink_produce(s, &p, 5, e, sizeof(e)), PP_SINK_QUEUED);
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.last.outcome, PP_DELIVERED);
    assert_int_equal(pp_sink_flush(s, 0), PP_SINK_DRAINED);
    char buf[2048];
    ssize_t got = read(fds[0], buf, sizeof(buf) - 1);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_non_null(strstr(buf, "{\"topic\":\"pinpostd.geo\",\"key\":\"7528\",\"headers\":"
                                "{\"pinpostd.instance\":\"unit-1\",\"pinpostd.seq\":\"5\"},"
                                "\"value\":{\"ind\":1}}\n"));
    pp_sink_stats st;
    assert_int_equal(pp_sink_stats_get(s, &st, 1), 1);
    assert_string_equal(st.name, "dry-run");
    assert_int_equal(st.counters->topic[PP_USER].delivered, 1);
    assert_int_equal(st.counters->latency_us.total, 3);
    /* A reader gone: the post fails, the sink is fatal. */
    close(fds[0]);
    assert_int_equal(pp_sink_produce(s, &p, 6, e, sizeof(e)), PP_SINK_FAILED);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.last.outcome, PP_FAILED);
    assert_int_equal(pp_sink_fatal(s, e, sizeof(e)), 1);
    assert_int_equal(pp_sink_healthy(s), 0);
    assert_int_equal(st.counters->topic[PP_USER].failed, 1);
    pp_sink_destroy(s);
    close(fds[1]);
    pp_post_release(&p);
    pp_config_destroy(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    pp_log_init(-4); /* the warnings about posts not delivered */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcome__message_fates__post_outcome),
        cmocka_unit_test(done__counts_and_reports__per_sink),
        cmocka_unit_test(dry__pipe__lines_written_and_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
