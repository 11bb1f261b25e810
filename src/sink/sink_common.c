/* sink_common: what every sink shares: its common part, message counters, the in-flight
 * record of a post and its settlement, the --check list and the interface's defaults. */
#include "pp_inflight.h"
#include "pp_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_sink_base_init(pp_sink *s, const pp_sink_ops *ops, const char *name, const pp_config *c,
                       pp_sink_dest_fn dest, pp_post_done_cb done, void *opaque)
{
    s->ops = ops;
    s->name = name;
    for (int t = 0; t < PP_NTABLES; t++)
        s->dest[t] = dest ? dest(c, t) : NULL;
    s->done = done;
    s->opaque = opaque;
}

void pp_sink_base_release(pp_sink *s)
{
    for (int t = 0; t < PP_NTABLES; t++) {
        free(s->dest[t]);
        s->dest[t] = NULL;
    }
}

void pp_sink_set_fatal(pp_sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fatal_reason, sizeof(s->fatal_reason), fmt, ap);
    va_end(ap);
    s->fatal = 1;
}

int pp_sink_fatal(pp_sink *s, char *e, size_t n)
{
    if (s->ops->fatal)
        return s->ops->fatal(s, e, n);
    if (s->fatal)
        pp_errf(e, n, "%s", s->fatal_reason);
    return s->fatal;
}

void pp_sink_counters_count(pp_sink_counters *c, enum pp_table t, pp_outcome o, size_t bytes,
                            int64_t latency_us)
{
    pp_topic_stats *ts = &c->topic[t];
    switch (o) {
    case PP_DELIVERED:
        ts->delivered++;
        ts->bytes += bytes;
        /* Latency percentiles describe deliveries; failures are counted apart. */
        pp_hist_record(&c->latency_us, latency_us > 0 ? (uint64_t)latency_us : 0);
        break;
    case PP_UNKNOWN: ts->unknown++; break;
    case PP_FAILED: ts->failed++; break;
    }
}

void pp_sink_counters_add(pp_sink_counters *a, const pp_sink_counters *b)
{
    for (int t = 0; t < PP_NTABLES; t++) {
        a->topic[t].delivered += b->topic[t].delivered;
        a->topic[t].failed += b->topic[t].failed;
        a->topic[t].unknown += b->topic[t].unknown;
        a->topic[t].bytes += b->topic[t].bytes;
    }
    pp_hist_add(&a->latency_us, &b->latency_us);
}

size_t pp_sink_stats_get(pp_sink *s, pp_sink_stats *out, size_t max)
{
    if (s->ops->stats)
        return s->ops->stats(s, out, max);
    if (!max)
        return 0;
    out[0] = (pp_sink_stats){
        .name = s->name, .dest = (const char *const *)s->dest, .counters = &s->counters};
    return 1;
}

void pp_sink_poll(pp_sink *s, int timeout_ms)
{
    if (s->ops->poll)
        s->ops->poll(s, timeout_ms);
    else if (timeout_ms > 0)
        pp_sleep_us((int64_t)timeout_ms * 1000);
}

pp_check_item *pp_check_list_add(pp_check_list *l, const char *sink, const char *what,
                                 const char *name, pp_check_state state, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->item = pp_xrealloc(l->item, l->cap * sizeof(*l->item));
    }
    pp_check_item *it = &l->item[l->n++];
    memset(it, 0, sizeof(*it));
    it->sink = sink;
    snprintf(it->what, sizeof(it->what), "%s", what ? what : "");
    snprintf(it->name, sizeof(it->name), "%s", name ? name : "");
    it->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
    va_end(ap);
    return it;
}

void pp_check_list_free(pp_check_list *l)
{
    free(l->item);
    memset(l, 0, sizeof(*l));
}

void pp_inflight_start(pp_inflight *r, const pp_post *p, uint64_t seq)
{
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    r->key = p->key;
    r->t0_us = pp_now_us();
    r->remaining = PP_NTABLES;
    for (int t = 0; t < PP_NTABLES; t++) {
        r->partition[t] = -1;
        r->offset[t] = -1;
        r->bytes[t] = p->value[t].len;
    }
}

int pp_inflight_message(pp_inflight *r, int t, pp_outcome o, int32_t partition, int64_t offset,
                        const char *error)
{
    r->latency_us[t] = pp_now_us() - r->t0_us;
    r->partition[t] = partition;
    r->offset[t] = offset;
    if (o == PP_DELIVERED) {
        r->delivered[t] = 1;
    } else {
        if (o == PP_UNKNOWN)
            r->maybe = 1;
        else
            r->lost = 1;
        if (!r->error[0])
            snprintf(r->error, sizeof(r->error), "%s", error && *error ? error : "failed");
    }
    return --r->remaining;
}

void pp_inflight_count(pp_sink *s, const pp_inflight *r, int t, pp_outcome o)
{
    pp_sink_counters_count(&s->counters, t, o, r->bytes[t], r->latency_us[t]);
}

pp_outcome pp_inflight_outcome(const pp_inflight *r)
{
    int delivered = 0;
    for (int t = 0; t < PP_NTABLES; t++)
        delivered += r->delivered[t];
    if (delivered == PP_NTABLES)
        return PP_DELIVERED;
    return delivered || r->maybe ? PP_UNKNOWN : PP_FAILED;
}

void pp_inflight_done(pp_sink *s, const pp_inflight *r, pp_outcome o, const char *where)
{
    pp_post_result res = {.seq = r->seq,
                          .key = r->key,
                          .outcome = o,
                          .latency_us = pp_now_us() - r->t0_us,
                          .error = o == PP_DELIVERED ? NULL
                                   : r->error[0]     ? r->error
                                                     : "failed"};
    memcpy(res.partition, r->partition, sizeof(res.partition));
    memcpy(res.offset, r->offset, sizeof(res.offset));
    if (o != PP_DELIVERED) {
        char what[80] = "failed";
        if (o == PP_UNKNOWN)
            snprintf(what, sizeof(what), "not acknowledged whole, %s may hold it", where);
        /* One line per post would flood the log during an outage. The journal entry
         * names the post and the topics (or streams) of its messages not delivered. */
        pp_log_fields f = {
            .event = PP_EV_POST_FAILED, .has_post_key = 1, .post_key = r->key, .seq = r->seq};
        _Static_assert(PP_NTABLES <= PP_LOG_MAX_TOPICS, "a journal entry names each topic");
        for (int t = 0, i = 0; t < PP_NTABLES; t++)
            if (!r->delivered[t] && s->dest[t])
                f.topic[i++] = s->dest[t];
        pp_log_limited_with(&f, &s->fail_log, LOG_WARNING,
                            "%s: post %" PRId64 " (seq %" PRIu64 ") %s: %s", s->name, r->key,
                            r->seq, what, res.error);
    }
    if (s->done)
        s->done(s->opaque, &res);
}
