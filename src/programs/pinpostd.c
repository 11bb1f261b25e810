/* pinpostd's main: the command line, the configuration, signal handlers, then --check, the
 * msk-token or health command, or a run (the loop itself is the runner's, src/daemon/runner.c). */
#include "pp_secret.h"
#include "pp_exit.h"
#include "pp_check.h"
#include "pp_cli.h"
#include "pp_config.h"
#include "pp_aws_http.h"
#include "pp_file.h"
#include "pp_httpd.h"
#include "pp_log.h"
#include "pp_msk.h"
#include "pp_rng.h"
#include "pp_runner.h"
#include "pp_source.h"
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

#define DEFAULT_CONFIG PP_CLI_DEFAULT_CONFIG

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

/* The first SIGTERM/SIGINT stops sampling and flushes; a second one gives up on what is
 * still in flight (the runner counts it). */
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

typedef pp_cli_opts options;

/* Returns -1 to exit with `*status`: after --help or --version (0), or after printing a
 * usage error (64). */
static int parse_args(int argc, char **argv, options *o, int *status)
{
    char msg[512];
    switch (pp_cli_parse(argc, argv, o, msg, sizeof(msg))) {
    case PP_CLI_RUN: return 0;
    case PP_CLI_HELP:
        pp_cli_usage(stdout);
        *status = 0;
        return -1;
    case PP_CLI_VERSION:
        printf("pinpostd %s\n", PP_VERSION);
        *status = 0;
        return -1;
    case PP_CLI_USAGE: break;
    }
    fprintf(stderr, "pinpostd: %s\nTry 'pinpostd --help'.\n", msg);
    *status = PP_EXIT_USAGE;
    return -1;
}

/* One of N instances started with one configuration: --shard I/N, or service.shards N
 * with the index from JOB_COMPLETION_INDEX (what a Kubernetes Indexed Job sets). */
static int apply_shard(pp_config *c, const options *o, char *err, size_t n)
{
    int index = 0, shards = c->service.shards;
    const char *env = getenv("JOB_COMPLETION_INDEX");
    char q[48];
    if (o->has_shard) {
        index = o->shard_index;
        shards = o->shards;
    } else if (env && shards > 1) {
        int64_t v;
        if (pp_parse_int64(env, &v) || v < 0 || v >= shards)
            return pp_errf(err, n,
                           "JOB_COMPLETION_INDEX is '%s', not an index from 0 to %d "
                           "(service.shards is %d)",
                           pp_quote_arg(env, 0, q, sizeof(q)), shards - 1, shards),
                   -1;
        index = (int)v;
    } else if (shards > 1) {
        return pp_errf(err, n,
                       "service.shards is %d but this instance's index is unknown: pass "
                       "--shard I/%d, or set JOB_COMPLETION_INDEX",
                       shards, shards),
               -1;
    } else if (env) {
        pp_log_notice("JOB_COMPLETION_INDEX is set but service.shards is not: this instance "
                      "sends the whole configured load (set service.shards to the number of "
                      "completions to split it)");
    }
    return pp_config_apply_shard(c, index, shards, err, n);
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
    if (pp_config_apply_env(c, err, sizeof(err)) != 0)
        goto fail;
    if (o->has_count)
        c->emulation.count = o->count;
    if (o->has_duration)
        c->emulation.duration_s = o->duration;
    if (o->has_rate) {
        c->emulation.rate = o->rate;
        c->emulation.shape = PP_SHAPE_RATE;
    }
    if (o->has_delay) {
        c->emulation.delay_min_s = o->delay_min;
        c->emulation.delay_max_s = o->delay_max;
        c->emulation.shape = PP_SHAPE_DELAY;
    }
    if (o->has_stages) {
        memcpy(c->emulation.load.stage, o->load.stage, sizeof(o->load.stage));
        c->emulation.load.nstages = o->load.nstages;
        c->emulation.load.repeat = o->load.repeat;
        c->emulation.shape = PP_SHAPE_STAGES;
    }
    if (o->has_arrivals)
        c->emulation.load.arrivals = o->poisson ? PP_ARRIVALS_POISSON : PP_ARRIVALS_FIXED;
    if (o->has_warmup) {
        c->emulation.warmup_s = o->warmup_s;
        c->emulation.warmup_posts = o->warmup_posts;
    }
    if (o->dry_run && !o->has_rate && !o->has_delay && !o->has_stages &&
        c->emulation.shape != PP_SHAPE_STAGES && c->emulation.shape != PP_SHAPE_DIURNAL) {
        /* A dry run produces data, not a demo: unpaced unless pacing is asked for (a flag,
         * or a load shape in the file). */
        c->emulation.rate = 0;
        c->emulation.shape = PP_SHAPE_RATE;
    }
    if (o->has_seed) {
        c->emulation.has_seed = 1;
        c->emulation.seed = o->seed;
    }
    if (o->report) {
        free(c->service.report);
        c->service.report = pp_xstrdup(o->report);
    }
    if (apply_shard(c, o, err, sizeof(err)) || pp_config_validate(c, err, sizeof(err)) != 0 ||
        pp_config_check_outputs(c, err, sizeof(err)) != 0)
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
                return PP_EXIT_USAGE;
            }
            when = (time_t)t;
            break;
        }
        case 'h':
            printf("Usage: pinpostd msk-token [--region R] [--at 2015-08-30T12:36:00Z] [-c FILE]\n"
                   "Print an Amazon MSK IAM token (line 1) and its expiry in ms since the\n"
                   "epoch (line 2), signed with the AWS credential chain.\n");
            return 0;
        default: fprintf(stderr, "Try 'pinpostd msk-token --help'.\n"); return PP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pinpostd msk-token: unexpected argument '%s'\n", argv[optind]);
        return PP_EXIT_USAGE;
    }
    pp_config *c = pp_config_new_defaults();
    if (config && pp_config_load_file(c, config, err, sizeof(err)) != 0) {
        pp_log_err("configuration error: %s", err);
        pp_config_destroy(c);
        return PP_EXIT_CONFIG;
    }
    if (!region) {
        if (pp_msk_region(c, regbuf, sizeof(regbuf), err, sizeof(err)) != 0) {
            pp_log_err("%s (or pass --region)", err);
            pp_config_destroy(c);
            return PP_EXIT_USAGE;
        }
        region = regbuf;
    }
    pp_aws_chain *chain = pp_msk_chain_new(c);
    pp_aws_creds creds = {0};
    int status = 0;
    if (pp_aws_chain_get(chain, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
        pp_log_err("%s", err);
        status = PP_EXIT_RUNTIME;
    } else {
        pp_buf token = PP_SECRET_BUF;
        int64_t lifetime_ms;
        pp_msk_token(&creds, region, when, 900, &token, &lifetime_ms);
        printf("%s\n%lld\n", token.data, (long long)lifetime_ms);
        fprintf(stderr, "region %s, credentials from %s\n", region, source);
        pp_secret_buf_free(&token);
    }
    pp_aws_creds_clear(&creds);
    pp_aws_chain_destroy(chain);
    pp_config_destroy(c);
    return status;
}

/* pinpostd health [-c FILE] [--url URL] [--timeout S]: GET /healthz of the running daemon's
 * endpoint (service.metrics_listen of the file and the environment, a wildcard address asked
 * on loopback), for a container's HEALTHCHECK or a probe. Exit 0 on 200, 1 otherwise (the
 * reason on stderr), 64 on a usage error. */
static int health_command(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"url", required_argument, NULL, 'u'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config = NULL, *url_arg = NULL;
    double timeout_s = 5;
    char err[1024], url[512], q[48];
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:u:t:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'u': url_arg = optarg; break;
        case 't': {
            char *end;
            timeout_s = strtod(optarg, &end);
            if (end == optarg || *end || !(timeout_s >= 0.1 && timeout_s <= 3600)) {
                fprintf(stderr,
                        "pinpostd health: --timeout: '%s' is not a number of seconds from 0.1 "
                        "to 3600\n",
                        pp_quote_arg(optarg, 0, q, sizeof(q)));
                return PP_EXIT_USAGE;
            }
            break;
        }
        case 'h':
            printf("Usage: pinpostd health [-c FILE] [--url URL] [--timeout SECONDS]\n"
                   "Ask the running daemon's /healthz (service.metrics_listen of FILE, default\n"
                   "%s when it exists, and of PINPOSTD_METRICS_LISTEN; 0.0.0.0 and :: are\n"
                   "asked on loopback). Exit 0 when it answers 200, 1 otherwise.\n",
                   DEFAULT_CONFIG);
            return 0;
        default: fprintf(stderr, "Try 'pinpostd health --help'.\n"); return PP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pinpostd health: unexpected argument '%s'\n",
                pp_quote_arg(argv[optind], 0, q, sizeof(q)));
        return PP_EXIT_USAGE;
    }
    if (url_arg) {
        if ((size_t)snprintf(url, sizeof(url), "%s", url_arg) >= sizeof(url)) {
            fprintf(stderr, "pinpostd health: --url is too long\n");
            return PP_EXIT_USAGE;
        }
    } else {
        pp_config *c = pp_config_new_defaults();
        const char *path = config                              ? config
                           : access(DEFAULT_CONFIG, F_OK) == 0 ? DEFAULT_CONFIG
                                                               : NULL;
        int bad = (path && pp_config_load_file(c, path, err, sizeof(err)) != 0) ||
                  pp_config_apply_env(c, err, sizeof(err)) != 0;
        if (!bad && !c->service.metrics_listen) {
            snprintf(err, sizeof(err),
                     "the endpoint is off: service.metrics_listen is not set (in %s, or "
                     "PINPOSTD_METRICS_LISTEN); set it, or pass --url",
                     path ? path : "no configuration file");
            bad = 1;
        }
        if (!bad && pp_httpd_local_url(c->service.metrics_listen, "/healthz", url, sizeof(url), err,
                                       sizeof(err)) != 0)
            bad = 1;
        pp_config_destroy(c);
        if (bad) {
            pp_log_err("health: %s", err);
            return PP_EXIT_RUNTIME;
        }
    }
    pp_buf body = {0};
    long status = pp_aws_http_call(
        &(pp_aws_http_req){
            .method = "GET", .url = url, .timeout_ms = (long)(timeout_s * 1000), .direct = 1},
        &body, err, sizeof(err));
    /* The answer is one short line; anything else is cut, and escaped once: by the log, or
     * here for standard output. */
    size_t len = body.len;
    while (len && (body.data[len - 1] == '\n' || body.data[len - 1] == '\r'))
        len--;
    if (len > 200)
        len = 200;
    const char *text = body.data ? body.data : "";
    int rc = PP_EXIT_RUNTIME;
    if (status == 200) {
        char shown[256];
        pp_log_escape(text, len, shown, sizeof(shown));
        printf("%s: %s\n", url, shown);
        rc = 0;
    } else if (status < 0)
        pp_log_err("health: %s", err);
    else
        pp_log_err("health: %s answered %ld: %.*s", url, status, (int)len, text);
    pp_buf_free(&body);
    return rc;
}

/* Secrets (passwords, AWS keys) live in this process's memory: no core dumps of it, and
 * no ptrace by other processes of the same user. */
static void protect_secrets(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* A daemon that ends in failure says so last, as the journal's "fatal" event (an
 * operator's alert can match its MESSAGE_ID); --check prints its own verdict. Every exit
 * after the configuration was read goes through here, so the journal gets the last
 * entries with their unit (pp_log_close). */
static int exit_logged(const options *o, int status)
{
    if (status && !o->check)
        pp_log_with(&(pp_log_fields){.event = PP_EV_FATAL}, LOG_ERR, "exiting with status %d%s",
                    status,
                    status == PP_EXIT_CONFIG
                        ? ": a configuration error (above); restarting cannot help until it is "
                          "fixed"
                        : " (the reason is above)");
    pp_log_close();
    return status;
}

int main(int argc, char **argv)
{
    /* Before anything opens a file or socket, which would take a closed fd 0-2. */
    if (pp_file_guard_stdio() != 0)
        return PP_EXIT_RUNTIME;
    options o;
    int status = 0;

    protect_secrets();

    if (argc > 1 && !strcmp(argv[1], "msk-token")) {
        pp_log_init(0);
        return msk_token_command(argc - 1, argv + 1);
    }
    if (argc > 1 && !strcmp(argv[1], "health")) {
        pp_log_init(0);
        return health_command(argc - 1, argv + 1);
    }
    if (parse_args(argc, argv, &o, &status) != 0)
        return status;
    pp_log_init(o.verbosity);

    pp_config *c = build_config(&o);
    if (!c)
        return exit_logged(&o, PP_EXIT_CONFIG);
    /* The journal's PINPOSTD_INSTANCE: the name the daemon starts with (a reload that
     * renames the instance changes the reports, not this field). */
    pp_log_set_instance(c->service.instance);
    if (mysql_library_init(0, NULL, NULL)) {
        pp_log_err("cannot initialise the MySQL client library");
        pp_config_destroy(c);
        return exit_logged(&o, PP_EXIT_RUNTIME);
    }
    uint64_t seed = c->emulation.has_seed ? c->emulation.seed : pp_rng_os_seed();

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM); /* one handler at a time counts the stop signals */
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pp_source_mysql_set_stop(&stop_requested);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Over a file-size limit (ulimit -f) a write fails with EFBIG and the post, report
     * or metrics write counts as failed, rather than the signal killing us unreported. */
    sigaction(SIGXFSZ, &sa, NULL);

    if (o.check) {
        status = pp_check_run(c, o.demo, o.dry_run, stdout);
        pp_config_destroy(c);
    } else {
        pp_runner_opts ro = {.demo = o.demo,
                             .dry_run = o.dry_run,
                             .seed = seed,
                             .stop = &stop_requested,
                             .reload = &reload_requested,
                             .load_config = reload_config,
                             .opaque = &o};
        status = pp_runner_run(c, &ro); /* takes c */
    }
    /* --check's summary (and --dry-run's lines, checked by the sink) must reach a reader. */
    if (fflush(stdout) != 0 && !status) {
        pp_log_err("cannot write to standard output: %s", strerror(errno));
        status = PP_EXIT_RUNTIME;
    }
    mysql_library_end();
    return exit_logged(&o, status);
}
