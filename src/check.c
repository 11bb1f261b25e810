/* check: the --check mode. */
#define _POSIX_C_SOURCE 200809L
#include "pp_check.h"
#include "pp_keyspace.h"
#include "pp_msk.h"
#include "pp_runner.h"
#include "pp_sampler.h"
#include "pp_sink.h"
#include "pp_source.h"
#include "pp_stats.h"
#include "pp_util.h"

#include <stdlib.h>

#define EXIT_RUNTIME 1
#define EXIT_CONFIG 78
/* Keys --check samples to say how many posts are whole (about 1% resolution). */
#define CHECK_SAMPLE_KEYS 200
#define CHECK_SEED 1

/* Sample CHECK_SAMPLE_KEYS keys as a run would and say which share has all three rows.
 * Returns 0, or the exit status when there is nothing a run could send. */
static int check_matches(const pp_config *c, pp_source *src, FILE *out)
{
    char err[1024];
    int status = 0;
    /* One key per round trip, so the counts are exact when the loop ends. */
    pp_sampler *s = pp_sampler_new(src, CHECK_SEED, 1, 1e6);
    pp_sampler_stats st = {0};
    uint64_t whole = 0;
    int rc = PP_SRC_OK;
    while (st.fetched < CHECK_SAMPLE_KEYS) {
        const pp_post *p;
        rc = pp_sampler_next(s, &p, err, sizeof(err));
        if (rc == PP_SRC_OK)
            whole++;
        else if (rc != PP_SAMPLER_UNMATCHED)
            break;
        pp_sampler_get_stats(s, &st);
    }
    if (rc == PP_SAMPLER_EMPTY) {
        fprintf(out, "source: FAILED: the post table %s holds no row with a key in %s: there "
                     "is nothing to sample\n",
                c->source.tables[PP_PIN].table, c->source.tables[PP_PIN].key);
        status = EXIT_CONFIG;
    } else if (rc == PP_SRC_RETRY || rc == PP_SRC_FATAL) {
        fprintf(out, "source: FAILED: sampling: %s\n", err);
        status = rc == PP_SRC_FATAL ? EXIT_CONFIG : EXIT_RUNTIME;
    } else {
        fprintf(out, "source: %llu of %llu sampled keys (%.1f%%) have all three rows",
                (unsigned long long)whole, (unsigned long long)st.fetched,
                100.0 * (double)whole / (double)st.fetched);
        for (int t = 0; t < PP_NTABLES; t++)
            if (st.missing[t])
                fprintf(out, "; %s lacks %.1f%%", c->source.tables[t].table,
                        100.0 * (double)st.missing[t] / (double)st.fetched);
        fputc('\n', out);
        if (!whole) {
            fprintf(out, "source: FAILED: no sampled post has its rows in all three tables: "
                         "check source.tables (table and key column names) and that the "
                         "tables hold the same posts\n");
            status = EXIT_CONFIG;
        }
    }
    pp_sampler_destroy(s);
    return status;
}

int pp_check_run(const pp_config *c, int demo, int dry_run, FILE *out)
{
    char *topics[PP_NTABLES];
    char err[1024];
    int status = 0;
    pp_stats stats;
    pp_config_print(c, out);

    pp_source *src = pp_runner_source_new(c, demo);
    pp_keyspace *ks = pp_keyspace_new();
    int rc = pp_source_connect(src, err, sizeof(err));
    if (rc == PP_SRC_OK)
        rc = pp_source_load_keys(src, ks, err, sizeof(err));
    if (rc == PP_SRC_OK) {
        char desc[512];
        pp_source_describe(src, desc, sizeof(desc));
        fprintf(out, "source: %s reachable, %llu post keys in %llu run(s)\n", desc,
               (unsigned long long)pp_keyspace_count(ks), (unsigned long long)pp_keyspace_runs(ks));
        status = check_matches(c, src, out);
    } else {
        fprintf(out, "source: FAILED: %s\n", err);
        status = rc == PP_SRC_FATAL ? EXIT_CONFIG : EXIT_RUNTIME;
    }
    pp_keyspace_destroy(ks);
    pp_source_destroy(src);

    if (c->msk.enabled && !demo && !dry_run) {
        char region[64], source[160];
        pp_aws_creds creds = {0};
        if (pp_msk_region(c, region, sizeof(region), err, sizeof(err)) != 0) {
            fprintf(out, "msk iam: FAILED: %s\n", err);
            status = EXIT_CONFIG;
        } else {
            pp_aws_chain *chain = pp_msk_chain_new(c);
            if (pp_aws_chain_get(chain, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
                fprintf(out, "msk iam: FAILED: region %s: %s\n", region, err);
                if (!status)
                    status = EXIT_RUNTIME;
            } else {
                fprintf(out, "msk iam: region %s, credentials from %s%s\n", region, source,
                       creds.expiration ? " (temporary)" : "");
            }
            pp_aws_creds_clear(&creds);
            pp_aws_chain_destroy(chain);
        }
    }

    pp_stats_init(&stats, pp_now_us());
    for (int t = 0; t < PP_NTABLES; t++)
        topics[t] = pp_config_topic(c, t);
    const char *tp[PP_NTABLES] = {topics[0], topics[1], topics[2]};
    pp_sink *sink = pp_sink_open(c, tp, demo, dry_run, &stats, NULL, NULL, err, sizeof(err));
    for (int t = 0; t < PP_NTABLES; t++)
        free(topics[t]);
    if (!sink) {
        fprintf(out, "%s: FAILED: %s\n", c->kafka.enabled ? "kafka" : "kinesis", err);
        fprintf(out, "check: FAILED\n");
        return EXIT_CONFIG;
    }
    int krc = pp_sink_check(sink, out, 10000);
    if (krc == -2)
        status = EXIT_CONFIG;
    else if (krc != 0 && !status)
        status = EXIT_RUNTIME;
    pp_sink_destroy(sink);
    fprintf(out, "check: %s\n", status ? "FAILED" : "OK");
    return status;
}
