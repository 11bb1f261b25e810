/* check: the --check mode. */
#include "pp_exit.h"
#include "pp_check.h"
#include "pp_keyspace.h"
#include "pp_msk.h"
#include "pp_rng.h"
#include "pp_sink.h"
#include "pp_source.h"
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

/* Print what the sink found, one line per item ("kafka: topic T: 3 partition(s), ..."), and
 * return the exit status it calls for: 78 when credentials or TLS settings were refused, 1
 * when something is unreachable or missing, else 0. */
static int print_sink_check(const pp_check_list *l, FILE *out)
{
    int status = 0;
    for (size_t i = 0; i < l->n; i++) {
        const pp_check_item *it = &l->item[i];
        if (it->what[0])
            fprintf(out, "%s: %s %s: %s\n", it->sink, it->what, it->name, it->detail);
        else
            fprintf(out, "%s: %s\n", it->sink, it->detail);
        if (it->state == PP_CHECK_REJECTED)
            status = PP_EXIT_CONFIG;
        else if (it->state == PP_CHECK_FAILED && !status)
            status = PP_EXIT_RUNTIME;
    }
    return status;
}

int pp_check_run(const pp_config *c, int demo, int dry_run, FILE *out)
{
    char err[1024];
    int status = 0;
    pp_config_print(c, out);

    pp_source *src = pp_source_open(c, demo);
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

    pp_sink *sink = pp_sink_open(c, demo, dry_run, NULL, NULL, err, sizeof(err));
    if (!sink) {
        /* err names the setting; with both sinks on either may have refused */
        fprintf(out, "%s: FAILED: %s\n",
                c->kafka.enabled && c->kinesis.enabled ? "sinks"
                : c->kafka.enabled                     ? "kafka"
                                                       : "kinesis",
                err);
        fprintf(out, "check: FAILED\n");
        return PP_EXIT_CONFIG;
    }
    if (dry_run)
        fprintf(out, "kafka: not used (--dry-run)\n");
    pp_check_list items = {0};
    pp_sink_check(sink, 10000, &items);
    int sink_status = print_sink_check(&items, out);
    pp_check_list_free(&items);
    if (sink_status == PP_EXIT_CONFIG || (sink_status && !status))
        status = sink_status;
    pp_sink_destroy(sink);
    fprintf(out, "check: %s\n", status ? "FAILED" : "OK");
    return status;
}
