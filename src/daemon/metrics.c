/* metrics: the run's counters in the Prometheus text format (the textfile and /metrics), and
 * the process and librdkafka metrics of /metrics. */
#include "pp_metrics.h"
#include "pp_util.h"
#include "pp_file.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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

int pp_metrics_render(FILE *f, const char *instance, const pp_stats *s, const pp_metrics_health *h,
                      const pp_metrics_load *load)
{
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
    return ferror(f) ? -1 : 0;
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
    int rc = pp_metrics_render(f, instance, s, h, load);
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0)
        rc = pp_file_write(path, text, len, 0, e, n);
    else
        pp_errf(e, n, "%s: out of memory formatting the metrics", path);
    free(text);
    return rc;
}

/* ---- process_*: what the Prometheus client libraries export about their process ---- */

/* Fields 14 (utime) to 24 (rss) of /proc/self/stat, counted after the command name, which
 * may hold spaces and parentheses (it ends at the last ')'). */
typedef struct proc_stat {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
} proc_stat;

static int read_proc_stat(proc_stat *ps)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime cutime cstime priority nice num_threads itrealvalue
     * starttime(22) vsize(23) rss(24) */
    int n = sscanf(p + 1,
                   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                   "%*d %llu %llu %lld",
                   &ps->utime, &ps->stime, &ps->starttime, &ps->vsize, &ps->rss);
    return n == 5 ? 0 : -1;
}

/* The boot time, seconds since the epoch (btime of /proc/stat); 0 when unknown. */
static long long boot_time(void)
{
    char line[256];
    long long bt = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static void plain_metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}

void pp_metrics_render_process(FILE *f)
{
    proc_stat ps;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (read_proc_stat(&ps) == 0 && tick > 0) {
        plain_metric(f, "process_cpu_seconds_total", "counter",
                     "Total user and system CPU time spent in seconds.",
                     (double)(ps.utime + ps.stime) / (double)tick);
        plain_metric(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                     (double)ps.vsize);
        plain_metric(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                     (double)(ps.rss * (page > 0 ? page : 4096)));
        long long bt = boot_time();
        if (bt > 0)
            plain_metric(f, "process_start_time_seconds", "gauge",
                         "Start time of the process since unix epoch in seconds.",
                         (double)bt + (double)ps.starttime / (double)tick);
    }
    long fds = open_fds();
    if (fds >= 0)
        plain_metric(f, "process_open_fds", "gauge", "Number of open file descriptors.",
                     (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        plain_metric(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                     rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
}

/* ---- librdkafka's health, from its statistics JSON ---- */

static double num(const cJSON *o, const char *key, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *ok = cJSON_IsNumber(v);
    return *ok ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* name{instance="I"} v, or name{instance="I",lname="lvalue"} v. */
static void series(FILE *f, const char *name, const char *instance, const char *lname,
                   const char *lvalue, const char *lname2, const char *lvalue2, double v)
{
    fprintf(f, "%s{instance=\"", name);
    label(f, instance);
    if (lname) {
        fprintf(f, "\",%s=\"", lname);
        label(f, lvalue);
    }
    if (lname2) {
        fprintf(f, "\",%s=\"", lname2);
        label(f, lvalue2);
    }
    fprintf(f, "\"} %.15g\n", v);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The brokers librdkafka talks to: the configured and the learned ones, not its internal
 * and logical placeholders. */
static int real_broker(const cJSON *b)
{
    const char *src = str(b, "source");
    return cJSON_IsObject(b) && str(b, "name") && str(b, "state") &&
           (!src || !strcmp(src, "configured") || !strcmp(src, "learned"));
}

static void broker_metrics(FILE *f, const char *instance, const cJSON *brokers)
{
    static const struct {
        const char *name, *key, *help;
        double scale;
    } per[] = {
        {"pinpostd_kafka_broker_outbuf_messages", "outbuf_msg_cnt",
         "Messages waiting to be sent to the broker.", 1},
        {"pinpostd_kafka_broker_waitresp_messages", "waitresp_msg_cnt",
         "Messages sent to the broker, awaiting its answer.", 1},
    };
    const cJSON *b;
    if (!cJSON_IsObject(brokers))
        return;
    head(f, "pinpostd_kafka_broker_state", "gauge",
         "The state of each broker connection (1 for the current state): UP, DOWN, INIT, "
         "CONNECT, AUTH, TRY_CONNECT, ...");
    cJSON_ArrayForEach(b, brokers) if (real_broker(b))
        series(f, "pinpostd_kafka_broker_state", instance, "broker", str(b, "name"), "state",
               str(b, "state"), 1);
    head(f, "pinpostd_kafka_broker_up", "gauge",
         "Whether the connection to each broker is UP (1) or not (0).");
    cJSON_ArrayForEach(b, brokers) if (real_broker(b))
        series(f, "pinpostd_kafka_broker_up", instance, "broker", str(b, "name"), NULL, NULL,
               !strcmp(str(b, "state"), "UP"));
    for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
        head(f, per[i].name, "gauge", per[i].help);
        cJSON_ArrayForEach(b, brokers)
        {
            int ok;
            double v = num(b, per[i].key, &ok);
            if (real_broker(b) && ok)
                series(f, per[i].name, instance, "broker", str(b, "name"), NULL, NULL,
                       v * per[i].scale);
        }
    }
    head(f, "pinpostd_kafka_broker_rtt_seconds", "gauge",
         "Average round-trip time of requests to each broker over the last statistics "
         "interval.");
    cJSON_ArrayForEach(b, brokers)
    {
        int ok;
        double v = num(cJSON_GetObjectItemCaseSensitive(b, "rtt"), "avg", &ok);
        if (real_broker(b) && ok)
            series(f, "pinpostd_kafka_broker_rtt_seconds", instance, "broker", str(b, "name"), NULL,
                   NULL, v / 1e6);
    }
}

void pp_metrics_render_kafka(FILE *f, const char *instance, const char *json)
{
    static const struct {
        const char *name, *key, *help;
    } queue[] = {
        {"pinpostd_kafka_queue_messages", "msg_cnt",
         "Messages in the producer's queue (not yet delivered or failed)."},
        {"pinpostd_kafka_queue_bytes", "msg_size",
         "Bytes of the messages in the producer's queue."},
        {"pinpostd_kafka_queue_max_messages", "msg_max",
         "The producer queue's limit in messages (queue.buffering.max.messages)."},
        {"pinpostd_kafka_queue_max_bytes", "msg_size_max",
         "The producer queue's limit in bytes (queue.buffering.max.kbytes)."},
    };
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(root))
        goto out;
    for (size_t i = 0; i < sizeof(queue) / sizeof(queue[0]); i++) {
        int ok;
        double v = num(root, queue[i].key, &ok);
        if (!ok)
            continue;
        head(f, queue[i].name, "gauge", queue[i].help);
        series(f, queue[i].name, instance, NULL, NULL, NULL, NULL, v);
    }
    broker_metrics(f, instance, cJSON_GetObjectItemCaseSensitive(root, "brokers"));
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos");
    const char *idemp = str(eos, "idemp_state"), *txn = str(eos, "txn_state");
    if (idemp) {
        head(f, "pinpostd_kafka_idempotence_state", "gauge",
             "The idempotent producer's state (1 for the current one): Assigned when it has "
             "its producer id.");
        series(f, "pinpostd_kafka_idempotence_state", instance, "state", idemp, NULL, NULL, 1);
    }
    if (txn) {
        head(f, "pinpostd_kafka_transaction_state", "gauge",
             "The transactional producer's state (1 for the current one): Init when not "
             "transactional, else Ready, InTransaction, CommittingTransaction, ...");
        series(f, "pinpostd_kafka_transaction_state", instance, "state", txn, NULL, NULL, 1);
    }
out:
    cJSON_Delete(root);
}
