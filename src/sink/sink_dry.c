/* sink_dry: --dry-run; each message as a JSON line on a descriptor, delivered once written. */
#include "pp_inflight.h"
#include "pp_json.h"
#include "pp_file.h"
#include "pp_sink.h"
#include "pp_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct dry_sink {
    pp_sink base; /* dest: the Kafka topics the messages would go to */
    int fd;       /* written with write(2): a post is delivered when the kernel has its bytes */
    char *instance;
    pp_buf line;
    char error[256]; /* why fd became unwritable (the sink is then fatal) */
} dry_sink;

/* Every post is settled here: delivered or failed before this returns. */
static pp_sink_put dry_produce(pp_sink *s, const pp_post *p, uint64_t seq, char *e, size_t n)
{
    dry_sink *d = (dry_sink *)s;
    pp_inflight r;
    char key[24], seqstr[24];
    pp_inflight_start(&r, p, seq);
    snprintf(key, sizeof(key), "%" PRId64, p->key);
    snprintf(seqstr, sizeof(seqstr), "%" PRIu64, seq);

    pp_buf_reset(&d->line);
    for (int t = 0; t < PP_NTABLES; t++) {
        pp_json_obj_begin(&d->line);
        pp_json_key(&d->line, "topic");
        pp_json_cstring(&d->line, d->base.dest[t]);
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
    if (!d->base.fatal &&
        pp_file_write_fd(d->fd, d->line.data, d->line.len, d->error, sizeof(d->error)) != 0)
        pp_sink_set_fatal(&d->base, "dry run: %s", d->error);
    pp_outcome o = d->base.fatal ? PP_FAILED : PP_DELIVERED;
    for (int t = 0; t < PP_NTABLES; t++) {
        pp_inflight_message(&r, t, o, -1, -1, d->error);
        pp_inflight_count(&d->base, &r, t, o);
    }
    pp_inflight_done(&d->base, &r, o, "the output");
    if (d->base.fatal) {
        pp_errf(e, n, "%s", d->base.fatal_reason);
        return PP_SINK_FAILED;
    }
    return PP_SINK_QUEUED;
}

static int dry_healthy(pp_sink *s)
{
    return !s->fatal;
}

static void dry_destroy(pp_sink *s)
{
    dry_sink *d = (dry_sink *)s;
    pp_sink_base_release(&d->base);
    free(d->instance);
    pp_buf_free(&d->line);
    free(d);
}

/* Nothing to prepare, check, queue, poll or flush, and fatal is the common flag: those
 * slots keep their defaults. */
static const pp_sink_ops dry_ops = {
    .produce = dry_produce,
    .healthy = dry_healthy,
    .destroy = dry_destroy,
};

pp_sink *pp_sink_dry_new(const pp_config *c, int fd, pp_post_done_cb done, void *opaque)
{
    dry_sink *d = pp_xcalloc(1, sizeof(*d));
    pp_sink_base_init(&d->base, &dry_ops, "dry-run", c, pp_config_topic, done, opaque);
    d->fd = fd;
    d->instance = pp_xstrdup(c->service.instance);
    return &d->base;
}
