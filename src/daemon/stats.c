/* stats: counters, latency histogram, summary line and run report. */
#include "pp_stats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUB (1u << PP_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - PP_HIST_SUB_BITS;
    unsigned idx = (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
    return idx < PP_HIST_BUCKETS ? idx : PP_HIST_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned idx)
{
    if (idx < 2 * SUB)
        return idx;
    unsigned shift = idx / SUB - 1;
    uint64_t low = ((uint64_t)(idx % SUB) + SUB) << shift;
    return low + (1ull << shift) - 1;
}

void pp_hist_record(pp_hist *h, uint64_t value)
{
    h->counts[bucket_of(value)]++;
    h->total++;
    h->sum += value;
    if (value > h->max)
        h->max = value;
}

uint64_t pp_hist_quantile(const pp_hist *h, double q)
{
    if (!h->total)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PP_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t up = bucket_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}

uint64_t pp_hist_count_le(const pp_hist *h, uint64_t bound)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < PP_HIST_BUCKETS && bucket_upper(i) <= bound; i++)
        n += h->counts[i];
    return n;
}

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

void pp_stats_summary(const pp_stats *s, const pp_stats *prev, int64_t now_us, char *out,
                      size_t out_size)
{
    double dt = (double)(now_us - (prev ? prev->end_us : s->start_us)) / 1e6;
    uint64_t d0 = prev ? prev->posts_delivered : 0;
    double rate = dt > 0 ? (double)(s->posts_delivered - d0) / dt : 0;
    uint64_t msgs = 0, bytes = 0;
    for (int t = 0; t < PP_NTABLES; t++) {
        msgs += s->topic[t].delivered;
        bytes += s->topic[t].bytes;
    }
    snprintf(out, out_size,
             "posts delivered %llu (%.1f/s), failed %llu, unknown %llu, skipped %llu, "
             "unmatched %llu, in flight %llu; "
             "messages %llu, %.2f MB; latency p50 %.1f ms p99 %.1f ms",
             (unsigned long long)s->posts_delivered, rate, (unsigned long long)s->posts_failed,
             (unsigned long long)s->posts_unknown, (unsigned long long)s->posts_skipped,
             (unsigned long long)s->posts_unmatched, (unsigned long long)pp_stats_in_flight(s),
             (unsigned long long)msgs, (double)bytes / 1e6,
             (double)pp_hist_quantile(&s->latency_us, 0.5) / 1000.0,
             (double)pp_hist_quantile(&s->latency_us, 0.99) / 1000.0);
}

static cJSON *latency_json(const pp_hist *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "p50", (double)pp_hist_quantile(h, 0.50) / 1000.0);
    cJSON_AddNumberToObject(o, "p95", (double)pp_hist_quantile(h, 0.95) / 1000.0);
    cJSON_AddNumberToObject(o, "p99", (double)pp_hist_quantile(h, 0.99) / 1000.0);
    cJSON_AddNumberToObject(o, "p999", (double)pp_hist_quantile(h, 0.999) / 1000.0);
    cJSON_AddNumberToObject(o, "max", (double)h->max / 1000.0);
    return o;
}

int pp_stats_write_report(const pp_stats *s, const pp_config *c, uint64_t seed,
                          const char *const topics[PP_NTABLES], FILE *out)
{
    double elapsed = (double)((s->end_us ? s->end_us : s->start_us) - s->start_us) / 1e6;
    uint64_t msgs = 0, failed = 0, unknown = 0, bytes = 0;
    char seedstr[32];
    for (int t = 0; t < PP_NTABLES; t++) {
        msgs += s->topic[t].delivered;
        failed += s->topic[t].failed;
        unknown += s->topic[t].unknown;
        bytes += s->topic[t].bytes;
    }
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
    /* Neither delivered nor failed: the broker may have kept them (a client-side timeout
     * after the request was sent); a consumer decides. */
    cJSON_AddNumberToObject(r, "posts_unknown", (double)s->posts_unknown);
    cJSON_AddNumberToObject(r, "posts_skipped", (double)s->posts_skipped);
    cJSON_AddNumberToObject(r, "posts_unmatched", (double)s->posts_unmatched);
    cJSON_AddNumberToObject(r, "posts_in_flight", (double)pp_stats_in_flight(s));
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
    cJSON_AddNumberToObject(r, "posts_per_s",
                            elapsed > 0 ? round((double)s->posts_delivered / elapsed * 100) / 100
                                        : 0);
    cJSON_AddNumberToObject(r, "messages_per_s",
                            elapsed > 0 ? round((double)msgs / elapsed * 100) / 100 : 0);
    cJSON_AddItemToObject(r, "latency_ms", latency_json(&s->latency_us));
    cJSON *pt = cJSON_AddObjectToObject(r, "per_topic");
    for (int t = 0; t < PP_NTABLES; t++) {
        cJSON *o = cJSON_AddObjectToObject(pt, pp_table_names[t]);
        cJSON_AddStringToObject(o, "topic", topics[t]);
        cJSON_AddNumberToObject(o, "messages_delivered", (double)s->topic[t].delivered);
        cJSON_AddNumberToObject(o, "messages_failed", (double)s->topic[t].failed);
        cJSON_AddNumberToObject(o, "messages_unknown", (double)s->topic[t].unknown);
        cJSON_AddNumberToObject(o, "bytes_delivered", (double)s->topic[t].bytes);
    }
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    if (!text)
        return -1;
    int rc = fprintf(out, "%s\n", text) < 0 ? -1 : 0;
    cJSON_free(text);
    return rc;
}
