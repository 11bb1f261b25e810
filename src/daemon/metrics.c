/* metrics: Prometheus textfile export of the run's counters. */
#include "pp_metrics.h"
#include "pp_util.h"
#include "pp_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Label values escape backslash, quote and newline. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*v, f);
    }
}

static void counter(FILE *f, const char *name, const char *help, const char *instance,
                    unsigned long long v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{instance=\"", name, help, name, name);
    label(f, instance);
    fprintf(f, "\"} %llu\n", v);
}

/* One series per sink and table: sink, table and topic (or stream) labels. */
static void per_topic(FILE *f, const char *name, const char *help, const char *instance,
                      const pp_stats *s, int which)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < s->sinks.n; i++) {
        const pp_stats_sink *sk = &s->sinks.sink[i];
        for (int t = 0; t < PP_NTABLES; t++) {
            const pp_topic_stats *ts = &sk->counters.topic[t];
            unsigned long long v = which == 0 ? ts->delivered : which == 1 ? ts->failed : ts->bytes;
            fprintf(f, "%s{instance=\"", name);
            label(f, instance);
            fprintf(f, "\",sink=\"%s\",table=\"%s\",topic=\"", sk->name, pp_table_names[t]);
            label(f, sk->dest[t]);
            fprintf(f, "\"} %llu\n", v);
        }
    }
}

/* One series of histogram hn: its buckets, sum and count, with the label lname="lvalue". */
static void histogram(FILE *f, const char *hn, const char *instance, const char *lname,
                      const char *lvalue, const pp_hist *h)
{
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10,   30};
    const size_t nb = sizeof(bounds) / sizeof(bounds[0]);
    for (size_t i = 0; i <= nb; i++) {
        unsigned long long below =
            i == nb ? (unsigned long long)h->total
                    : (unsigned long long)pp_hist_count_le(h, (uint64_t)(bounds[i] * 1e6));
        fprintf(f, "%s_bucket{instance=\"", hn);
        label(f, instance);
        fprintf(f, "\",%s=\"%s\",", lname, lvalue);
        if (i == nb)
            fprintf(f, "le=\"+Inf\"} %llu\n", below);
        else
            fprintf(f, "le=\"%g\"} %llu\n", bounds[i], below);
    }
    fprintf(f, "%s_sum{instance=\"", hn);
    label(f, instance);
    fprintf(f, "\",%s=\"%s\"} %.6f\n%s_count{instance=\"", lname, lvalue, (double)h->sum / 1e6, hn);
    label(f, instance);
    fprintf(f, "\",%s=\"%s\"} %llu\n", lname, lvalue, (unsigned long long)h->total);
}

/* The delivery-latency histogram of each sink. */
static void latency(FILE *f, const char *instance, const pp_stats *s)
{
    const char *hn = "pinpostd_delivery_latency_seconds";
    fprintf(f, "# HELP %s Produce call to delivery report, per message.\n# TYPE %s histogram\n", hn,
            hn);
    for (size_t k = 0; k < s->sinks.n; k++)
        histogram(f, hn, instance, "sink", s->sinks.sink[k].name,
                  &s->sinks.sink[k].counters.latency_us);
}

static void gauge(FILE *f, const char *name, const char *help, const char *instance, double v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{instance=\"", name, help, name, name);
    label(f, instance);
    if (isfinite(v))
        fprintf(f, "\"} %.6g\n", v);
    else
        fprintf(f, "\"} NaN\n");
}

/* The schedule: the stage, its target rate, skipped arrivals and post latencies. */
static void load_metrics(FILE *f, const char *instance, const pp_metrics_load *l)
{
    if (!l || !l->stage)
        return;
    fprintf(f, "# HELP pinpostd_stage The running stage of emulation.stages (0 first); the "
               "stage label is its text.\n# TYPE pinpostd_stage gauge\npinpostd_stage{instance=\"");
    label(f, instance);
    fprintf(f, "\",stage=\"");
    label(f, l->stage->desc);
    fprintf(f, "\"} %zu\n", l->stage->index);
    gauge(f, "pinpostd_target_rate",
          "Posts per second the schedule asks for now (NaN: as fast "
          "as possible).",
          instance, l->target_rate);
    gauge(f, "pinpostd_stage_achieved_rate",
          "Posts per second sent while the running stage ran (over all its runs, warm-up "
          "excluded).",
          instance, l->stage->seconds > 0 ? (double)l->stage->sent / l->stage->seconds : 0);
    counter(f, "pinpostd_arrivals_dropped_total",
            "Scheduled posts skipped, being more than emulation.max_backlog late.", instance,
            (unsigned long long)l->dropped);
    const char *hn = "pinpostd_post_latency_seconds";
    fprintf(f,
            "# HELP %s Per post after warm-up, to the last delivery report: from the produce "
            "call (from=\"produce\") or from the intended send time (from=\"intended\").\n"
            "# TYPE %s histogram\n",
            hn, hn);
    histogram(f, hn, instance, "from", "produce", &l->totals->produce);
    histogram(f, hn, instance, "from", "intended", &l->totals->intended);
}

int pp_metrics_write(const char *path, const char *instance, const pp_stats *s,
                     const pp_metrics_health *h, const pp_metrics_load *load, char *e, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        pp_errf(e, n, "%s: out of memory formatting the metrics", path);
        return -1;
    }
    counter(f, "pinpostd_posts_sampled_total", "Complete posts handed to the sink.", instance,
            (unsigned long long)s->posts_sampled);
    counter(f, "pinpostd_posts_delivered_total", "Posts whose three messages were delivered.",
            instance, (unsigned long long)s->posts_delivered);
    counter(f, "pinpostd_posts_failed_total", "Posts with at least one failed message.", instance,
            (unsigned long long)s->posts_failed);
    counter(f, "pinpostd_posts_unknown_total",
            "Posts not acknowledged that the broker may have persisted (a client-side "
            "timeout after the request was sent).",
            instance, (unsigned long long)s->posts_unknown);
    counter(f, "pinpostd_posts_skipped_total",
            "Posts refused unsent: a row over the sink's maximum message size.", instance,
            (unsigned long long)s->posts_skipped);
    counter(f, "pinpostd_posts_unmatched_total", "Sampled keys lacking a geo or user row.",
            instance, (unsigned long long)s->posts_unmatched);
    per_topic(f, "pinpostd_messages_delivered_total", "Messages delivered.", instance, s, 0);
    per_topic(f, "pinpostd_messages_failed_total", "Messages that failed.", instance, s, 1);
    per_topic(f, "pinpostd_bytes_delivered_total", "Value bytes delivered.", instance, s, 2);
    fprintf(f, "# HELP pinpostd_posts_in_flight Posts produced and not yet settled.\n"
               "# TYPE pinpostd_posts_in_flight gauge\npinpostd_posts_in_flight{instance=\"");
    label(f, instance);
    fprintf(f, "\"} %llu\n", (unsigned long long)pp_stats_in_flight(s));
    fprintf(f, "# HELP pinpostd_up Whether each end is reachable (1) or not (0).\n"
               "# TYPE pinpostd_up gauge\n");
    const char *ends[2] = {"mysql", h->sink};
    int up[2] = {h->source_up, h->sink_up};
    for (int i = 0; i < 2; i++) {
        fprintf(f, "pinpostd_up{instance=\"");
        label(f, instance);
        fprintf(f, "\",end=\"%s\"} %d\n", ends[i], up[i]);
    }
    latency(f, instance, s);
    load_metrics(f, instance, load);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0)
        rc = pp_file_write(path, text, len, 0, e, n);
    else
        pp_errf(e, n, "%s: out of memory formatting the metrics", path);
    free(text);
    return rc;
}
