/* main: command line, lifecycle and the main loop of pinpostd. */
#define _POSIX_C_SOURCE 200809L
#include "pp_check.h"
#include "pp_config.h"
#include "pp_log.h"
#include "pp_msk.h"
#include "pp_rng.h"
#include "pp_runner.h"
#include "pp_util.h"
#include "pp_version.h"

#include <errno.h>
#include <getopt.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 64
#define EXIT_CONFIG 78

#define DEFAULT_CONFIG "/etc/pinpostd/pinpostd.yaml"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_requested < 2)
        stop_requested++;
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
            "from MySQL and produce them to three Kafka topics and/or Kinesis streams.\n"
            "\n"
            "  -c, --config FILE      configuration file (default " DEFAULT_CONFIG ")\n"
            "  -t, --check            validate the config, connect to MySQL and the sinks, print a\n"
            "                         redacted summary, exit\n"
            "  -n, --count N          stop after N posts (0 = run forever)\n"
            "      --duration SECS    stop after this long\n"
            "  -r, --rate R           R posts per second (0 = as fast as possible)\n"
            "      --delay MIN:MAX    random delay between posts, seconds (default 0:2)\n"
            "      --seed N           deterministic sampling: same seed, same posts\n"
            "      --dry-run          write one JSON line per message to stdout, no sink\n"
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

/* The runner's reload hook: the same file and flags as at start-up. */
static pp_config *reload_config(void *opaque)
{
    return build_config(opaque);
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

/* Secrets (passwords, AWS keys) live in this process's memory: no core dumps of it, and
 * no ptrace by other processes of the same user. */
static void protect_secrets(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
    options o;
    int status = 0;

    protect_secrets();

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

    if (o.check) {
        status = pp_check_run(c, o.demo, o.dry_run, stdout);
        pp_config_destroy(c);
    } else {
        pp_runner_opts ro = {.demo = o.demo, .dry_run = o.dry_run, .seed = seed,
                             .stop = &stop_requested, .reload = &reload_requested,
                             .load_config = reload_config, .opaque = &o};
        status = pp_runner_run(c, &ro); /* takes c */
    }
    mysql_library_end();
    return status;
}
