/* pp_cli: pinpostd's command line, parsed without printing or exiting (so that it can be
 * fuzzed): argv in, options and a status with a message out. Numeric flags go through
 * pp_config_parse_number, with the same limits as the file's keys. */
#ifndef PP_CLI_H
#define PP_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pp_load.h"

#define PP_CLI_DEFAULT_CONFIG "/etc/pinpostd/pinpostd.yaml"

/* Command-line settings; "has_" fields say whether a flag was given. Strings point into
 * argv. */
typedef struct pp_cli_opts {
    const char *config;
    int check, dry_run, demo, verbosity;
    int has_count, has_duration, has_rate, has_delay, has_seed;
    uint64_t count, seed;
    double duration, rate, delay_min, delay_max;
    const char *report;
    int has_stages, has_arrivals, has_shard, has_warmup;
    pp_load load; /* --stages (its stages and repeat) */
    int poisson;  /* --arrivals poisson */
    int shard_index, shards;
    double warmup_s;
    uint64_t warmup_posts;
} pp_cli_opts;

enum pp_cli_status {
    PP_CLI_RUN,     /* options parsed: run */
    PP_CLI_HELP,    /* --help: print pp_cli_usage to stdout, exit 0 */
    PP_CLI_VERSION, /* --version */
    PP_CLI_USAGE    /* a usage error (exit 64): msg names the option and the reason */
};

/* Parse argv[1..argc) into o. On PP_CLI_USAGE, msg holds one line without the program
 * name, such as "--duration: '1e300' is not a number from 0.001 to 1e+12 seconds, or 0 (no
 * limit)". Uses getopt_long (which may permute argv) and resets its state first. */
enum pp_cli_status pp_cli_parse(int argc, char **argv, pp_cli_opts *o, char *msg, size_t msg_size);

/* The --help text. */
void pp_cli_usage(FILE *out);

#endif
