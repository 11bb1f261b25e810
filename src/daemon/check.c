/* check: the --check mode. */
#include "pp_exit.h"
#include "pp_check.h"
#include "pp_keyspace.h"
#include "pp_msk.h"
#include "pp_runner.h"
#include "pp_rng.h"
#include "pp_sink.h"
#include "pp_source.h"
#include "pp_stats.h"
#include "pp_util.h"

#include <stdlib.h>

/* Keys --check samples to say how many posts are whole (about 1% resolution). */
#define CHECK_SAMPLE_KEYS 200
#define CHECK_SEED 1

/* Draw CHECK_SAMPLE_KEYS keys from ks as a run would (uniformly, one batch) and say which
 * share has all three rows. Returns 0, or the exit status when a run could send nothing. */
static int check_matches(const pp_config *c, pp_source *src, const pp_keyspace *ks, FILE *out)
{
    char err[1024];
    uint64_t count = pp_keyspace_count(ks);
    if (!count) {
        fprintf(out,
                "source: FAILED: the post table %s holds no row with a key in %s: there "
                "is nothing to sample\n",
                c->source.tables[PP_PIN].table, c->source.tables[PP_PIN].key);
        return PP_EXIT_CONFIG;
    }
    int64_t keys[CHECK_SAMPLE_KEYS];
    pp_post *posts = pp_xcalloc(CHECK_SAMPLE_KEYS, sizeof(pp_post));
    pp_rng rng;
    pp_rng_seed(&rng, CHECK_SEED, 1);
    for (size_t i = 0; i < CHECK_SAMPLE_KEYS; i++)
        keys[i] = pp_keyspace_at(ks, pp_rng_below(&rng, count));
    int status = 0;
    int rc = pp_source_fetch(src, keys, CHECK_SAMPLE_KEYS, posts, err, sizeof(err));
    if (rc != PP_SRC_OK) {
        fprintf(out, "source: FAILED: sampling: %s\n", err);
        status = rc == PP_SRC_FATAL ? PP_EXIT_CONFIG : PP_EXIT_RUNTIME;
        goto out;
    }
    uint64_t whole = 0, missing[PP_NTABLES] = {0};
    for (size_t i = 0; i < CHECK_SAMPLE_KEYS; i++) {
        whole += posts[i].found == PP_POST_COMPLETE;
        for (int t = 0; t < PP_NTABLES; t++)
            missing[t] += !(posts[i].found & (1u << t));
    }
    fprintf(out, "source: %llu of %d sampled keys (%.1f%%) have all three rows",
            (unsigned long long)whole, CHECK_SAMPLE_KEYS,
            100.0 * (double)whole / CHECK_SAMPLE_KEYS);
    for (int t = 0; t < PP_NTABLES; t++)
        if (missing[t])
            fprintf(out, "; %s lacks %.1f%%", c->source.tables[t].table,
                    100.0 * (double)missing[t] / CHECK_SAMPLE_KEYS);
    fputc('\n', out);
    if (!whole) {
        fprintf(out, "source: FAILED: no sampled post has its rows in all three tables: "
                     "check source.tables (table and key column names) and that the tables "
                     "hold the same posts\n");
        status = PP_EXIT_CONFIG;
    }
out:
    for (size_t i = 0; i < CHECK_SAMPLE_KEYS; i++)
        pp_post_release(&posts[i]);
    free(posts);
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
                (unsigned long long)pp_keyspace_count(ks),
                (unsigned long long)pp_keyspace_runs(ks));
        status = check_matches(c, src, ks, out);
    } else {
        fprintf(out, "source: FAILED: %s\n", err);
        status = rc == PP_SRC_FATAL ? PP_EXIT_CONFIG : PP_EXIT_RUNTIME;
    }
    pp_keyspace_destroy(ks);
    pp_source_destroy(src);

    if (c->msk.enabled && !demo && !dry_run) {
        char region[64], source[160];
        pp_aws_creds creds = {0};
        if (pp_msk_region(c, region, sizeof(region), err, sizeof(err)) != 0) {
            fprintf(out, "msk iam: FAILED: %s\n", err);
            status = PP_EXIT_CONFIG;
        } else {
            pp_aws_chain *chain = pp_msk_chain_new(c);
            if (pp_aws_chain_get(chain, &creds, source, sizeof(source), err, sizeof(err)) != 0) {
                fprintf(out, "msk iam: FAILED: region %s: %s\n", region, err);
                if (!status)
                    status = PP_EXIT_RUNTIME;
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
        return PP_EXIT_CONFIG;
    }
    int krc = pp_sink_check(sink, out, 10000);
    if (krc == -2)
        status = PP_EXIT_CONFIG;
    else if (krc != 0 && !status)
        status = PP_EXIT_RUNTIME;
    pp_sink_destroy(sink);
    fprintf(out, "check: %s\n", status ? "FAILED" : "OK");
    return status;
}
