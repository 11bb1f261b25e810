/* pinpost-gen: writes the synthetic data set as SQL for MySQL/MariaDB. */
#include "pp_exit.h"
#include "pp_file.h"
#include "pp_gen.h"
#include "pp_util.h"
#include "pp_version.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_PER_INSERT 500

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: pinpost-gen [options] > data.sql\n"
            "Write the pinterest_data, geolocation_data and user_data tables as SQL.\n"
            "Deterministic: the same options give the same bytes. Memory does not grow with\n"
            "the number of posts.\n"
            "\n"
            "  -n, --posts N          keys 1..N (default 11000)\n"
            "  -s, --seed N           data seed (default 20200828, the demo's data)\n"
            "      --gaps FRACTION    fraction of keys absent from all tables (default 0)\n"
            "      --missing-geo F    fraction of posts without a geolocation row (default 0)\n"
            "      --missing-user F   fraction of posts without a user row (default 0)\n"
            "      --no-schema        rows only, no DROP/CREATE TABLE\n"
            "  -V, --version, -h, --help\n");
}

#define MAX_POSTS 2147483647 /* keys are INT columns */

int main(int argc, char **argv)
{
    /* A closed stdout becomes a write error instead of a success with nothing written. */
    if (pp_file_guard_stdio() != 0)
        return 1;
    signal(SIGXFSZ, SIG_IGN); /* over ulimit -f: EFBIG, reported, not a silent death */
    enum { OPT_GAPS = 1000, OPT_MGEO, OPT_MUSER, OPT_NOSCHEMA };
    static const struct option longopts[] = {{"posts", required_argument, NULL, 'n'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"gaps", required_argument, NULL, OPT_GAPS},
                                             {"missing-geo", required_argument, NULL, OPT_MGEO},
                                             {"missing-user", required_argument, NULL, OPT_MUSER},
                                             {"no-schema", no_argument, NULL, OPT_NOSCHEMA},
                                             {"version", no_argument, NULL, 'V'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    pp_gen_opts g = {.seed = 20200828, .posts = 11000};
    int schema = 1, ch, li;
    char name[32];
    const char *why = NULL;
    double *frac = NULL;

    while (li = -1, (ch = getopt_long(argc, argv, "n:s:Vh", longopts, &li)) != -1) {
        pp_opt_name(longopts, li, ch, name, sizeof(name));
        switch (ch) {
        case 'n':
            if (pp_parse_uint64(optarg, &g.posts) || g.posts > MAX_POSTS) {
                why = "a whole number from 0 to 2147483647 (keys are INT columns)";
                goto bad;
            }
            break;
        case 's':
            if (pp_parse_uint64(optarg, &g.seed)) {
                why = "a whole number from 0 to 18446744073709551615";
                goto bad;
            }
            break;
        case OPT_GAPS:
        case OPT_MGEO:
        case OPT_MUSER:
            frac =
                ch == OPT_GAPS ? &g.gap_frac : &g.missing_frac[ch == OPT_MGEO ? PP_GEO : PP_USER];
            if (pp_parse_double(optarg, frac) || *frac < 0 || *frac > 1) {
                why = "a fraction from 0 to 1";
                goto bad;
            }
            break;
        case OPT_NOSCHEMA: schema = 0; break;
        case 'V': printf("pinpost-gen %s\n", PP_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: goto usage_error; /* getopt has named the option */
        }
    }
    if (optind < argc)
        goto usage_error;

    static const char *const names[PP_NTABLES] = {"pinterest_data", "geolocation_data",
                                                  "user_data"};
    pp_buf b = {0};
    printf("SET NAMES utf8mb4;\n");
    for (int t = 0; t < PP_NTABLES; t++) {
        if (schema)
            printf("DROP TABLE IF EXISTS %s;\n%s;\n", names[t], pp_gen_schema(t));
        size_t rows = 0;
        for (int64_t key = 1; key <= (int64_t)g.posts; key++) {
            if (!pp_gen_has(&g, t, key))
                continue;
            if (rows % ROWS_PER_INSERT == 0) {
                if (rows)
                    pp_buf_puts(&b, ";\n");
                pp_buf_printf(&b, "INSERT INTO %s VALUES\n", names[t]);
            } else {
                pp_buf_puts(&b, ",\n");
            }
            pp_gen_row_sql(&g, t, key, &b);
            rows++;
            if (b.len > 1 << 16) {
                fwrite(b.data, 1, b.len, stdout);
                pp_buf_reset(&b);
            }
        }
        if (rows)
            pp_buf_puts(&b, ";\n");
        fwrite(b.data ? b.data : "", 1, b.len, stdout);
        pp_buf_reset(&b);
    }
    pp_buf_free(&b);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "pinpost-gen: write error\n");
        return 1;
    }
    return 0;
bad : {
    char q[64];
    fprintf(stderr, "pinpost-gen: %s: '%s' is not %s\n", name,
            pp_quote_arg(optarg, 0, q, sizeof(q)), why);
}
usage_error:
    usage(stderr);
    return PP_EXIT_USAGE;
}
