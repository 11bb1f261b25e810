/* main: command line, lifecycle and the main loop of pinpostd. */
#define _POSIX_C_SOURCE 200809L
#include "pp_config.h"
#include "pp_log.h"
#include "pp_msk.h"
#include "pp_pacer.h"
#include "pp_rng.h"
#include "pp_sampler.h"
#include "pp_sink.h"
#include "pp_source.h"
#include "pp_stats.h"
#include "pp_util.h"
#include "pp_version.h"

#include <errno.h>
#include <getopt.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 64
#define EXIT_CONFIG 78

#define DEFAULT_CONFIG "/etc/pinpostd/pinpostd.yaml"
#define DEMO_POSTS 11000
#define DEMO_DATA_SEED 20200828
/* Above this many posts per second, per-post lines would flood a terminal. */
#define PER_POST_LINES_MAX_RATE 5.0

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

/* Command-line settings; "has_" fields say whether a flag was given. */
typedef struct options {
    const char *config;
    int check, dry_run, demo, verbosity;
    int has_count, has_duration, has_rate, has_delay, has_seed;
    uint64_t count, seed;
    double duration, rate, delay_min, delay_max;
    const char *report;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: pinpostd [-c FILE] [options]\n"
            "Emulate Pinterest users posting: sample matching post, geolocation and user rows\n"
            "from MySQL and produce them to three Kafka topics.\n"
            "\n"
            "  -c, --config FILE      configuration file (default " DEFAULT_CONFIG ")\n"
            "  -t, --check            validate the config, connect to MySQL and Kafka, print a\n"
            "                         redacted summary, exit\n"
            "  -n, --count N          stop after N posts (0 = run forever)\n"
            "      --duration SECS    stop after this long\n"
            "  -r, --rate R           R posts per second (0 = as fast as possible)\n"
            "      --delay MIN:MAX    random delay between posts, seconds (default 0:2)\n"
            "      --seed N           deterministic sampling: same seed, same posts\n"
            "      --dry-run          write one JSON line per message to stdout, no Kafka\n"
            "      --demo             built-in sample data and an in-process Kafka cluster\n"
            "      --report FILE      write a JSON run summary at exit (\"-\" for stdout)\n"
            "  -v, --verbose          more logging (repeatable)\n"
            "  -q, --quiet            less logging (repeatable)\n"
            "  -V, --version          print the version and exit\n"
            "  -h, --help             print this help and exit\n"
            "\n"
            "pinpostd msk-token --region R [--at 2015-08-30T12:36:00Z] [-c FILE]\n"
            "                         print an MSK IAM token and its expiry (ms since the epoch)\n"
            "\n"
            "Exit status: 0 all posts delivered, 1 posts failed or runtime error, 64 usage,\n"
            "78 configuration error. See pinpostd(8).\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    int64_t v;
    if (pp_parse_int64(s, &v) || v < 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Returns -1 to exit with `*status`. */
static int parse_args(int argc, char **argv, options *o, int *status)
{
    enum { OPT_DURATION = 1000, OPT_DELAY, OPT_SEED, OPT_DRY_RUN, OPT_DEMO, OPT_REPORT };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"check", no_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},   {"duration", required_argument, NULL, OPT_DURATION},
        {"rate", required_argument, NULL, 'r'},    {"delay", required_argument, NULL, OPT_DELAY},
        {"seed", required_argument, NULL, OPT_SEED}, {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"demo", no_argument, NULL, OPT_DEMO},     {"report", required_argument, NULL, OPT_REPORT},
        {"verbose", no_argument, NULL, 'v'},       {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    memset(o, 0, sizeof(*o));
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":c:tn:r:vqVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 't': o->check = 1; break;
        case 'n':
            if (parse_u64(optarg, &o->count))
                goto bad_value;
            o->has_count = 1;
            break;
        case OPT_DURATION:
            if (pp_parse_double(optarg, &o->duration) || o->duration < 0)
                goto bad_value;
            o->has_duration = 1;
            break;
        case 'r':
            if (pp_parse_double(optarg, &o->rate) || o->rate < 0 || o->rate > 1e9)
                goto bad_value;
            o->has_rate = 1;
            break;
        case OPT_DELAY:
            if (pp_config_parse_delay(optarg, &o->delay_min, &o->delay_max))
                goto bad_value;
            o->has_delay = 1;
            break;
        case OPT_SEED:
            if (parse_u64(optarg, &o->seed))
                goto bad_value;
            o->has_seed = 1;
            break;
        case OPT_DRY_RUN: o->dry_run = 1; break;
        case OPT_DEMO: o->demo = 1; break;
        case OPT_REPORT: o->report = optarg; break;
        case 'v': o->verbosity++; break;
        case 'q': o->verbosity--; break;
        case 'V':
            printf("pinpostd %s\n", PP_VERSION);
            *status = 0;
            return -1;
        case 'h':
            usage(stdout);
            *status = 0;
            return -1;
        case ':':
            fprintf(stderr, "pinpostd: option %s needs a value\n", argv[optind - 1]);
            goto bad;
        default:
            fprintf(stderr, "pinpostd: unknown option %s\n", argv[optind - 1]);
            goto bad;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pinpostd: unexpected argument '%s'\n", argv[optind]);
        goto bad;
    }
    if (o->has_rate && o->has_delay) {
        fprintf(stderr, "pinpostd: --rate and --delay exclude each other\n");
        goto bad;
    }
    return 0;
bad_value:
    fprintf(stderr, "pinpostd: invalid value '%s' for %s\n", optarg, argv[optind - 1]);
bad:
    fprintf(stderr, "Try 'pinpostd --help'.\n");
    *status = EXIT_USAGE;
    return -1;
}

/* Defaults, then the file, then the flags. Returns NULL after printing the error. */
static pp_config *build_config(const options *o)
{
    char err[1024];
    pp_config *c = pp_config_new_defaults();
    const char *path = o->config;

    if (!path && !o->demo)
        path = DEFAULT_CONFIG;
    if (path && pp_config_load_file(c, path, err, sizeof(err)) != 0)
        goto fail;
    if (o->has_count)
        c->emulation.count = o->count;
    if (o->has_duration)
        c->emulation.duration_s = o->duration;
    if (o->has_rate) {
        c->emulation.fixed_rate = 1;
        c->emulation.rate = o->rate;
    }
    if (o->has_delay) {
        c->emulation.fixed_rate = 0;
        c->emulation.delay_min_s = o->delay_min;
        c->emulation.delay_max_s = o->delay_max;
    }
    if (o->dry_run && !o->has_rate && !o->has_delay) {
        /* A dry run produces data, not a demo: unpaced unless pacing is asked for. */
        c->emulation.fixed_rate = 1;
        c->emulation.rate = 0;
    }
    if (o->has_seed) {
        c->emulation.has_seed = 1;
        c->emulation.seed = o->seed;
    }
    if (o->report) {
        free(c->service.report);
        c->service.report = pp_xstrdup(o->report);
    }
    if (pp_config_validate(c, err, sizeof(err)) != 0)
        goto fail;
    return c;
fail:
    pp_log_err("configuration error: %s", err);
    pp_config_destroy(c);
    return NULL;
}

/* Everything the main loop and the done callback share. */
typedef struct run {
    const pp_config *c;
    options *o;
    pp_stats stats;
    int per_post_lines;
} run;

/* @locality: main thread, from pp_sink_poll/flush/produce. */
static void on_post_done(void *opaque, const pp_post_result *r)
{
    run *rn = opaque;
    if (!r->ok || !rn->per_post_lines)
        return;
    pp_log_info("post %lld seq %llu delivered: category %s, country %s; pin %d@%lld geo "
                "%d@%lld user %d@%lld; %.1f ms",
                (long long)r->key, (unsigned long long)r->seq,
                r->category[0] ? r->category : "-", r->country[0] ? r->country : "-",
                r->partition[PP_PIN], (long long)r->offset[PP_PIN], r->partition[PP_GEO],
                (long long)r->offset[PP_GEO], r->partition[PP_USER],
                (long long)r->offset[PP_USER], (double)r->latency_us / 1000.0);
}

static void wait_polling(pp_sink *sink, int64_t until_us)
{
    for (;;) {
        int64_t left = until_us - pp_now_us();
        if (left <= 0 || stop_requested)
            return;
        pp_sink_poll(sink, (int)(left > 100000 ? 100 : (left + 999) / 1000));
    }
}

static int write_report(run *rn, uint64_t seed, char *const topics[PP_NTABLES])
{
    const char *path = rn->c->service.report;
    const char *tp[PP_NTABLES] = {topics[0], topics[1], topics[2]};
    if (!path)
        return 0;
    if (!strcmp(path, "-"))
        return pp_stats_write_report(&rn->stats, rn->c, seed, tp, stdout);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        pp_log_err("cannot write the report to %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = pp_stats_write_report(&rn->stats, rn->c, seed, tp, f);
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc)
        pp_log_err("cannot write the report to %s: %s", path, strerror(errno));
    return rc;
}

static int pick_batch(const pp_config *c)
{
    if (!c->emulation.fixed_rate)
        return 1; /* a post every second or so: always fresh rows */
    if (c->emulation.rate <= 0)
        return c->source.batch;
    int b = (int)(c->emulation.rate / 100.0); /* about 10 ms of posts per round trip */
    return b < 1 ? 1 : b > c->source.batch ? c->source.batch : b;
}

static int run_check(const pp_config *c, const options *o, char *const topics[PP_NTABLES])
{
    char err[1024];
    int status = 0;
    pp_stats stats;
    pp_config_print(c, stdout);

    pp_source *src = o->demo ? pp_source_demo_new(DEMO_DATA_SEED, DEMO_POSTS)
                             : pp_source_mysql_new(c);
    pp_keyspace *ks = pp_keyspace_new();
    int rc = pp_source_connect(src, err, sizeof(err));
    if (rc == PP_SRC_OK)
        rc = pp_source_load_keys(src, ks, err, sizeof(err));
    if (rc == PP_SRC_OK) {
        char desc[512];
        pp_source_describe(src, desc, sizeof(desc));
        printf("source: %s reachable, %llu post keys in %llu run(s)\n", desc,
               (unsigned long long)pp_keyspace_count(ks), (unsigned long long)pp_keyspace_runs(ks));
    } else {
        printf("source: FAILED: %s\n", err);
        status = rc == PP_SRC_FATAL ? EXIT_CONFIG : EXIT_RUNTIME;
    }
    pp_keyspace_destroy(ks);
    pp_source_destroy(src);

    if (c->msk.enabled && !o->demo && !o->dry_run) {
        char region[64], source[160];
        pp_aws_creds creds = {0};
        if (pp_msk_region(c, region, sizeof(region), err, sizeof(err)) != 0) {
            printf("msk iam: FAILED: %s\n", err);
            status = EXIT_CONFIG;
        } else {
            pp_aws_chain *chain = pp_msk_chain_new(c);
            if (pp_aws_chain_get(chain, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
                printf("msk iam: FAILED: region %s: %s\n", region, err);
                if (!status)
                    status = EXIT_RUNTIME;
            } else {
                printf("msk iam: region %s, credentials from %s%s\n", region, source,
                       creds.expiration ? " (temporary)" : "");
            }
            pp_aws_creds_clear(&creds);
            pp_aws_chain_destroy(chain);
        }
    }

    pp_stats_init(&stats, pp_now_us());
    const char *tp[PP_NTABLES] = {topics[0], topics[1], topics[2]};
    pp_sink *sink = o->dry_run ? pp_sink_dry_new(stdout, tp, c->service.instance, &stats, NULL, NULL)
                               : pp_sink_kafka_new(c, tp, o->demo, &stats, NULL, NULL, err,
                                                   sizeof(err));
    if (!sink) {
        printf("kafka: FAILED: %s\n", err);
        return EXIT_CONFIG;
    }
    int krc = pp_sink_check(sink, stdout, 10000);
    if (krc == -2)
        status = EXIT_CONFIG;
    else if (krc != 0 && !status)
        status = EXIT_RUNTIME;
    pp_sink_destroy(sink);
    printf("check: %s\n", status ? "FAILED" : "OK");
    return status;
}

static int run_main(const pp_config *c, options *o, uint64_t seed, char *const topics[PP_NTABLES])
{
    char err[1024], desc[512];
    run rn = {.c = c, .o = o};
    int status = 0;
    pp_sampler *sampler = NULL;
    pp_sink *sink = NULL;
    pp_source *src = o->demo ? pp_source_demo_new(DEMO_DATA_SEED, DEMO_POSTS)
                             : pp_source_mysql_new(c);
    const char *tp[PP_NTABLES] = {topics[0], topics[1], topics[2]};

    pp_stats_init(&rn.stats, pp_now_us());
    /* Per-post lines only while a person can read them; unpaced runs never qualify. */
    double mean_rate = c->emulation.fixed_rate
                           ? (c->emulation.rate > 0 ? c->emulation.rate : 1e9)
                           : 2.0 / (c->emulation.delay_min_s + c->emulation.delay_max_s + 1e-9);
    rn.per_post_lines = !o->dry_run && mean_rate <= PER_POST_LINES_MAX_RATE;
    sink = o->dry_run ? pp_sink_dry_new(stdout, tp, c->service.instance, &rn.stats, on_post_done, &rn)
                      : pp_sink_kafka_new(c, tp, o->demo, &rn.stats, on_post_done, &rn, err,
                                          sizeof(err));
    if (!sink) {
        pp_log_err("configuration error: %s", err);
        status = EXIT_CONFIG;
        goto out;
    }
    sampler = pp_sampler_new(src, seed, c->source.batch, c->source.keyspace_refresh_s);
    pp_sampler_set_batch(sampler, pick_batch(c));

    pp_source_describe(src, desc, sizeof(desc));
    pp_log_notice("pinpostd %s starting: instance %s, seed %llu, source %s, topics %s %s %s%s",
                  PP_VERSION, c->service.instance, (unsigned long long)seed, desc, topics[0],
                  topics[1], topics[2], o->dry_run ? " (dry run)" : "");

    /* Topics must exist (or be created) and, in exactly-once mode, transactions must be
     * initialised before the first post; an unreachable cluster is waited for. */
    int64_t backoff_us = 100000;
    while (!stop_requested) {
        int pr = pp_sink_prepare(sink, 5000, err, sizeof(err));
        if (pr == PP_SINK_READY)
            break;
        if (pr == PP_SINK_BROKEN) {
            pp_log_err("configuration error: %s", err);
            status = EXIT_CONFIG;
            goto out;
        }
        pp_log_warn("Kafka not ready, retrying in %.1f s: %s", (double)backoff_us / 1e6, err);
        wait_polling(sink, pp_now_us() + backoff_us);
        backoff_us = backoff_us * 2 > 30000000 ? 30000000 : backoff_us * 2;
    }
    backoff_us = 100000;

    pp_pacer pacer;
    int64_t now = pp_now_us();
    if (c->emulation.fixed_rate)
        pp_pacer_init_rate(&pacer, c->emulation.rate, now);
    else
        pp_pacer_init_delay(&pacer, c->emulation.delay_min_s, c->emulation.delay_max_s, seed, now);

    int64_t deadline = c->emulation.duration_s > 0
                           ? now + (int64_t)(c->emulation.duration_s * 1e6) : 0;
    int64_t summary_us = (int64_t)(c->service.summary_interval_s * 1e6);
    int64_t next_summary = summary_us > 0 ? now + summary_us : 0;
    int source_down = 0;
    uint64_t seq = 0;
    pp_stats prev = rn.stats;
    prev.end_us = now;

    while (!stop_requested) {
        if (pp_sink_fatal(sink, err, sizeof(err))) {
            pp_log_err("stopping: %s", err);
            status = EXIT_RUNTIME;
            break;
        }
        if (reload_requested) {
            reload_requested = 0;
            pp_log_warn("SIGHUP: configuration reload is not supported by this version; "
                        "keeping the running configuration (restart to apply changes)");
        }
        now = pp_now_us();
        if (c->emulation.count && rn.stats.posts_sampled >= c->emulation.count)
            break;
        if (deadline && now >= deadline)
            break;
        if (next_summary && now >= next_summary) {
            char line[512];
            pp_sampler_stats ss;
            pp_sampler_get_stats(sampler, &ss);
            rn.stats.posts_unmatched = ss.unmatched;
            pp_stats_summary(&rn.stats, &prev, now, line, sizeof(line));
            pp_log_info("%s", line);
            prev = rn.stats;
            prev.end_us = now;
            next_summary = now + summary_us;
        }
        int64_t due = pp_pacer_due(&pacer);
        if (now < due) {
            int64_t wait = due - now;
            pp_sink_poll(sink, (int)(wait > 100000 ? 100 : (wait + 999) / 1000));
            continue;
        }
        const pp_post *post = NULL;
        int rc = pp_sampler_next(sampler, &post, err, sizeof(err));
        if (rc == PP_SRC_RETRY) {
            pp_log_warn("source unavailable, retrying in %.1f s: %s", (double)backoff_us / 1e6,
                        err);
            source_down = 1;
            wait_polling(sink, pp_now_us() + backoff_us);
            backoff_us = backoff_us * 2 > 30000000 ? 30000000 : backoff_us * 2;
            continue;
        }
        if (rc == PP_SRC_FATAL) {
            pp_log_err("stopping: %s", err);
            status = rn.stats.posts_sampled ? EXIT_RUNTIME : EXIT_CONFIG;
            break;
        }
        if (source_down) {
            pp_log_notice("source available again");
            source_down = 0;
        }
        backoff_us = 100000;
        if (rc == 1) {
            pp_log_warn("the post table is empty; waiting for rows");
            wait_polling(sink, pp_now_us() + 1000000);
            continue;
        }
        rn.stats.posts_sampled++;
        seq++;
        if (pp_sink_produce(sink, post, seq, err, sizeof(err)) != 0)
            pp_log_warn("%s", err);
        pp_pacer_posted(&pacer, now);
        pp_sink_poll(sink, 0);
    }

    if (stop_requested)
        pp_log_notice("stop requested: no new posts; delivering the %llu in flight",
                      (unsigned long long)pp_stats_in_flight(&rn.stats));
    if (pp_sink_flush(sink, (int)(c->kafka.flush_timeout_s * 1000)) != 0) {
        pp_log_err("%llu post(s) still undelivered after kafka.flush_timeout (%g s); counting "
                   "them as failed",
                   (unsigned long long)pp_stats_in_flight(&rn.stats), c->kafka.flush_timeout_s);
        pp_sink_abandon(sink);
    }
    pp_stats_finish(&rn.stats, pp_now_us());
    {
        pp_sampler_stats ss;
        char line[512];
        pp_sampler_get_stats(sampler, &ss);
        rn.stats.posts_unmatched = ss.unmatched;
        rn.stats.invalid_utf8 = ss.invalid_utf8;
        pp_stats_summary(&rn.stats, NULL, rn.stats.end_us, line, sizeof(line));
        pp_log_notice("finished: %s", line);
        if (ss.invalid_utf8)
            pp_log_warn("%llu invalid UTF-8 byte(s) in the source were replaced by U+FFFD",
                        (unsigned long long)ss.invalid_utf8);
    }
    if (rn.stats.posts_failed || pp_stats_in_flight(&rn.stats))
        status = EXIT_RUNTIME;
    if (write_report(&rn, seed, topics) != 0 && !status)
        status = EXIT_RUNTIME;
out:
    pp_sampler_destroy(sampler);
    pp_sink_destroy(sink);
    pp_source_destroy(src);
    if (o->dry_run && fflush(stdout) != 0 && !status)
        status = EXIT_RUNTIME;
    return status;
}

/* pinpostd msk-token --region R [--at TIME] [-c FILE]: sign one MSK IAM token with the
 * credential chain (and the role options of the config's client.properties). */
static int msk_token_command(int argc, char **argv)
{
    static const struct option longopts[] = {{"region", required_argument, NULL, 'r'},
                                             {"at", required_argument, NULL, 'a'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *region = NULL, *config = NULL;
    time_t when = time(NULL);
    char err[1024], source[160], regbuf[64];
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "r:a:c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': region = optarg; break;
        case 'c': config = optarg; break;
        case 'a': {
            long long t = pp_aws_parse_time(optarg);
            if (t < 0) {
                fprintf(stderr, "pinpostd msk-token: --at wants a UTC time such as "
                                "2015-08-30T12:36:00Z\n");
                return EXIT_USAGE;
            }
            when = (time_t)t;
            break;
        }
        case 'h':
            printf("Usage: pinpostd msk-token [--region R] [--at 2015-08-30T12:36:00Z] [-c FILE]\n"
                   "Print an Amazon MSK IAM token (line 1) and its expiry in ms since the\n"
                   "epoch (line 2), signed with the AWS credential chain.\n");
            return 0;
        default:
            fprintf(stderr, "Try 'pinpostd msk-token --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pinpostd msk-token: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    pp_config *c = pp_config_new_defaults();
    if (config && pp_config_load_file(c, config, err, sizeof(err)) != 0) {
        pp_log_err("configuration error: %s", err);
        pp_config_destroy(c);
        return EXIT_CONFIG;
    }
    if (!region) {
        if (pp_msk_region(c, regbuf, sizeof(regbuf), err, sizeof(err)) != 0) {
            pp_log_err("%s (or pass --region)", err);
            pp_config_destroy(c);
            return EXIT_USAGE;
        }
        region = regbuf;
    }
    pp_aws_chain *chain = pp_msk_chain_new(c);
    pp_aws_creds creds = {0};
    int status = 0;
    if (pp_aws_chain_get(chain, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
        pp_log_err("%s", err);
        status = EXIT_RUNTIME;
    } else {
        pp_buf token = {0};
        int64_t lifetime_ms;
        pp_msk_token(&creds, region, when, 900, &token, &lifetime_ms);
        printf("%s\n%lld\n", token.data, (long long)lifetime_ms);
        fprintf(stderr, "region %s, credentials from %s\n", region, source);
        pp_buf_free(&token);
    }
    pp_aws_creds_clear(&creds);
    pp_aws_chain_destroy(chain);
    pp_config_destroy(c);
    return status;
}

int main(int argc, char **argv)
{
    options o;
    int status = 0;
    char *topics[PP_NTABLES] = {NULL, NULL, NULL};

    if (argc > 1 && !strcmp(argv[1], "msk-token")) {
        pp_log_init(0);
        return msk_token_command(argc - 1, argv + 1);
    }
    if (parse_args(argc, argv, &o, &status) != 0)
        return status;
    pp_log_init(o.verbosity);

    pp_config *c = build_config(&o);
    if (!c)
        return EXIT_CONFIG;
    if (mysql_library_init(0, NULL, NULL)) {
        pp_log_err("cannot initialise the MySQL client library");
        pp_config_destroy(c);
        return EXIT_RUNTIME;
    }
    uint64_t seed = c->emulation.has_seed ? c->emulation.seed : pp_rng_os_seed();
    for (int t = 0; t < PP_NTABLES; t++)
        topics[t] = pp_config_topic(c, t);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (o.check)
        status = run_check(c, &o, topics);
    else
        status = run_main(c, &o, seed, topics);

    for (int t = 0; t < PP_NTABLES; t++)
        free(topics[t]);
    pp_config_destroy(c);
    mysql_library_end();
    return status;
}
