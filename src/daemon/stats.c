/* stats: post counters, the sinks' message counters gathered per sink, the summary line
 * and the run report. */
#include "pp_stats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pp_stats_init(pp_stats *s, int64_t now_us)
{
    struct timespec ts;
    memset(s, 0, sizeof(*s));
    s->start_us = now_us;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->started_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pp_stats_finish(pp_stats *s, int64_t now_us)
{
    s->end_us = now_us;
}

uint64_t pp_stats_in_flight(const pp_stats *s)
{
    return s->posts_sampled - s->posts_delivered - s->posts_failed - s->posts_unknown -
           s->posts_skipped;
}

/* The tally of the sink called name in ss, added when missing (NULL when full). */
static pp_stats_sink *tally_of(pp_stats_sinks *ss, const char *name)
{
    for (size_t i = 0; i < ss->n; i++)
        if (!strcmp(ss->sink[i].name, name))
            return &ss->sink[i];
    if (ss->n == PP_STATS_SINKS)
        return NULL;
    pp_stats_sink *t = &ss->sink[ss->n++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    return t;
}

static void set_dest(pp_stats_sink *t, const pp_sink_stats *st)
{
    for (int i = 0; i < PP_NTABLES; i++)
        snprintf(t->dest[i], sizeof(t->dest[i]), "%s", st->dest && st->dest[i] ? st->dest[i] : "");
}

void pp_stats_update_sinks(pp_stats *s, pp_sink *sink, const pp_stats_sinks *retired)
{
    pp_sink_stats live[PP_STATS_SINKS];
    size_t n = sink ? pp_sink_stats_get(sink, live, PP_STATS_SINKS) : 0;
    pp_stats_sinks *ss = &s->sinks;
    ss->n = 0;
    for (size_t i = 0; i < n; i++) {
        pp_stats_sink *t = tally_of(ss, live[i].name);
        if (!t)
            break;
        set_dest(t, &live[i]);
        pp_sink_counters_add(&t->counters, live[i].counters);
    }
    for (size_t i = 0; retired && i < retired->n; i++) {
        const pp_stats_sink *r = &retired->sink[i];
        int was_known = 0;
        for (size_t j = 0; j < ss->n; j++)
            was_known |= !strcmp(ss->sink[j].name, r->name);
        pp_stats_sink *t = tally_of(ss, r->name);
        if (!t)
            break;
        if (!was_known)
            memcpy(t->dest, r->dest, sizeof(t->dest));
        pp_sink_counters_add(&t->counters, &r->counters);
    }
}

void pp_stats_retire_sinks(pp_stats_sinks *retired, pp_sink *sink)
{
    pp_sink_stats live[PP_STATS_SINKS];
    size_t n = pp_sink_stats_get(sink, live, PP_STATS_SINKS);
    for (size_t i = 0; i < n; i++) {
        pp_stats_sink *t = tally_of(retired, live[i].name);
        if (!t)
            break;
        set_dest(t, &live[i]);
        pp_sink_counters_add(&t->counters, live[i].counters);
    }
}

/* A sink's messages and bytes delivered, over its three tables. */
static void totals(const pp_sink_counters *c, uint64_t *msgs, uint64_t *failed, uint64_t *unknown,
                   uint64_t *bytes)
{
    *msgs = *failed = *unknown = *bytes = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        *msgs += c->topic[t].delivered;
        *failed += c->topic[t].failed;
        *unknown += c->topic[t].unknown;
        *bytes += c->topic[t].bytes;
    }
}

void pp_stats_summary(const pp_stats *s, const pp_stats *prev, int64_t now_us, char *out,
                      size_t out_size)
{
    static const pp_sink_counters none;
    double dt = (double)(now_us - (prev ? prev->end_us : s->start_us)) / 1e6;
    uint64_t d0 = prev ? prev->posts_delivered : 0;
    double rate = dt > 0 ? (double)(s->posts_delivered - d0) / dt : 0;
    uint64_t msgs, failed, unknown, bytes;
    const pp_sink_counters *first = s->sinks.n ? &s->sinks.sink[0].counters : &none;
    totals(first, &msgs, &failed, &unknown, &bytes);
    int len =
        snprintf(out, out_size,
                 "posts delivered %llu (%.1f/s), failed %llu, unknown %llu, skipped %llu, "
                 "unmatched %llu, in flight %llu; "
                 "messages %llu, %.2f MB; latency p50 %.1f ms p99 %.1f ms",
                 (unsigned long long)s->posts_delivered, rate, (unsigned long long)s->posts_failed,
                 (unsigned long long)s->posts_unknown, (unsigned long long)s->posts_skipped,
                 (unsigned long long)s->posts_unmatched, (unsigned long long)pp_stats_in_flight(s),
                 (unsigned long long)msgs, (double)bytes / 1e6,
                 (double)pp_hist_quantile(&first->latency_us, 0.5) / 1000.0,
                 (double)pp_hist_quantile(&first->latency_us, 0.99) / 1000.0);
    /* The first sink's messages are the line's; each other sink's follow, named. */
    for (size_t i = 1; i < s->sinks.n && len > 0 && (size_t)len < out_size; i++) {
        const pp_stats_sink *t = &s->sinks.sink[i];
        totals(&t->counters, &msgs, &failed, &unknown, &bytes);
        len += snprintf(out + len, out_size - (size_t)len,
                        "; %s: messages %llu, %.2f MB; latency p50 %.1f ms p99 %.1f ms", t->name,
                        (unsigned long long)msgs, (double)bytes / 1e6,
                        (double)pp_hist_quantile(&t->counters.latency_us, 0.5) / 1000.0,
                        (double)pp_hist_quantile(&t->counters.latency_us, 0.99) / 1000.0);
    }
}

/* The per_topic object of one sink: the stable per-table fields. */
static cJSON *per_topic_json(const pp_stats_sink *t)
{
    cJSON *pt = cJSON_CreateObject();
    for (int i = 0; i < PP_NTABLES; i++) {
        const pp_topic_stats *ts = &t->counters.topic[i];
        cJSON *o = cJSON_AddObjectToObject(pt, pp_table_names[i]);
        cJSON_AddStringToObject(o, "topic", t->dest[i]);
        cJSON_AddNumberToObject(o, "messages_delivered", (double)ts->delivered);
        cJSON_AddNumberToObject(o, "messages_failed", (double)ts->failed);
        cJSON_AddNumberToObject(o, "messages_unknown", (double)ts->unknown);
        cJSON_AddNumberToObject(o, "bytes_delivered", (double)ts->bytes);
    }
    return pt;
}

static double per_s(uint64_t n, double elapsed)
{
    return elapsed > 0 ? round((double)n / elapsed * 100) / 100 : 0;
}

/* One sink's section of "sinks": its messages alone, each counted once. */
static cJSON *sink_json(const pp_stats_sink *t, double elapsed)
{
    uint64_t msgs, failed, unknown, bytes;
    totals(&t->counters, &msgs, &failed, &unknown, &bytes);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "messages_delivered", (double)msgs);
    cJSON_AddNumberToObject(o, "messages_failed", (double)failed);
    cJSON_AddNumberToObject(o, "messages_unknown", (double)unknown);
    cJSON_AddNumberToObject(o, "bytes_delivered", (double)bytes);
    cJSON_AddNumberToObject(o, "messages_per_s", per_s(msgs, elapsed));
    cJSON_AddItemToObject(o, "latency_ms", pp_loadstats_latency_json(&t->counters.latency_us));
    cJSON_AddItemToObject(o, "per_topic", per_topic_json(t));
    return o;
}

int pp_stats_write_report(const pp_stats *s, const pp_config *c, uint64_t seed,
                          const pp_loadstats *load, FILE *out)
{
    static const pp_stats_sink none;
    double elapsed = (double)((s->end_us ? s->end_us : s->start_us) - s->start_us) / 1e6;
    uint64_t msgs, failed, unknown, bytes;
    const pp_stats_sink *first = s->sinks.n ? &s->sinks.sink[0] : &none;
    char seedstr[32];
    totals(&first->counters, &msgs, &failed, &unknown, &bytes);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "instance", c->service.instance);
    cJSON_AddNumberToObject(r, "started_at_ms", (double)s->started_at_ms);
    /* Seeds go up to 2^64: as a number only when a double holds it exactly. */
    if (seed < (1ull << 53)) {
        cJSON_AddNumberToObject(r, "seed", (double)seed);
    } else {
        snprintf(seedstr, sizeof(seedstr), "%llu", (unsigned long long)seed);
        cJSON_AddStringToObject(r, "seed", seedstr);
    }
    cJSON_AddNumberToObject(r, "posts_sampled", (double)s->posts_sampled);
    cJSON_AddNumberToObject(r, "posts_delivered", (double)s->posts_delivered);
    cJSON_AddNumberToObject(r, "posts_failed", (double)s->posts_failed);
    /* Neither delivered nor failed: a destination may have kept them (a client-side
     * timeout after the request was sent); a consumer decides. */
    cJSON_AddNumberToObject(r, "posts_unknown", (double)s->posts_unknown);
    cJSON_AddNumberToObject(r, "posts_skipped", (double)s->posts_skipped);
    cJSON_AddNumberToObject(r, "posts_unmatched", (double)s->posts_unmatched);
    cJSON_AddNumberToObject(r, "posts_in_flight", (double)pp_stats_in_flight(s));
    /* The message fields describe the first sink (Kafka when enabled), as they did when
     * there was one sink; "sinks" has each sink's own. */
    cJSON_AddNumberToObject(r, "messages_delivered", (double)msgs);
    cJSON_AddNumberToObject(r, "messages_failed", (double)failed);
    cJSON_AddNumberToObject(r, "messages_unknown", (double)unknown);
    cJSON_AddNumberToObject(r, "bytes_delivered", (double)bytes);
    cJSON_AddNumberToObject(r, "invalid_utf8_replaced", (double)s->invalid_utf8);
    cJSON_AddNumberToObject(r, "elapsed_s", round(elapsed * 1000) / 1000);
    /* Start-up (connecting, reading the post keys) is part of elapsed_s; this says how
     * much, so that throughput can be computed over the busy time alone. */
    cJSON_AddNumberToObject(r, "ready_s",
                            s->ready_us ? round((double)(s->ready_us - s->start_us) / 1e3) / 1e3
                                        : round(elapsed * 1000) / 1000);
    cJSON_AddNumberToObject(r, "posts_per_s", per_s(s->posts_delivered, elapsed));
    cJSON_AddNumberToObject(r, "messages_per_s", per_s(msgs, elapsed));
    cJSON_AddItemToObject(r, "latency_ms", pp_loadstats_latency_json(&first->counters.latency_us));
    cJSON_AddItemToObject(r, "per_topic", per_topic_json(first));
    cJSON *sinks = cJSON_AddObjectToObject(r, "sinks");
    for (size_t i = 0; i < s->sinks.n; i++)
        cJSON_AddItemToObject(sinks, s->sinks.sink[i].name, sink_json(&s->sinks.sink[i], elapsed));
    if (c->service.shards > 1) {
        char shard[32];
        snprintf(shard, sizeof(shard), "%d/%d", c->service.shard_index, c->service.shards);
        cJSON_AddStringToObject(r, "shard", shard);
    }
    /* Which columns carry the emission time instead of the database's value, so that a
     * checker (pinpost-verify --rows) compares everything else. */
    cJSON *ts = cJSON_AddObjectToObject(r, "timestamps");
    cJSON_AddStringToObject(ts, "mode", c->emulation.timestamps_now ? "now" : "source");
    cJSON *cols = cJSON_AddArrayToObject(ts, "columns");
    for (size_t i = 0; c->emulation.timestamps_now && i < c->emulation.nlive; i++) {
        char col[128];
        snprintf(col, sizeof(col), "%s.%s", pp_table_names[c->emulation.live[i].table],
                 c->emulation.live[i].column);
        cJSON_AddItemToArray(cols, cJSON_CreateString(col));
    }
    if (load) {
        cJSON *l = pp_loadstats_json(load);
        cJSON_AddStringToObject(
            l, "arrivals", c->emulation.load.arrivals == PP_ARRIVALS_POISSON ? "poisson" : "fixed");
        char pop[32] = "uniform";
        if (c->emulation.popularity_s > 0)
            snprintf(pop, sizeof(pop), "zipf(%g)", c->emulation.popularity_s);
        cJSON_AddStringToObject(l, "popularity", pop);
        cJSON_AddItemToObject(r, "load", l);
    }
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    if (!text)
        return -1;
    int rc = fprintf(out, "%s\n", text) < 0 ? -1 : 0;
    cJSON_free(text);
    return rc;
}
