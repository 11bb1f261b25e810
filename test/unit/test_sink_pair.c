/* Unit tests of the sink interface's defaults and of the pair, with stand-in children: a
 * post is reported once when every child settled it, fits runs once per child and post,
 * the children are treated alike (any number, any names), and each keeps its counters. */
#include "unit.h"

#include "pp_inflight.h"
#include "pp_sink.h"

/* A stand-in child: records what it was asked; the test settles its posts. */
typedef struct fake {
    pp_sink base;
    int fits_calls, produce_calls, fits_ok;
    pp_sink_ready ready;
    char ready_err[64];
    int full, healthy;
    uint64_t last_seq;
} fake;

static int fake_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    fake *f = (fake *)s;
    (void)p;
    f->fits_calls++;
    if (!f->fits_ok)
        snprintf(e, n, "%s: too big", s->name);
    return f->fits_ok;
}

static pp_sink_put fake_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    fake *f = (fake *)s;
    (void)p, (void)e, (void)n;
    f->produce_calls++;
    f->last_seq = seq;
    return PP_SINK_QUEUED;
}

static pp_sink_ready fake_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    fake *f = (fake *)s;
    (void)timeout_ms;
    if (f->ready != PP_SINK_READY)
        snprintf(e, n, "%s", f->ready_err);
    return f->ready;
}

static int fake_full(pp_sink *s)
{
    return ((fake *)s)->full;
}

static int fake_healthy(pp_sink *s)
{
    return ((fake *)s)->healthy;
}

static void fake_check(pp_sink *s, int timeout_ms, pp_check_list *out)
{
    (void)timeout_ms;
    pp_check_list_add(out, s->name, "thing", "t1", PP_CHECK_OK, "fine");
}

static void fake_destroy(pp_sink *s)
{
    pp_sink_base_release(s);
    free(s);
}

static const pp_sink_ops fake_ops = {.prepare = fake_prepare,
                                     .fits = fake_fits,
                                     .full = fake_full,
                                     .produce = fake_produce,
                                     .healthy = fake_healthy,
                                     .check = fake_check,
                                     .destroy = fake_destroy};

/* The least a sink can be. */
static const pp_sink_ops bare_ops = {.produce = fake_produce, .destroy = fake_destroy};

/* "a", "b", "c" for pin, geo, user. */
static char *dest_of(const pp_config *c, enum pp_table t)
{
    (void)c;
    return strdup((const char *[]){"a", "b", "c"}[t]);
}

static fake *fake_new(const char *name, const pp_sink_ops *ops)
{
    fake *f = calloc(1, sizeof(*f));
    pp_sink_base_init(&f->base, ops, name, NULL, dest_of, NULL, NULL);
    f->fits_ok = 1;
    f->healthy = 1;
    return f;
}

/* The child reports post seq settled as o, with partition/offset base p (-1: none). */
static void settle(fake *f, uint64_t seq, pp_outcome o, int32_t p, int64_t off, int64_t lat,
                   const char *error)
{
    pp_post_result r = {.seq = seq, .key = 42, .outcome = o, .latency_us = lat, .error = error};
    for (int t = 0; t < PP_NTABLES; t++) {
        r.partition[t] = p < 0 ? -1 : p + t;
        r.offset[t] = off < 0 ? -1 : off + t;
    }
    f->base.done(f->base.opaque, &r);
}

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

static pp_post a_post(void)
{
    pp_post p;
    memset(&p, 0, sizeof(p));
    p.key = 42;
    p.found = PP_POST_COMPLETE;
    return p;
}

static void defaults__bare_sink__documented_defaults(void **state)
{
    (void)state;
    fake *f = fake_new("bare", &bare_ops);
    pp_sink *s = &f->base;
    char e[64] = "";
    pp_post p = a_post();
    pp_check_list l = {0};
    assert_int_equal(pp_sink_prepare(s, 10, e, sizeof(e)), PP_SINK_READY);
    assert_int_equal(pp_sink_fits(s, &p, e, sizeof(e)), 1);
    assert_int_equal(pp_sink_full(s), 0);
    assert_int_equal(pp_sink_produce(s, &p, 1, e, sizeof(e)), PP_SINK_QUEUED);
    pp_sink_poll(s, 0);
    assert_int_equal(pp_sink_flush(s, 10), PP_SINK_DRAINED);
    pp_sink_abandon(s);
    assert_int_equal(pp_sink_healthy(s), 1);
    assert_int_equal(pp_sink_fatal(s, e, sizeof(e)), 0);
    pp_sink_check(s, 10, &l);
    assert_int_equal(l.n, 0);
    pp_sink_stats st[4];
    assert_int_equal(pp_sink_stats_get(s, st, 4), 1);
    assert_string_equal(st[0].name, "bare");
    assert_string_equal(st[0].dest[PP_GEO], "b");
    assert_ptr_equal(st[0].counters, &s->counters);
    pp_sink_destroy(s);
}

/* Three children, so nothing can depend on there being a Kafka and a Kinesis. */
static pp_sink *three(fake *kid[3], reports *rep)
{
    static const char *const names[3] = {"one", "two", "three"};
    pp_sink *k[3];
    for (int i = 0; i < 3; i++)
        k[i] = &(kid[i] = fake_new(names[i], &fake_ops))->base;
    return pp_sink_pair_new(k, 3, on_done, rep);
}

static void produce__post_too_big_for_one__fits_once_each_and_none_produce(void **state)
{
    (void)state;
    fake *kid[3];
    reports rep = {0};
    pp_sink *s = three(kid, &rep);
    pp_post p = a_post();
    char e[128];
    assert_int_equal(pp_sink_produce(s, &p, 1, e, sizeof(e)), PP_SINK_QUEUED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kid[i]->fits_calls, 1);
        assert_int_equal(kid[i]->produce_calls, 1);
    }
    kid[1]->fits_ok = 0;
    assert_int_equal(pp_sink_produce(s, &p, 2, e, sizeof(e)), PP_SINK_SKIPPED);
    assert_string_equal(e, "two: too big");
    for (int i = 0; i < 3; i++)
        assert_int_equal(kid[i]->produce_calls, 1);
    assert_int_equal(kid[0]->fits_calls, 2);
    pp_sink_destroy(s);
}

static void done__every_child_settles__reported_once_with_the_first_partitions(void **state)
{
    (void)state;
    fake *kid[3];
    reports rep = {0};
    pp_sink *s = three(kid, &rep);
    /* The first child has no partitions (a dry run would not); the second and third do:
     * the second's are reported, whichever order they settle in. */
    settle(kid[2], 7, PP_DELIVERED, 30, 300, 5000, NULL);
    settle(kid[0], 7, PP_DELIVERED, -1, -1, 1000, NULL);
    assert_int_equal(rep.n, 0);
    settle(kid[1], 7, PP_DELIVERED, 20, -1, 9000, NULL);
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.last.outcome, PP_DELIVERED);
    assert_int_equal(rep.last.seq, 7);
    assert_int_equal(rep.last.key, 42);
    assert_int_equal(rep.last.partition[PP_GEO], 21);
    assert_int_equal(rep.last.offset[PP_GEO], -1);
    assert_int_equal(rep.last.latency_us, 9000);
    assert_null(rep.last.error);
    pp_sink_destroy(s);
}

static void done__outcomes_combine__failed_only_when_no_child_holds_any(void **state)
{
    (void)state;
    static const struct {
        pp_outcome a, b, c, want;
        const char *error;
    } cases[] = {
        {PP_DELIVERED, PP_DELIVERED, PP_DELIVERED, PP_DELIVERED, ""},
        {PP_DELIVERED, PP_FAILED, PP_DELIVERED, PP_UNKNOWN, "two: e2"},
        {PP_FAILED, PP_FAILED, PP_FAILED, PP_FAILED, "one: e1"},
        {PP_FAILED, PP_UNKNOWN, PP_FAILED, PP_UNKNOWN, "one: e1"},
        {PP_DELIVERED, PP_UNKNOWN, PP_FAILED, PP_UNKNOWN, "two: e2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake *kid[3];
        reports rep = {0};
        pp_sink *s = three(kid, &rep);
        /* Settled last to first: the error is still the first child's in order. */
        settle(kid[2], 1, cases[i].c, -1, -1, 1, "e3");
        settle(kid[1], 1, cases[i].b, -1, -1, 1, "e2");
        settle(kid[0], 1, cases[i].a, -1, -1, 1, "e1");
        assert_int_equal(rep.n, 1);
        assert_int_equal(rep.last.outcome, cases[i].want);
        assert_string_equal(rep.error, cases[i].error);
        pp_sink_destroy(s);
    }
}

static void done__many_posts_out_of_order__each_once(void **state)
{
    (void)state;
    fake *kid[3];
    reports rep = {0};
    pp_sink *s = three(kid, &rep);
    for (uint64_t q = 1; q <= 5000; q++)
        settle(kid[q % 3], q, PP_DELIVERED, -1, -1, 1, NULL);
    for (uint64_t q = 5000; q >= 1; q--)
        settle(kid[(q + 1) % 3], q, PP_DELIVERED, -1, -1, 1, NULL);
    assert_int_equal(rep.n, 0);
    for (uint64_t q = 1; q <= 5000; q++)
        settle(kid[(q + 2) % 3], q, PP_DELIVERED, -1, -1, 1, NULL);
    assert_int_equal(rep.n, 5000);
    pp_sink_destroy(s);
}

static void slots__children_alike__worst_state_and_each_childs_data(void **state)
{
    (void)state;
    fake *kid[3];
    reports rep = {0};
    pp_sink *s = three(kid, &rep);
    char e[64] = "";
    assert_int_equal(pp_sink_prepare(s, 1, e, sizeof(e)), PP_SINK_READY);
    kid[2]->ready = PP_SINK_NOT_YET;
    snprintf(kid[2]->ready_err, sizeof(kid[2]->ready_err), "three waits");
    kid[1]->ready = PP_SINK_BROKEN;
    snprintf(kid[1]->ready_err, sizeof(kid[1]->ready_err), "two is broken");
    assert_int_equal(pp_sink_prepare(s, 1, e, sizeof(e)), PP_SINK_BROKEN);
    assert_string_equal(e, "two is broken");
    kid[1]->ready = PP_SINK_READY;
    assert_int_equal(pp_sink_prepare(s, 1, e, sizeof(e)), PP_SINK_NOT_YET);
    assert_string_equal(e, "three waits");

    assert_int_equal(pp_sink_full(s), 0);
    kid[2]->full = 1;
    assert_int_equal(pp_sink_full(s), 1);
    assert_int_equal(pp_sink_healthy(s), 1);
    kid[0]->healthy = 0;
    assert_int_equal(pp_sink_healthy(s), 0);
    assert_int_equal(pp_sink_fatal(s, e, sizeof(e)), 0);
    pp_sink_set_fatal(&kid[1]->base, "%s is fatal", kid[1]->base.name); /* the default slot */
    assert_int_equal(pp_sink_fatal(s, e, sizeof(e)), 1);
    assert_string_equal(e, "two is fatal");

    pp_check_list l = {0};
    pp_sink_check(s, 1, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.item[0].sink, "one");
    assert_string_equal(l.item[2].sink, "three");
    assert_string_equal(l.item[2].what, "thing");
    pp_check_list_free(&l);

    pp_sink_counters_count(&kid[1]->base.counters, PP_USER, PP_DELIVERED, 9, 1);
    pp_sink_stats st[4];
    assert_int_equal(pp_sink_stats_get(s, st, 4), 3);
    assert_string_equal(st[1].name, "two");
    assert_int_equal(st[1].counters->topic[PP_USER].delivered, 1);
    assert_int_equal(st[0].counters->topic[PP_USER].delivered, 0);
    assert_int_equal(pp_sink_stats_get(s, st, 2), 2);
    pp_sink_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults__bare_sink__documented_defaults),
        cmocka_unit_test(produce__post_too_big_for_one__fits_once_each_and_none_produce),
        cmocka_unit_test(done__every_child_settles__reported_once_with_the_first_partitions),
        cmocka_unit_test(done__outcomes_combine__failed_only_when_no_child_holds_any),
        cmocka_unit_test(done__many_posts_out_of_order__each_once),
        cmocka_unit_test(slots__children_alike__worst_state_and_each_childs_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
