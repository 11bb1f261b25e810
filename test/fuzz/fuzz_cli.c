/* fuzz_cli: pinpostd's command line on arbitrary argument vectors. The input is split at
 * NUL bytes into argv[1..]; whatever the parse accepts must lie inside the limits of the
 * key table, and whatever it refuses must come with a message. */
#include "fuzz.h"
#include "pp_cli.h"
#include "pp_config.h"
#include "pp_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

/* A value the command line accepted must be one the file's key accepts too (%.17g gives
 * the same double back). */
static void check_same_limits(const char *key, const char *text)
{
    char err[256];
    pp_number v;
    if (pp_config_parse_number(key, text, &v, err, sizeof(err)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        pp_log_init(-7);
        init = 1;
    }
    char *copy = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char prog[] = "pinpostd";
    argv[argc++] = prog;
    for (size_t start = 0; start <= size && argc <= MAX_ARGS;) {
        argv[argc++] = copy + start;
        start += strlen(copy + start) + 1;
    }
    argv[argc] = NULL;

    pp_cli_opts o;
    char msg[512];
    enum pp_cli_status st = pp_cli_parse(argc, argv, &o, msg, sizeof(msg));
    if (st == PP_CLI_USAGE && !msg[0])
        abort();
    if (st == PP_CLI_RUN) {
        char text[80];
        if (o.has_rate) {
            snprintf(text, sizeof(text), "%.17g", o.rate);
            check_same_limits("emulation.rate", text);
        }
        if (o.has_duration) {
            snprintf(text, sizeof(text), "%.17g", o.duration);
            check_same_limits("emulation.duration", text);
        }
        if (o.has_delay) {
            snprintf(text, sizeof(text), "%.17g:%.17g", o.delay_min, o.delay_max);
            check_same_limits("emulation.delay", text);
        }
        if (o.has_count) {
            snprintf(text, sizeof(text), "%llu", (unsigned long long)o.count);
            check_same_limits("emulation.count", text);
        }
        if (o.has_rate && o.has_delay)
            abort();
        if ((o.config && !*o.config) || (o.report && !*o.report))
            abort();
    }
    free(copy);
    return 0;
}
