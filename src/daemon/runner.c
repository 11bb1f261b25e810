/* runner: start-up, the sampling loop, service notifications, reload and shutdown. */
#include "pp_exit.h"
#include "pp_runner.h"
#include "pp_file.h"
#include "pp_httpd.h"
#include "pp_mysql.h"
#include "pp_labels.h"
#include "pp_loadstats.h"
#include "pp_log.h"
#include "pp_metrics.h"
#include "pp_notify.h"
#include "pp_pacer.h"
#include "pp_sampler.h"
#include "pp_sink.h"
#include "pp_source.h"
#include "pp_stats.h"
#include "pp_util.h"
#include "pp_version.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Above this many posts per second, per-post lines would flood a terminal. */
#define PER_POST_LINES_MAX_RATE 5.0
#define STATUS_INTERVAL_US 5000000
#define BACKOFF_MAX_US 30000000
#define RELOAD_RETRY_US 5000000
/* When this many sampled keys in a row had no complete post, sampling pauses between
 * round trips (doubling up to UNMATCHED_PAUSE_MAX_US) instead of hammering the database
 * with queries that find nothing. */
#define UNMATCHED_BACKOFF_KEYS 1000
#define UNMATCHED_PAUSE_MIN_US 10000
#define UNMATCHED_PAUSE_MAX_US 1000000
/* The unmatched-share warning: looked at with each STATUS, at most once a minute, when at
 * least half of at least this many keys sampled since the last look had no whole post. */
#define UNMATCHED_WARN_MIN_KEYS 20
#define UNMATCHED_WARN_INTERVAL_US 60000000
/* While the post keys of a big table are read before READY, each progress report (at
 * most one a second) asks systemd for this much more start-up time: a read that stalls
 * for longer still times out. */
#define PROGRESS_INTERVAL_US 1000000
#define PROGRESS_EXTEND_US 30000000
/* The HTTP endpoint gets fresh metrics at most this often (health changes at once). */
#define PUBLISH_INTERVAL_US 1000000

typedef struct runner {
    const pp_runner_opts *o;
    pp_config *c;
    pp_source *src;
    pp_sink *sink;
    pp_sampler *sampler;
    pp_pacer pacer;
    pp_load load; /* the configuration's, as the pacer was started with (before scaling) */
    int started;  /* the pacer has been started once */
    pp_loadstats *loadstats;
    size_t batch_stage;      /* the stage the sampler's batch size was chosen for */
    uint64_t status_sampled; /* posts sampled at the last STATUS, and when */
    int64_t status_us;
    pp_stats stats, prev;
    pp_stats_sinks retired; /* what sinks replaced by reloads counted */
    uint64_t seq;
    int per_post_lines;
    pp_labels *labels; /* of the posts in flight whose line is pending */
    int source_up;
    int sink_up; /* pp_sink_healthy at the last look, for the down/up journal events */
    int64_t deadline_us;
    int64_t progress_us; /* the last progress report (STATUS while reading keys) */
    int64_t watchdog_usec, last_watchdog_us;
    int64_t next_status_us, next_summary_us;
    int64_t unmatched_pause;         /* current pause between fruitless round trips */
    pp_sampler_stats unmatched_mark; /* sampler counters at the last warning (or window) */
    int64_t unmatched_mark_us, unmatched_warned_us;
    int64_t reload_retry_us; /* a postponed reload is tried again then; 0 = none */
    /* The HTTP endpoint (service.metrics_listen), or NULL: fed by publish(). */
    pp_httpd *httpd;
    int64_t next_publish_us;
    int pub_healthy;       /* the health last published */
    char pub_reason[256];  /* and its reason */
    char start_why[256];   /* what the start waits for, until READY */
    int stopping;          /* posting is over: flushing, reporting */
    uint64_t settled_seen; /* posts settled (delivered, failed, unknown, skipped) at the last */
    int64_t settled_us;    /* change, or while none was in flight: for health() */
} runner;

/* Which sinks the configuration feeds: 0 Kafka, 1 Kinesis, 2 both. */
static int sink_kind(const pp_config *c)
{
    return !c->kinesis.enabled ? 0 : c->kafka.enabled ? 2 : 1;
}

/* What the sink is called in messages. */
static const char *sink_name(const runner *rn)
{
    static const char *const names[] = {"Kafka", "Kinesis", "Kafka and Kinesis"};
    return rn->o->dry_run ? "the dry-run output" : names[sink_kind(rn->c)];
}

/* The runner alone counts posts: each is reported here once, by the sink (the pair:
 * once for all its children). @locality: main thread, from pp_sink_poll/flush/produce. */
static void on_post_done(void *opaque, const pp_post_result *r)
{
    runner *rn = opaque;
    pp_post_labels lb;
    switch (r->outcome) {
    case PP_DELIVERED: rn->stats.posts_delivered++; break;
    case PP_UNKNOWN: rn->stats.posts_unknown++; break;
    case PP_FAILED: rn->stats.posts_failed++; break;
    }
    pp_loadstats_done(rn->loadstats, r);
    /* Labels were kept only while the line was on; a reload may have turned it off. */
    if (!pp_labels_take(rn->labels, r->seq, &lb) || r->outcome != PP_DELIVERED ||
        !rn->per_post_lines)
        return;
    /* partition@offset from Kafka; shard numbers from Kinesis alone (no offsets); nothing
     * from a dry run. */
    char where[PP_NTABLES][48];
    for (int t = 0; t < PP_NTABLES; t++) {
        if (r->offset[t] >= 0)
            snprintf(where[t], sizeof(where[t]), "%s %d@%lld", pp_table_names[t], r->partition[t],
                     (long long)r->offset[t]);
        else if (r->partition[t] >= 0)
            snprintf(where[t], sizeof(where[t]), "%s shard %d", pp_table_names[t], r->partition[t]);
        else
            snprintf(where[t], sizeof(where[t]), "%s -", pp_table_names[t]);
    }
    pp_log_fields f = {.has_post_key = 1, .post_key = r->key, .seq = r->seq};
    _Static_assert(PP_NTABLES <= PP_LOG_MAX_TOPICS, "a journal entry names each topic");
    for (int t = 0; t < PP_NTABLES; t++)
        f.topic[t] = rn->sink->dest[t];
    pp_log_with(&f, LOG_INFO,
                "post %lld seq %llu delivered: category %s, country %s; %s %s %s; %.1f ms",
                (long long)r->key, (unsigned long long)r->seq, lb.category[0] ? lb.category : "-",
                lb.country[0] ? lb.country : "-", where[0], where[1], where[2],
                (double)r->latency_us / 1000.0);
}

/* Keys per round trip for stage st of l (the pacer's load, rates scaled): about 10 ms of
 * posts (fresh rows for slow paced runs, few round trips for fast ones); delay stages one
 * key per post. */
static int batch_for(const pp_config *c, const pp_load *l, size_t i)
{
    const pp_stage *st = &l->stage[i];
    if (st->kind == PP_STAGE_DELAY || st->kind == PP_STAGE_PAUSE)
        return 1;
    double rate = st->kind == PP_STAGE_DIURNAL ? l->diurnal.peak
                  : st->to > st->from          ? st->to
                                               : st->from;
    if (st->kind == PP_STAGE_RATE && rate <= 0)
        return c->source.batch;
    double b = rate / 100.0;
    return b < 1 ? 1 : b > c->source.batch ? c->source.batch : (int)b;
}

/* The fastest rate l (the pacer's load, scaled) reaches, posts/s; INFINITY for as fast as
 * possible. */
static double peak_rate(const pp_load *l)
{
    double peak = 0;
    for (size_t i = 0; i < l->nstages; i++) {
        const pp_stage *st = &l->stage[i];
        double r = st->kind == PP_STAGE_DELAY                   ? 2.0 / (st->from + st->to + 1e-9)
                   : st->kind == PP_STAGE_PAUSE                 ? 0
                   : st->kind == PP_STAGE_DIURNAL               ? l->diurnal.peak
                   : st->kind == PP_STAGE_RATE && st->from <= 0 ? INFINITY
                   : st->to > st->from                          ? st->to
                                                                : st->from;
        if (r > peak)
            peak = r;
    }
    return peak;
}

/* Pacing, limits and output that follow from the configuration (start and reload). */
static void apply_emulation(runner *rn, int64_t now)
{
    const pp_config *c = rn->c;
    pp_load load;
    pp_config_load(c, &load);
    double scale = 1.0 / (double)(c->service.shards > 0 ? c->service.shards : 1);
    int changed = !rn->started || !pp_load_equal(&load, &rn->load);
    if (rn->started)
        pp_loadstats_tick(rn->loadstats, &rn->pacer, now); /* the old schedule, up to now */
    pp_pacer_init(&rn->pacer, &load, scale, rn->o->seed + rn->seq, now, pp_wall_us(),
                  (int64_t)(c->emulation.max_backlog_s * 1e6));
    /* The schedule is measured from READY on; the warm-up starts then, not again at each
     * reload. */
    if (rn->stats.ready_us) {
        int64_t warm_until = c->emulation.warmup_s > 0
                                 ? rn->stats.ready_us + (int64_t)(c->emulation.warmup_s * 1e6)
                                 : 0;
        pp_loadstats_start(rn->loadstats, changed, now, warm_until, c->emulation.warmup_posts);
        rn->load = load;
        rn->started = 1;
    }
    rn->per_post_lines = !rn->o->dry_run && peak_rate(&rn->pacer.load) <= PER_POST_LINES_MAX_RATE;
    rn->deadline_us = c->emulation.duration_s > 0
                          ? rn->stats.start_us + (int64_t)(c->emulation.duration_s * 1e6)
                          : 0;
    rn->batch_stage = pp_pacer_stage(&rn->pacer);
    pp_sampler_set_batch(rn->sampler, batch_for(c, &rn->pacer.load, rn->batch_stage));
}

/* A new stage: the sampler's batch follows its rate. */
static void follow_stage(runner *rn)
{
    size_t st = pp_pacer_stage(&rn->pacer);
    if (st == rn->batch_stage)
        return;
    rn->batch_stage = st;
    pp_sampler_set_batch(rn->sampler, batch_for(rn->c, &rn->pacer.load, st));
}

/* Tell the watchdog the loop is alive; only ever called from the loop itself (or from
 * the source's progress while it reads keys), so a wedged loop stops the pings and
 * systemd restarts the daemon. */
static void watchdog(runner *rn, int64_t now)
{
    if (rn->watchdog_usec && now - rn->last_watchdog_us >= rn->watchdog_usec / 2) {
        pp_notify("WATCHDOG=1");
        rn->last_watchdog_us = now;
    }
}

/* Bring the counters that others keep up to date in rn->stats: the sampler's, and the
 * messages of the sinks (those a reload replaced included). */
static void refresh_counts(runner *rn)
{
    pp_sampler_stats ss;
    pp_sampler_get_stats(rn->sampler, &ss);
    rn->stats.posts_unmatched = ss.unmatched;
    rn->stats.invalid_utf8 = ss.invalid_utf8;
    pp_stats_update_sinks(&rn->stats, rn->sink, &rn->retired);
}

/* What the metrics renderer takes besides the counters (the textfile's and /metrics'). */
static void metrics_inputs(runner *rn, int64_t now, pp_metrics_health *h, pp_metrics_load *ml)
{
    static const char *const labels[] = {"kafka", "kinesis", "kafka+kinesis"};
    *h = (pp_metrics_health){rn->source_up, pp_sink_healthy(rn->sink), labels[sink_kind(rn->c)]};
    const pp_stage_stats *st = rn->stats.ready_us ? pp_loadstats_current(rn->loadstats) : NULL;
    *ml = (pp_metrics_load){.stage = st,
                            .target_rate = st ? pp_pacer_rate_at(&rn->pacer, now) : NAN,
                            .totals = pp_loadstats_totals(rn->loadstats),
                            .dropped = pp_loadstats_dropped(rn->loadstats)};
}

static void write_metrics(runner *rn, int64_t now)
{
    if (!rn->c->service.metrics_file)
        return;
    pp_metrics_health h;
    pp_metrics_load ml;
    metrics_inputs(rn, now, &h, &ml);
    char err[1024];
    if (pp_metrics_write(rn->c->service.metrics_file, rn->c->service.instance, &rn->stats, &h, &ml,
                         err, sizeof(err)) != 0)
        pp_log_warn("cannot write metrics (service.metrics_file): %s", err);
}

/* How long posts may stay in flight with none settling before the sink counts as not
 * acknowledging: 10 s, plus what the configuration holds them back for on purpose (a
 * transaction's interval, Kinesis' linger). */
static int64_t ack_stall_us(const pp_config *c)
{
    double s = 10;
    if (c->kafka.enabled && c->kafka.exactly_once)
        s += c->kafka.transaction_interval_s;
    if (c->kinesis.enabled)
        s += c->kinesis.linger_s;
    return (int64_t)(s * 1e6);
}

/* /healthz: 1 when ready, both ends up and posts settling; else 0 and why. */
static int health(runner *rn, char *why, size_t n)
{
    why[0] = '\0';
    /* A frozen broker takes librdkafka socket.timeout.ms to notice: meanwhile posts pile
     * up in flight and none settles. */
    int64_t now = pp_now_us();
    const pp_stats *st = &rn->stats;
    uint64_t settled =
                 st->posts_delivered + st->posts_failed + st->posts_unknown + st->posts_skipped,
             in_flight = pp_stats_in_flight(st);
    if (settled != rn->settled_seen || !in_flight) {
        rn->settled_seen = settled;
        rn->settled_us = now;
    }
    if (rn->stopping || *rn->o->stop)
        snprintf(why, n, "stopping");
    else if (!rn->stats.ready_us)
        snprintf(why, n, "starting: %.200s", rn->start_why[0] ? rn->start_why : "connecting");
    else if (!rn->source_up)
        snprintf(why, n, "the source is unreachable");
    else if (!pp_sink_healthy(rn->sink))
        snprintf(why, n, "%s unreachable", sink_name(rn));
    else if (now - rn->settled_us > ack_stall_us(rn->c))
        snprintf(why, n, "%s not acknowledging: %llu post(s) in flight, none settled for %lld s",
                 sink_name(rn), (unsigned long long)in_flight,
                 (long long)((now - rn->settled_us) / 1000000));
    else
        return 1;
    /* The reason may quote a server's error text: one line, escaped. */
    char raw[256];
    snprintf(raw, sizeof(raw), "%s", why);
    pp_log_escape(raw, strlen(raw), why, n);
    return 0;
}

/* How long the loop may be silent before /livez calls it wedged: PP_HTTPD_STALE_S, or 15 s
 * more than one database call may block it (source.connect_timeout, the read timeout). */
static int stale_after(const pp_config *c)
{
    int longest = c->source.connect_timeout_s > PP_MYSQL_IO_TIMEOUT_S ? c->source.connect_timeout_s
                                                                      : PP_MYSQL_IO_TIMEOUT_S;
    return longest + 15 > PP_HTTPD_STALE_S ? longest + 15 : PP_HTTPD_STALE_S;
}

/* Feed the HTTP endpoint: its metrics and health once a second, and at once when the health
 * changes (rendered here, as the textfile is, with librdkafka's latest statistics copied for
 * the server's thread to render). Only a pointer swap under the server's lock: a
 * scrape never holds the loop up. */
static void publish(runner *rn, int64_t now)
{
    char why[256];
    if (!rn->httpd)
        return;
    int healthy = health(rn, why, sizeof(why));
    /* A change of health comes with fresh metrics, so that /metrics agrees with /healthz. */
    int due = now >= rn->next_publish_us || healthy != rn->pub_healthy ||
              strcmp(why, rn->pub_reason) != 0;
    if (!due)
        return;
    pp_httpd_snapshot snap = {.healthy = healthy, .reason = why, .stale_s = stale_after(rn->c)};
    {
        pp_metrics_health h;
        pp_metrics_load ml;
        pp_sink_stats st[PP_STATS_SINKS];
        size_t nst = pp_sink_stats_get(rn->sink, st, PP_STATS_SINKS);
        refresh_counts(rn);
        metrics_inputs(rn, now, &h, &ml);
        FILE *f = open_memstream(&snap.text, &snap.len);
        int bad = !f || pp_metrics_render(f, rn->c->service.instance, &rn->stats, &h, &ml);
        if (f && fclose(f) != 0)
            bad = 1;
        if (bad) { /* out of memory: the server keeps the previous metrics */
            free(snap.text);
            snap.text = NULL;
        } else {
            snap.instance = pp_xstrdup(rn->c->service.instance);
            for (size_t i = 0; i < nst && !snap.kafka_stats; i++)
                if (st[i].client_stats)
                    snap.kafka_stats = pp_xstrdup(st[i].client_stats);
        }
        rn->next_publish_us = now + PUBLISH_INTERVAL_US;
    }
    pp_httpd_publish(rn->httpd, &snap);
    rn->pub_healthy = healthy;
    snprintf(rn->pub_reason, sizeof(rn->pub_reason), "%s", why);
}

/* The endpoint's health alone (no new metrics), from inside a source call: the loop is
 * busy, not wedged, so /livez stays 200 through a long key read. */
static void publish_health(runner *rn)
{
    char why[256];
    if (!rn->httpd)
        return;
    pp_httpd_snapshot snap = {
        .healthy = health(rn, why, sizeof(why)), .reason = why, .stale_s = stale_after(rn->c)};
    pp_httpd_publish(rn->httpd, &snap);
}

/* Say so when most sampled keys lack a row, naming the tables that lack them: a wrong
 * table or key column, or tables loaded from different data sets, look like this. */
static void warn_unmatched(runner *rn, int64_t now)
{
    pp_sampler_stats cur;
    pp_sampler_get_stats(rn->sampler, &cur);
    const pp_sampler_stats *m = &rn->unmatched_mark;
    uint64_t keys = cur.fetched - m->fetched, miss = cur.unmatched - m->unmatched;
    if (keys < UNMATCHED_WARN_MIN_KEYS || miss * 2 < keys) {
        if (now - rn->unmatched_mark_us >= UNMATCHED_WARN_INTERVAL_US) {
            rn->unmatched_mark = cur; /* a sliding window of about a minute */
            rn->unmatched_mark_us = now;
        }
        return;
    }
    if (rn->unmatched_warned_us && now - rn->unmatched_warned_us < UNMATCHED_WARN_INTERVAL_US)
        return;
    char why[512];
    size_t len = 0;
    for (int t = 0; t < PP_NTABLES && len < sizeof(why); t++) {
        uint64_t mt = cur.missing[t] - m->missing[t];
        if (mt)
            len +=
                (size_t)snprintf(why + len, sizeof(why) - len, "%s%s lacks %.1f%%", len ? ", " : "",
                                 rn->c->source.tables[t].table, 100.0 * (double)mt / (double)keys);
    }
    pp_log_warn("%.1f%% of the %llu post keys sampled in the last %.0f s had no complete post "
                "(%s of them); such posts are never sent and count as posts_unmatched. "
                "Check source.tables (table and key column names) and that the three tables "
                "hold the same posts",
                100.0 * (double)miss / (double)keys, (unsigned long long)keys,
                (double)(now - rn->unmatched_mark_us) / 1e6, why);
    rn->unmatched_warned_us = now;
    rn->unmatched_mark = cur;
    rn->unmatched_mark_us = now;
}

/* "; stage 2/3 ramp 100-5000/s:300s, target 2550.0/s, sent 2548.1/s" for the status and
 * summary lines: where the schedule is and how well it is kept (sent: posts handed to the
 * sink per second since `since_us`, when `sampled` posts had been). Empty before READY. */
static void stage_text(runner *rn, int64_t now, uint64_t sampled, int64_t since_us, char *out,
                       size_t n)
{
    out[0] = '\0';
    const pp_stage_stats *st = rn->stats.ready_us ? pp_loadstats_current(rn->loadstats) : NULL;
    if (!st)
        return;
    double target = pp_pacer_rate_at(&rn->pacer, now), dt = (double)(now - since_us) / 1e6;
    char t[32] = "as fast as possible";
    if (isfinite(target))
        snprintf(t, sizeof(t), "%.1f/s", target);
    snprintf(out, n, "; stage %zu/%zu %s, target %s, sent %.1f/s", st->index + 1,
             rn->pacer.load.nstages, st->desc, t,
             dt > 0 ? (double)(rn->stats.posts_sampled - sampled) / dt : 0.0);
}

/* The sink's health as the journal's events: one line when it goes down, one when it is
 * back (the STATUS and metrics show it meanwhile). */
static void watch_sink(runner *rn)
{
    int up = pp_sink_healthy(rn->sink);
    if (up == rn->sink_up)
        return;
    rn->sink_up = up;
    if (up)
        pp_log_with(&(pp_log_fields){.event = PP_EV_SINK_UP}, LOG_NOTICE, "%s reachable again",
                    sink_name(rn));
    else
        pp_log_with(&(pp_log_fields){.event = PP_EV_SINK_DOWN}, LOG_WARNING,
                    "%s unreachable: posts wait in its queue and are retried", sink_name(rn));
}

/* STATUS=, the summary line and the metrics file, each on its own interval. */
static void periodic(runner *rn, int64_t now)
{
    watchdog(rn, now);
    publish(rn, now);
    if (rn->stats.ready_us)
        watch_sink(rn);
    if (rn->stats.ready_us)
        pp_loadstats_tick(rn->loadstats, &rn->pacer, now);
    if (now >= rn->next_status_us) {
        char stage[256];
        warn_unmatched(rn, now);
        double dt = (double)(now - rn->prev.end_us) / 1e6;
        refresh_counts(rn);
        stage_text(rn, now, rn->status_sampled, rn->status_us, stage, sizeof(stage));
        rn->status_sampled = rn->stats.posts_sampled;
        rn->status_us = now;
        /* Until READY the status says what the start waits for (wait_ready). */
        if (rn->stats.ready_us)
            pp_notify_status(
                "delivered %llu, failed %llu, unknown %llu, unmatched %llu, "
                "in flight %llu, %.1f posts/s; mysql %s, %s %s%s",
                (unsigned long long)rn->stats.posts_delivered,
                (unsigned long long)rn->stats.posts_failed,
                (unsigned long long)rn->stats.posts_unknown,
                (unsigned long long)rn->stats.posts_unmatched,
                (unsigned long long)pp_stats_in_flight(&rn->stats),
                dt > 0 ? (double)(rn->stats.posts_delivered - rn->prev.posts_delivered) / dt : 0.0,
                rn->source_up ? "up" : "DOWN", sink_name(rn),
                pp_sink_healthy(rn->sink) ? "up" : "DOWN", stage);
        rn->next_status_us = now + STATUS_INTERVAL_US;
        write_metrics(rn, now);
    }
    if (rn->next_summary_us && now >= rn->next_summary_us) {
        char line[768], stage[256];
        refresh_counts(rn);
        pp_stats_summary(&rn->stats, &rn->prev, now, line, sizeof(line));
        stage_text(rn, now, rn->prev.posts_sampled, rn->prev.end_us, stage, sizeof(stage));
        pp_log_info("%s%s", line, stage);
        rn->prev = rn->stats;
        rn->prev.end_us = now;
        rn->next_summary_us = now + (int64_t)(rn->c->service.summary_interval_s * 1e6);
    }
}

/* The source's progress on a long step (reading the keys of a big table): STATUS, the
 * watchdog, and while starting more time from systemd, at most once a second.
 * @locality: the main thread, inside a source call. */
static void on_progress(void *opaque, const char *what, uint64_t done, uint64_t expected)
{
    runner *rn = opaque;
    int64_t now = pp_now_us();
    if (now - rn->progress_us < PROGRESS_INTERVAL_US)
        return;
    rn->progress_us = now;
    if (expected && done <= expected)
        pp_notify_status("%s%s: %llu of about %llu (%.0f%%)",
                         rn->stats.ready_us ? "" : "starting: ", what, (unsigned long long)done,
                         (unsigned long long)expected, 100.0 * (double)done / (double)expected);
    else
        pp_notify_status("%s%s: %llu so far", rn->stats.ready_us ? "" : "starting: ", what,
                         (unsigned long long)done);
    if (!rn->stats.ready_us)
        pp_notify_extend_timeout(PROGRESS_EXTEND_US);
    watchdog(rn, now);
    publish_health(rn);
}

/* The source of configuration c, reporting its progress to rn. */
static pp_source *source_open(runner *rn, const pp_config *c)
{
    pp_source *src = pp_source_open(c, rn->o->demo);
    pp_source_set_progress(src, on_progress, rn);
    return src;
}

/* Serve deliveries and notifications until `until_us`, a stop or a reload request. */
static void wait_until(runner *rn, int64_t until_us)
{
    for (;;) {
        int64_t now = pp_now_us();
        periodic(rn, now);
        int64_t left = until_us - now;
        if (left <= 0 || *rn->o->stop || *rn->o->reload)
            return;
        pp_sink_poll(rn->sink, (int)(left > 100000 ? 100 : (left + 999) / 1000));
    }
}

static int64_t backoff_next(int64_t b)
{
    return b * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : b * 2;
}

/* Where the first sink's messages go, as logs name them: "topics A B C" (Kafka, the dry
 * run) or "streams A B C" (Kinesis alone). */
static void destinations(pp_sink *sink, char *out, size_t n)
{
    pp_sink_stats st;
    if (pp_sink_stats_get(sink, &st, 1) != 1) {
        snprintf(out, n, "no topics");
        return;
    }
    snprintf(out, n, "%s %s %s %s", strcmp(st.name, "kinesis") ? "topics" : "streams", st.dest[0],
             st.dest[1], st.dest[2]);
}

static pp_sink *sink_new(runner *rn, const pp_config *c, char *err, size_t n)
{
    return pp_sink_open(c, rn->o->demo, rn->o->dry_run, on_post_done, rn, err, n);
}

/* Deliver what is in flight on the current sink, in slices so the watchdog keeps being
 * fed. When stopping (give_up), what is left after the timeout, or when a second stop
 * signal says not to wait, is given up and reported failed (or unknown, where the broker
 * may have it); otherwise it stays in flight. Returns 0 when nothing is left. */
static int drain(runner *rn, double timeout_s, int give_up)
{
    int64_t deadline = pp_now_us() + (int64_t)(timeout_s * 1e6);
    for (;;) {
        watchdog(rn, pp_now_us());
        publish(rn, pp_now_us());
        if (pp_sink_flush(rn->sink, 200) == PP_SINK_DRAINED)
            return 0;
        if (*rn->o->stop >= 2) {
            pp_log_warn("second stop signal: giving up on the %llu post(s) still in flight; "
                        "they are counted as failed (or unknown where the broker may have "
                        "them)",
                        (unsigned long long)pp_stats_in_flight(&rn->stats));
            pp_sink_abandon(rn->sink);
            return -1;
        }
        if (pp_now_us() >= deadline && !give_up)
            return -1;
        if (pp_now_us() >= deadline) {
            pp_log_err("%llu post(s) still undelivered after service.drain_timeout (%g s); "
                       "counting them as failed (or unknown where the broker may have them)",
                       (unsigned long long)pp_stats_in_flight(&rn->stats), timeout_s);
            pp_sink_abandon(rn->sink);
            return -1;
        }
    }
}

/* Say where the endpoint answers. */
static void log_endpoint(const char *listen)
{
    char url[320], err[256];
    if (pp_httpd_local_url(listen, "", url, sizeof(url), err, sizeof(err)) == 0)
        pp_log_notice("metrics endpoint on %s: %s/metrics and %s/healthz", listen, url, url);
}

/* Reload: serve the endpoint of c (started, moved or stopped) if its address differs from
 * the one served. The new listener starts before the old one stops, unless the old one holds
 * its port. An address that cannot be used does not fail the reload (the endpoint observes,
 * it does not decide what is sent): the old listener goes on, or none, with a warning, and
 * the next reload tries again. */
static void switch_endpoint(runner *rn, const pp_config *c)
{
    const char *now = c->service.metrics_listen;
    char was[320] = "", err[1024];
    if (rn->httpd)
        snprintf(was, sizeof(was), "%s", pp_httpd_listen(rn->httpd));
    if (now ? !strcmp(was, now) : !rn->httpd)
        return;              /* unchanged (a listener lost in a failed switch is tried again) */
    rn->next_publish_us = 0; /* whichever server answers gets a snapshot at once */
    if (!now) {
        pp_httpd_stop(rn->httpd);
        rn->httpd = NULL;
        pp_log_notice("metrics endpoint off (service.metrics_listen removed)");
        return;
    }
    pp_httpd *h = NULL;
    pp_httpd_err he = pp_httpd_start(now, &h, err, sizeof(err));
    if (he == PP_HTTPD_UNAVAILABLE && rn->httpd) {
        /* Perhaps in use by the old listener itself (the same port, another host): the old
         * one makes way, and comes back should the new one still fail. */
        pp_httpd_stop(rn->httpd);
        rn->httpd = NULL;
        he = pp_httpd_start(now, &h, err, sizeof(err));
        if (he != PP_HTTPD_OK) {
            char again[1024];
            if (pp_httpd_start(was, &rn->httpd, again, sizeof(again)) != PP_HTTPD_OK)
                pp_log_err("reload: %s", again);
        }
    }
    if (he != PP_HTTPD_OK) {
        pp_log_warn("reload: %s; the metrics endpoint stays %s%s, the rest of the new "
                    "configuration applies (reload again once the address can be used)",
                    err, rn->httpd ? "on " : "off", rn->httpd ? was : "");
        return;
    }
    pp_httpd_stop(rn->httpd);
    rn->httpd = h;
    log_endpoint(now);
}

/* Whether a and b rewrite the same columns with the emission time (or none). */
static int same_live_columns(const pp_config *a, const pp_config *b)
{
    if (a->emulation.timestamps_now != b->emulation.timestamps_now)
        return 0;
    if (!a->emulation.timestamps_now)
        return 1;
    if (a->emulation.nlive != b->emulation.nlive)
        return 0;
    for (size_t i = 0; i < a->emulation.nlive; i++)
        if (a->emulation.live[i].table != b->emulation.live[i].table ||
            strcmp(a->emulation.live[i].column, b->emulation.live[i].column))
            return 0;
    return 1;
}

/* Build-and-swap: a new configuration, source and sink are built while the old ones keep
 * running; the old sink is drained (nothing in flight is lost) before the new one gets
 * ready, and any failure keeps the running configuration. While still starting (running
 * == 0: waiting for the database or the brokers, often because of the very setting the
 * operator just fixed) nothing is in flight and nothing has been reached yet, so the new
 * configuration replaces the old at once, without the connectivity checks. Returns 1 when
 * the new configuration was swapped in. */
static int reload(runner *rn, int running)
{
    char err[1024], dest[1024];
    pp_source *src = NULL;
    pp_sink *sink = NULL;

    if (running)
        pp_notify_reloading();
    pp_log_notice("SIGHUP: reloading the configuration%s",
                  running ? "" : " (still starting: nothing in flight)");
    pp_config *c = rn->o->load_config(rn->o->opaque);
    if (!c)
        goto keep;
    if (running && !same_live_columns(rn->c, c)) {
        pp_log_err("reload: emulation.timestamps or emulation.timestamp_columns changed; the "
                   "run report must name the columns its posts carry rewritten, so this takes "
                   "a restart");
        goto keep;
    }
    sink = sink_new(rn, c, err, sizeof(err));
    if (!sink) {
        pp_log_err("reload: %s", err);
        goto keep;
    }
    src = source_open(rn, c);
    if (running) {
        if (pp_source_connect(src, err, sizeof(err)) != PP_SRC_OK) {
            pp_log_err("reload: the source with the new configuration: %s", err);
            goto keep;
        }
        /* The old producer finishes first: in exactly-once mode the new one's
         * init_transactions (same transactional.id) would fence it and abort its open
         * transaction, losing posts it had already sent. If the new sink then cannot get
         * ready, the old one goes on; should a new producer have reached the coordinator
         * before failing, it fenced the old one, whose next transaction then stops the
         * daemon with that fatal error (its posts counted failed, none silently lost). */
        if (drain(rn, rn->c->service.drain_timeout_s, 0) != 0) {
            /* A reload never costs a post: with the brokers not acknowledging, the old
             * producer keeps its posts (retried until message.timeout.ms) and the reload
             * is tried again a little later. */
            pp_log_warn("reload postponed: %llu post(s) in flight are not acknowledged after "
                        "service.drain_timeout (%g s); trying again in %d s",
                        (unsigned long long)pp_stats_in_flight(&rn->stats),
                        rn->c->service.drain_timeout_s, RELOAD_RETRY_US / 1000000);
            rn->reload_retry_us = pp_now_us() + RELOAD_RETRY_US;
            goto postponed;
        }
        if (pp_sink_prepare(sink, 10000, err, sizeof(err)) != PP_SINK_READY) {
            pp_log_err("reload: %s with the new configuration: %s", sink_name(rn), err);
            goto keep;
        }
    }
    switch_endpoint(rn, c);
    /* Its messages still count in the report and the metrics. */
    pp_stats_retire_sinks(&rn->retired, rn->sink);
    pp_sink_destroy(rn->sink);
    rn->sink = sink;
    pp_sampler_set_source(rn->sampler, src, c->source.batch, c->source.keyspace_refresh_s);
    pp_sampler_set_popularity(rn->sampler, c->emulation.popularity_s);
    pp_source_destroy(rn->src);
    rn->src = src;
    pp_config_destroy(rn->c);
    rn->c = c;
    apply_emulation(rn, pp_now_us());
    rn->next_publish_us = 0; /* the endpoint shows the new configuration at once */
    destinations(rn->sink, dest, sizeof(dest));
    pp_log_with(&(pp_log_fields){.event = PP_EV_RELOAD_OK}, LOG_NOTICE,
                "configuration reloaded%s%s; %s", c->path ? " from " : "", c->path ? c->path : "",
                dest);
    if (running)
        pp_notify("READY=1");
    return 1;
keep:
    pp_log_with(&(pp_log_fields){.event = PP_EV_RELOAD_FAILED}, LOG_ERR,
                "reload failed: keeping the %s configuration", running ? "running" : "start-up");
postponed:
    pp_sink_destroy(sink);
    pp_source_destroy(src);
    pp_config_destroy(c);
    if (running)
        pp_notify("READY=1");
    return 0;
}

/* Both ends reachable: topics checked (metadata arrived), transactions initialised,
 * the post keys loaded. Stop and reload requests are served while waiting. Returns 0, or
 * an exit status. */
static int wait_ready(runner *rn)
{
    char err[1024];
    int64_t backoff = 100000;
    int sink_ready = 0;
    while (!*rn->o->stop) {
        if (*rn->o->reload) {
            *rn->o->reload = 0;
            if (reload(rn, 0)) {
                sink_ready = 0;
                backoff = 100000;
            }
        }
        if (rn->deadline_us && pp_now_us() >= rn->deadline_us) {
            pp_log_warn("--duration reached before both ends were reachable");
            return PP_EXIT_RUNTIME;
        }
        if (!sink_ready) {
            int pr = pp_sink_prepare(rn->sink, 5000, err, sizeof(err));
            if (pr == PP_SINK_BROKEN) {
                pp_log_err("configuration error: %s", err);
                return PP_EXIT_CONFIG;
            }
            sink_ready = pr == PP_SINK_READY;
            if (!sink_ready) {
                pp_log_warn("%s not ready, retrying in %.1f s: %s", sink_name(rn),
                            (double)backoff / 1e6, err);
                snprintf(rn->start_why, sizeof(rn->start_why), "waiting for %s: %.200s",
                         sink_name(rn), err);
                pp_notify_status("%s", rn->start_why);
            }
        }
        if (sink_ready) {
            pp_src_status rc = pp_sampler_refresh(rn->sampler, err, sizeof(err));
            if (rc == PP_SRC_FATAL) {
                pp_log_err("configuration error: %s", err);
                return PP_EXIT_CONFIG;
            }
            if (rc == PP_SRC_OK) {
                pp_sampler_stats ss;
                pp_sampler_get_stats(rn->sampler, &ss);
                if (ss.keys == 0) {
                    pp_log_err("configuration error: the post table %s holds no row with a "
                               "key in %s: there is nothing to sample (load the data, or "
                               "correct source.tables.pin)",
                               rn->c->source.tables[PP_PIN].table,
                               rn->c->source.tables[PP_PIN].key);
                    return PP_EXIT_CONFIG;
                }
                rn->source_up = 1;
                return 0;
            }
            pp_log_warn("source unavailable, retrying in %.1f s: %s", (double)backoff / 1e6, err);
            snprintf(rn->start_why, sizeof(rn->start_why), "waiting for MySQL: %.200s", err);
            pp_notify_status("%s", rn->start_why);
        }
        wait_until(rn, pp_now_us() + backoff);
        backoff = backoff_next(backoff);
    }
    return 0;
}

static int write_report(runner *rn)
{
    const char *path = rn->c->service.report;
    char err[1024], *text = NULL;
    size_t len = 0;
    if (!path)
        return 0;
    /* Rendered whole first: then one write(2) to stdout, or one safely replaced file
     * (never a fixed "<path>.tmp" that a planted symlink could redirect). */
    FILE *f = open_memstream(&text, &len);
    int rc = f ? pp_stats_write_report(&rn->stats, rn->c, rn->o->seed, rn->loadstats, f) : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc) {
        pp_errf(err, sizeof(err), "%s: out of memory formatting it", path);
    } else if (!strcmp(path, "-")) {
        fflush(stdout);
        rc = pp_file_write_fd(fileno(stdout), text, len, err, sizeof(err));
    } else {
        rc = pp_file_write(path, text, len, PP_FILE_DURABLE, err, sizeof(err));
    }
    if (rc)
        pp_log_err("cannot write the report (--report, service.report): %s", err);
    free(text);
    return rc;
}

/* A round trip found no whole post. Go on at once (back to the loop, which serves
 * signals and limits) until many keys in a row found nothing; then pause, longer each
 * time, so data that never matches does not turn into a query storm. */
static void unmatched_pause(runner *rn)
{
    pp_sampler_stats ss;
    pp_sampler_get_stats(rn->sampler, &ss);
    if (ss.unmatched_streak < UNMATCHED_BACKOFF_KEYS)
        return;
    rn->unmatched_pause = rn->unmatched_pause ? rn->unmatched_pause * 2 : UNMATCHED_PAUSE_MIN_US;
    if (rn->unmatched_pause > UNMATCHED_PAUSE_MAX_US)
        rn->unmatched_pause = UNMATCHED_PAUSE_MAX_US;
    wait_until(rn, pp_now_us() + rn->unmatched_pause);
}

/* The sampling loop. Returns 0 or an exit status. */
static int loop(runner *rn)
{
    char err[1024];
    int64_t backoff = 100000;
    while (!*rn->o->stop) {
        int64_t now = pp_now_us();
        periodic(rn, now);
        if (pp_sink_fatal(rn->sink, err, sizeof(err))) {
            pp_log_err("stopping: %s", err);
            return PP_EXIT_RUNTIME;
        }
        if (rn->reload_retry_us && now >= rn->reload_retry_us) {
            rn->reload_retry_us = 0;
            *rn->o->reload = 1;
        }
        if (*rn->o->reload) {
            *rn->o->reload = 0;
            rn->reload_retry_us = 0;
            reload(rn, 1);
            continue;
        }
        /* --count N: N posts sent, numbered 1..N; unmatched keys and skipped posts do not
         * count, and the exit status says whether all N were delivered. */
        if (rn->c->emulation.count && rn->seq >= rn->c->emulation.count)
            return 0;
        if (rn->deadline_us && now >= rn->deadline_us)
            return 0;
        /* Over once the last stage has ended and no post it scheduled is still owed (a
         * backlog after a stall is sent first). */
        if (pp_pacer_over(&rn->pacer, now) && pp_pacer_due(&rn->pacer) > now) {
            pp_log_notice("the last stage of emulation.stages has ended");
            return 0;
        }
        int64_t due = pp_pacer_due(&rn->pacer);
        if (now < due) {
            int64_t wait = due - now;
            if (wait < 2000) {
                /* Polls wait whole milliseconds: the last stretch is slept exactly, so
                 * posts leave on time rather than up to a millisecond late. */
                pp_sink_poll(rn->sink, 0);
                int64_t left = due - pp_now_us();
                if (left > 0)
                    pp_sleep_us(left);
                continue;
            }
            pp_sink_poll(rn->sink, (int)(wait > 100000 ? 100 : wait / 1000));
            continue;
        }
        if (pp_sink_full(rn->sink)) {
            /* Wait for deliveries here rather than inside produce: the watchdog, STATUS
             * and signals keep being served while the brokers or streams lag. */
            pp_sink_poll(rn->sink, 100);
            continue;
        }
        const pp_post *post = NULL;
        pp_sample rc = pp_sampler_next(rn->sampler, &post, err, sizeof(err));
        if (rc == PP_SAMPLE_RETRY) {
            if (*rn->o->stop)
                continue; /* a wait given up because of the stop request */
            pp_log_with(rn->source_up ? &(pp_log_fields){.event = PP_EV_SOURCE_DOWN} : NULL,
                        LOG_WARNING, "source unavailable, retrying in %.1f s: %s",
                        (double)backoff / 1e6, err);
            rn->source_up = 0;
            wait_until(rn, pp_now_us() + backoff);
            backoff = backoff_next(backoff);
            continue;
        }
        if (rc == PP_SAMPLE_FATAL) {
            pp_log_err("stopping: %s", err);
            return rn->stats.posts_sampled ? PP_EXIT_RUNTIME : PP_EXIT_CONFIG;
        }
        if (!rn->source_up) {
            pp_log_with(&(pp_log_fields){.event = PP_EV_SOURCE_UP}, LOG_NOTICE,
                        "source available again");
            rn->source_up = 1;
        }
        backoff = 100000;
        if (rc == PP_SAMPLE_EMPTY) {
            pp_log_warn("the post table is empty; waiting for rows");
            wait_until(rn, pp_now_us() + 1000000);
            continue;
        }
        if (rc == PP_SAMPLE_UNMATCHED) {
            pp_sink_poll(rn->sink, 0); /* deliveries and commits go on meanwhile */
            unmatched_pause(rn);
            continue;
        }
        rn->unmatched_pause = 0;
        rn->stats.posts_sampled++;
        rn->seq++;
        /* The intended time is the schedule's, whatever delayed the post (a full queue, a
         * database round trip, a stall): latency measured from it includes the wait. As
         * fast as possible has no schedule: the post is meant for now. */
        int64_t sent = pp_now_us();
        int64_t intended = isnan(pp_pacer_rate_at(&rn->pacer, due)) ? sent : due;
        /* Before produce: a sink may report the post before produce returns. */
        pp_loadstats_produced(rn->loadstats, &rn->pacer, rn->seq, pp_pacer_stage(&rn->pacer),
                              intended, sent);
        if (rn->per_post_lines)
            pp_labels_put(rn->labels, rn->seq, post);
        pp_sink_put pr = pp_sink_produce(rn->sink, post, rn->seq, err, sizeof(err));
        if (pr == PP_SINK_SKIPPED) {
            /* Nothing went out under this number: the next post takes it, so a consumer
             * still sees 1..N without gaps. */
            pp_post_labels unused;
            pp_labels_take(rn->labels, rn->seq, &unused);
            pp_loadstats_forget(rn->loadstats, rn->seq);
            rn->stats.posts_skipped++;
            rn->seq--;
        }
        if (pr != PP_SINK_QUEUED)
            pp_log_warn("%s", err);
        pp_pacer_posted(&rn->pacer, sent);
        follow_stage(rn);
        pp_sink_poll(rn->sink, 0);
    }
    return 0;
}

int pp_runner_run(pp_config *c, const pp_runner_opts *o)
{
    char err[1024], desc[512], dest[1024];
    runner rn;
    int status = 0;

    memset(&rn, 0, sizeof(rn));
    rn.o = o;
    rn.c = c;
    pp_notify_init();
    pp_stats_init(&rn.stats, pp_now_us());
    rn.prev = rn.stats;
    rn.prev.end_us = rn.stats.start_us;
    rn.watchdog_usec = pp_notify_watchdog_usec();
    rn.labels = pp_labels_new();
    rn.loadstats = pp_loadstats_new();
    rn.src = source_open(&rn, c);
    rn.sink = sink_new(&rn, c, err, sizeof(err));
    if (!rn.sink) {
        pp_log_err("configuration error: %s", err);
        status = PP_EXIT_CONFIG;
        goto out;
    }
    rn.sampler = pp_sampler_new(rn.src, o->seed, c->source.batch, c->source.keyspace_refresh_s);
    pp_sampler_set_popularity(rn.sampler, c->emulation.popularity_s);
    pp_source_describe(rn.src, desc, sizeof(desc));
    destinations(rn.sink, dest, sizeof(dest));
    pp_log_with(&(pp_log_fields){.event = PP_EV_START}, LOG_NOTICE,
                "pinpostd %s starting: instance %s, seed %llu, source %s, %s%s", PP_VERSION,
                c->service.instance, (unsigned long long)o->seed, desc, dest,
                o->dry_run ? " (dry run)" : "");
    pp_notify_status("starting: connecting to %s and the source", sink_name(&rn));
    if (c->service.metrics_listen) {
        pp_httpd_err he = pp_httpd_start(c->service.metrics_listen, &rn.httpd, err, sizeof(err));
        if (he != PP_HTTPD_OK) {
            /* A bad address is the configuration's fault; a port in use may be free after a
             * restart. */
            pp_log_err("%s%s", he == PP_HTTPD_BAD_ADDRESS ? "configuration error: " : "", err);
            status = he == PP_HTTPD_BAD_ADDRESS ? PP_EXIT_CONFIG : PP_EXIT_RUNTIME;
            goto out;
        }
        log_endpoint(c->service.metrics_listen);
        publish(&rn, pp_now_us());
    }

    apply_emulation(&rn, pp_now_us()); /* the duration also bounds the wait below */
    status = wait_ready(&rn);
    if (status || *o->stop)
        goto stop;
    pp_notify("READY=1");
    rn.sink_up = 1; /* prepared: the brokers or streams answered */
    {
        char ready[256];
        pp_sampler_stats ss;
        pp_sampler_get_stats(rn.sampler, &ss);
        snprintf(ready, sizeof(ready), "ready: %llu post keys; posting to %s",
                 (unsigned long long)ss.keys, sink_name(&rn));
        pp_log_with(&(pp_log_fields){.event = PP_EV_READY}, LOG_NOTICE, "%s", ready);
        pp_notify_status("%s", ready);
    }
    int64_t now = pp_now_us();
    rn.stats.ready_us = now;
    apply_emulation(&rn, now);
    rn.next_status_us = now;
    rn.status_us = now;
    rn.next_summary_us = rn.c->service.summary_interval_s > 0
                             ? now + (int64_t)(rn.c->service.summary_interval_s * 1e6)
                             : 0;
    status = loop(&rn);

stop:
    rn.stopping = 1;
    publish(&rn, pp_now_us()); /* /healthz: 503 "stopping" */
    pp_notify("STOPPING=1");
    if (*o->stop)
        pp_log_notice("stop requested: no new posts; delivering the %llu in flight",
                      (unsigned long long)pp_stats_in_flight(&rn.stats));
    if (rn.stats.ready_us) /* the schedule's time ends when posting does */
        pp_loadstats_tick(rn.loadstats, &rn.pacer, pp_now_us());
    drain(&rn, rn.c->service.drain_timeout_s, 1);
    pp_stats_finish(&rn.stats, pp_now_us());
    refresh_counts(&rn);
    {
        char line[512];
        pp_stats_summary(&rn.stats, NULL, rn.stats.end_us, line, sizeof(line));
        pp_log_with(&(pp_log_fields){.event = PP_EV_STOP}, LOG_NOTICE, "finished: %s", line);
        if (rn.stats.invalid_utf8)
            pp_log_warn("%llu invalid UTF-8 byte(s) in the source were replaced by U+FFFD",
                        (unsigned long long)rn.stats.invalid_utf8);
    }
    if (!status &&
        (rn.stats.posts_failed || rn.stats.posts_unknown || pp_stats_in_flight(&rn.stats)))
        status = PP_EXIT_RUNTIME;
    if (status != PP_EXIT_CONFIG || rn.stats.posts_sampled) {
        if (write_report(&rn) != 0 && !status)
            status = PP_EXIT_RUNTIME;
        write_metrics(&rn, pp_now_us());
    }
out:
    pp_httpd_stop(rn.httpd);
    pp_sampler_destroy(rn.sampler);
    pp_sink_destroy(rn.sink);
    pp_source_destroy(rn.src);
    pp_labels_destroy(rn.labels);
    pp_loadstats_destroy(rn.loadstats);
    if (o->dry_run && fflush(stdout) != 0 && !status)
        status = PP_EXIT_RUNTIME;
    pp_config_destroy(rn.c);
    return status;
}
