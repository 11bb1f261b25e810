/* cli: pinpostd's command line, parsed into options and a message, never printed here. */
#include "pp_cli.h"
#include "pp_config.h"
#include "pp_util.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

enum {
    OPT_DURATION = 1000,
    OPT_DELAY,
    OPT_SEED,
    OPT_DRY_RUN,
    OPT_DEMO,
    OPT_REPORT,
    OPT_STAGES,
    OPT_ARRIVALS,
    OPT_SHARD,
    OPT_WARMUP
};

static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 't'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"duration", required_argument, NULL, OPT_DURATION},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"delay", required_argument, NULL, OPT_DELAY},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"stages", required_argument, NULL, OPT_STAGES},
                                         {"arrivals", required_argument, NULL, OPT_ARRIVALS},
                                         {"shard", required_argument, NULL, OPT_SHARD},
                                         {"warmup", required_argument, NULL, OPT_WARMUP},
                                         {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                                         {"demo", no_argument, NULL, OPT_DEMO},
                                         {"report", required_argument, NULL, OPT_REPORT},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};

void pp_cli_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: pinpostd [-c FILE] [options]\n"
        "Emulate Pinterest users posting: sample matching post, geolocation and user rows\n"
        "from MySQL and produce them to three Kafka topics and/or Kinesis streams.\n"
        "\n"
        "  -c, --config FILE      configuration file (default " PP_CLI_DEFAULT_CONFIG ")\n"
        "  -t, --check            validate the config, connect to MySQL and the sinks, print a\n"
        "                         redacted summary, exit\n"
        "  -n, --count N          stop after N posts (0 = run forever; at most 10^18)\n"
        "      --duration SECS    stop after this long (0.001 to 10^12; 0 = no limit)\n"
        "  -r, --rate R           R posts per second (0.001 to 10^9; 0 = as fast as possible)\n"
        "      --delay MIN:MAX    random delay between posts, seconds (default 0:2; at most\n"
        "                         86400)\n"
        "      --stages LIST      stages of load, for example\n"
        "                         \"100/s:30s,ramp 100-5000/s:5m,5000/s:10m\" (also pause:DUR,\n"
        "                         delay MIN-MAX:DUR, diurnal:DUR, a final repeat)\n"
        "      --arrivals KIND    fixed (even gaps) or poisson (exponential gaps)\n"
        "      --warmup W         keep the first W (30s, or 1000 posts) out of the statistics\n"
        "      --shard I/N        instance I of N started with one config: instance name\n"
        "                         <instance>-I, a seed of its own, 1/N of the rates and count\n"
        "      --seed N           deterministic sampling: same seed, same posts (0 to 2^64-1)\n"
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
        "pinpostd health [-c FILE] [--url URL] [--timeout SECS]\n"
        "                         ask the running daemon's /healthz (service.metrics_listen):\n"
        "                         exit 0 healthy, 1 not (the reason on stderr)\n"
        "\n"
        "Environment: PINPOSTD_BOOTSTRAP_SERVERS, PINPOSTD_DB_HOST, _DB_PORT, _DB_USER,\n"
        "_DB_DATABASE, _DB_PASSWORD_FILE, PINPOSTD_TOPIC_PREFIX, _INSTANCE, _SHARDS,\n"
        "_METRICS_LISTEN, _METRICS_FILE, _REPORT override the file's keys (pinpostd(8)).\n"
        "\n"
        "Exit status: 0 all posts delivered, 1 posts failed or runtime error, 64 usage,\n"
        "78 configuration error. See pinpostd(8).\n");
}

static enum pp_cli_status usage_error(char *msg, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pp_cli_status usage_error(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (msg && n)
        vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return PP_CLI_USAGE;
}

/* "-n/--count", or "--duration" for options without a short form. */
static const char *option_name(int val, char *buf, size_t n)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == val) {
            if (val < 256)
                snprintf(buf, n, "-%c/--%s", val, o->name);
            else
                snprintf(buf, n, "--%s", o->name);
            return buf;
        }
    return NULL;
}

/* Parse a numeric flag's value with the limits of its key in the file. */
static int number(const char *key, const char *name, const char *arg, pp_number *v, char *msg,
                  size_t n)
{
    char why[256];
    if (pp_config_parse_number(key, arg, v, why, sizeof(why)) == 0)
        return 0;
    usage_error(msg, n, "%s: %s", name, why);
    return -1;
}

enum pp_cli_status pp_cli_parse(int argc, char **argv, pp_cli_opts *o, char *msg, size_t msg_size)
{
    int ch, li;
    char name[32], q[48];
    pp_number v;

    memset(o, 0, sizeof(*o));
    if (msg && msg_size)
        msg[0] = '\0';
    optind = 0; /* glibc: start afresh, for a second call in one process */
    opterr = 0;
    while (li = -1, (ch = getopt_long(argc, argv, ":c:tn:r:vqVh", longopts, &li)) != -1) {
        pp_opt_name(longopts, li, ch, name, sizeof(name));
        switch (ch) {
        case 'c':
            if (!*optarg)
                return usage_error(msg, msg_size, "%s: the file name is empty", name);
            o->config = optarg;
            break;
        case 't': o->check = 1; break;
        case 'n':
            if (number("emulation.count", name, optarg, &v, msg, msg_size))
                return PP_CLI_USAGE;
            o->count = v.u;
            o->has_count = 1;
            break;
        case OPT_DURATION:
            if (number("emulation.duration", name, optarg, &v, msg, msg_size))
                return PP_CLI_USAGE;
            o->duration = v.d;
            o->has_duration = 1;
            break;
        case 'r':
            if (number("emulation.rate", name, optarg, &v, msg, msg_size))
                return PP_CLI_USAGE;
            o->rate = v.d;
            o->has_rate = 1;
            break;
        case OPT_DELAY:
            if (number("emulation.delay", name, optarg, &v, msg, msg_size))
                return PP_CLI_USAGE;
            o->delay_min = v.d;
            o->delay_max = v.d2;
            o->has_delay = 1;
            break;
        case OPT_SEED:
            if (number("emulation.seed", name, optarg, &v, msg, msg_size))
                return PP_CLI_USAGE;
            o->seed = v.u;
            o->has_seed = 1;
            break;
        case OPT_STAGES: {
            char why[512];
            o->load.nstages = 0;
            o->load.repeat = 0;
            if (pp_load_parse_stages(optarg, &o->load, why, sizeof(why)))
                return usage_error(msg, msg_size, "%s: %s", name, why);
            if (!o->load.nstages)
                return usage_error(msg, msg_size,
                                   "%s: no stage given; write for example "
                                   "\"100/s:30s,ramp 100-5000/s:5m\"",
                                   name);
            o->has_stages = 1;
            break;
        }
        case OPT_ARRIVALS: {
            char why[128];
            pp_arrivals a;
            if (pp_load_parse_arrivals(optarg, &a, why, sizeof(why)))
                return usage_error(msg, msg_size, "%s: %s", name, why);
            o->poisson = a == PP_ARRIVALS_POISSON;
            o->has_arrivals = 1;
            break;
        }
        case OPT_SHARD: {
            char why[256];
            if (pp_config_parse_shard(optarg, &o->shard_index, &o->shards, why, sizeof(why)))
                return usage_error(msg, msg_size, "%s: %s", name, why);
            o->has_shard = 1;
            break;
        }
        case OPT_WARMUP: {
            char why[512];
            if (pp_config_parse_warmup(optarg, &o->warmup_s, &o->warmup_posts, why, sizeof(why)))
                return usage_error(msg, msg_size, "%s: %s", name, why);
            o->has_warmup = 1;
            break;
        }
        case OPT_DRY_RUN: o->dry_run = 1; break;
        case OPT_DEMO: o->demo = 1; break;
        case OPT_REPORT:
            if (!*optarg)
                return usage_error(msg, msg_size, "%s: the file name is empty (\"-\" is stdout)",
                                   name);
            o->report = optarg;
            break;
        case 'v': o->verbosity++; break;
        case 'q': o->verbosity--; break;
        case 'V': return PP_CLI_VERSION;
        case 'h': return PP_CLI_HELP;
        case ':':
            /* glibc does not say whether the short or the long form was typed. */
            return usage_error(msg, msg_size, "option %s needs a value",
                               option_name(optopt, name, sizeof(name)) ? name : "?");
        default:
            if (optopt && option_name(optopt, name, sizeof(name)))
                return usage_error(msg, msg_size, "option %s takes no value", name);
            if (optopt)
                return usage_error(msg, msg_size, "unknown option -%c",
                                   optopt > 0x20 && optopt < 0x7f ? optopt : '?');
            /* An unknown or ambiguous long option: glibc has moved optind past it. */
            return usage_error(msg, msg_size, "unknown or ambiguous option %s",
                               pp_quote_arg(argv[optind - 1], 1, q, sizeof(q)));
        }
    }
    if (optind < argc)
        return usage_error(msg, msg_size, "unexpected argument '%s'",
                           pp_quote_arg(argv[optind], 0, q, sizeof(q)));
    if (o->has_rate + o->has_delay + o->has_stages > 1) {
        const char *given[3];
        int k = 0;
        if (o->has_rate)
            given[k++] = "--rate";
        if (o->has_delay)
            given[k++] = "--delay";
        if (o->has_stages)
            given[k++] = "--stages";
        return usage_error(msg, msg_size, "%s%s%s and %s exclude each other", given[0],
                           k == 3 ? ", " : "", k == 3 ? given[1] : "", given[k - 1]);
    }
    return PP_CLI_RUN;
}
