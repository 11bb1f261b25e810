/* sink_dry: --dry-run; each message as a JSON line on stdout, delivered once written. */
#include "pp_json.h"
#include "pp_file.h"
#include "pp_sink.h"
#include "pp_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct dry_sink {
    pp_sink base;
    int fd; /* written with write(2): a post is delivered when the kernel has its bytes */
    char *topics[PP_NTABLES];
    char *instance;
    pp_stats *stats;
    pp_post_done_cb done;
    void *opaque;
    pp_buf line;
    int failed;      /* out became unwritable */
    char error[256]; /* why, once failed */
} dry_sink;

static int dry_prepare(pp_sink *s, int timeout_ms, char *e, size_t n)
{
    (void)s;
    (void)timeout_ms;
    (void)e;
    (void)n;
    return PP_SINK_READY;
}

static int dry_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    dry_sink *d = (dry_sink *)s;
    int64_t t0 = pp_now_us();
    char key[24], seqstr[24];
    snprintf(key, sizeof(key), "%" PRId64, p->key);
    snprintf(seqstr, sizeof(seqstr), "%" PRIu64, seq);

    pp_buf_reset(&d->line);
    for (int t = 0; t < PP_NTABLES; t++) {
        pp_json_obj_begin(&d->line);
        pp_json_key(&d->line, "topic");
        pp_json_cstring(&d->line, d->topics[t]);
        pp_json_key(&d->line, "key");
        pp_json_cstring(&d->line, key);
        pp_json_key(&d->line, "headers");
        pp_json_obj_begin(&d->line);
        pp_json_key(&d->line, PP_HEADER_INSTANCE);
        pp_json_cstring(&d->line, d->instance);
        pp_json_key(&d->line, PP_HEADER_SEQ);
        pp_json_cstring(&d->line, seqstr);
        pp_json_obj_end(&d->line);
        pp_json_key(&d->line, "value");
        pp_buf_append(&d->line, p->value[t].data, p->value[t].len);
        pp_json_obj_end(&d->line);
        pp_buf_append(&d->line, "\n", 1);
    }
    /* One write per post, no stdio buffer: a full disk, a closed pipe or a closed stdout
     * fails this post now rather than some later fflush that no post answers for. */
    int ok = !d->failed;
    if (ok && pp_file_write_fd(d->fd, d->line.data, d->line.len, d->error, sizeof(d->error)) != 0) {
        ok = 0;
        d->failed = 1;
    }
    int64_t lat = pp_now_us() - t0;
    for (int t = 0; t < PP_NTABLES; t++) {
        if (ok) {
            d->stats->topic[t].delivered++;
            d->stats->topic[t].bytes += p->value[t].len;
            /* Latency percentiles describe deliveries; failures are counted apart. */
            pp_hist_record(&d->stats->latency_us, (uint64_t)lat);
        } else {
            d->stats->topic[t].failed++;
        }
    }
    pp_post_result r = {.seq = seq,
                        .key = p->key,
                        .ok = ok,
                        .category = p->category,
                        .country = p->country,
                        .latency_us = lat,
                        .error = ok ? NULL : d->error};
    for (int t = 0; t < PP_NTABLES; t++) {
        r.partition[t] = -1;
        r.offset[t] = -1;
    }
    if (d->done)
        d->done(d->opaque, &r);
    if (!ok) {
        pp_errf(e, n, "dry run: %s", d->error);
        return -1;
    }
    return 0;
}

static void dry_poll(pp_sink *s, int timeout_ms)
{
    (void)s;
    pp_sleep_us((int64_t)timeout_ms * 1000);
}

static int dry_flush(pp_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return 0; /* nothing is buffered */
}

static void dry_abandon(pp_sink *s)
{
    (void)s;
}

static int dry_healthy(pp_sink *s)
{
    return !((dry_sink *)s)->failed;
}

static int dry_fatal(pp_sink *s, char *e, size_t n)
{
    dry_sink *d = (dry_sink *)s;
    if (d->failed)
        pp_errf(e, n, "dry run: %s", d->error);
    return d->failed;
}

static int dry_check(pp_sink *s, FILE *out, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    fprintf(out, "kafka: not used (--dry-run)\n");
    return 0;
}

static void dry_destroy(pp_sink *s)
{
    dry_sink *d = (dry_sink *)s;
    for (int t = 0; t < PP_NTABLES; t++)
        free(d->topics[t]);
    free(d->instance);
    pp_buf_free(&d->line);
    free(d);
}

static int dry_fits(pp_sink *s, const pp_post *p, char *e, size_t n)
{
    (void)s, (void)p, (void)e, (void)n;
    return 0;
}

static int dry_full(pp_sink *s)
{
    (void)s;
    return 0;
}

static const pp_sink_ops dry_ops = {
    .prepare = dry_prepare,
    .fits = dry_fits,
    .full = dry_full,
    .produce = dry_produce,
    .poll = dry_poll,
    .flush = dry_flush,
    .abandon = dry_abandon,
    .healthy = dry_healthy,
    .fatal = dry_fatal,
    .check = dry_check,
    .destroy = dry_destroy,
};

pp_sink *pp_sink_dry_new(FILE *out, const char *const topics[PP_NTABLES], const char *instance,
                         pp_stats *stats, pp_post_done_cb done, void *opaque)
{
    dry_sink *d = pp_xcalloc(1, sizeof(*d));
    d->base.ops = &dry_ops;
    /* Whatever stdio holds goes first, so the lines follow it in order. */
    fflush(out);
    d->fd = fileno(out);
    for (int t = 0; t < PP_NTABLES; t++)
        d->topics[t] = pp_xstrdup(topics[t]);
    d->instance = pp_xstrdup(instance);
    d->stats = stats;
    d->done = done;
    d->opaque = opaque;
    return &d->base;
}
