/* tally: per-instance ledger of posts seen by the verifier. */
#include "pp_tally.h"
#include "pp_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    int64_t key;
    int32_t partition;
    uint8_t count[PP_NTABLES]; /* saturating */
    uint8_t flags;
} slot;

#define F_KEY_MISMATCH 1
#define F_PARTITION_MISMATCH 2

typedef struct instance {
    char *name;
    slot *slots; /* indexed by seq */
    uint64_t cap;
    uint64_t max_seq;
    uint64_t duplicates;
    uint64_t messages;
} instance;

struct pp_tally {
    instance *inst;
    size_t n;
    uint64_t other;
};

pp_tally *pp_tally_new(void)
{
    return pp_xcalloc(1, sizeof(pp_tally));
}

void pp_tally_destroy(pp_tally *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->inst[i].name);
        free(t->inst[i].slots);
    }
    free(t->inst);
    free(t);
}

static instance *find(const pp_tally *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->inst[i].name, name))
            return &t->inst[i];
    return NULL;
}

void pp_tally_add(pp_tally *t, const char *name, uint64_t seq, enum pp_table table, int64_t key,
                  int32_t partition)
{
    instance *in = find(t, name);
    if (!in) {
        t->inst = pp_xrealloc(t->inst, (t->n + 1) * sizeof(instance));
        in = &t->inst[t->n++];
        memset(in, 0, sizeof(*in));
        in->name = pp_xstrdup(name);
    }
    if (seq >= in->cap) {
        uint64_t cap = in->cap ? in->cap : 1024;
        while (cap <= seq)
            cap *= 2;
        in->slots = pp_xrealloc(in->slots, cap * sizeof(slot));
        memset(in->slots + in->cap, 0, (cap - in->cap) * sizeof(slot));
        in->cap = cap;
    }
    slot *s = &in->slots[seq];
    int first = !s->count[0] && !s->count[1] && !s->count[2];
    if (first) {
        s->key = key;
        s->partition = partition;
    } else {
        if (s->key != key)
            s->flags |= F_KEY_MISMATCH;
        if (s->partition != partition)
            s->flags |= F_PARTITION_MISMATCH;
    }
    if (s->count[table])
        in->duplicates++;
    if (s->count[table] < 255)
        s->count[table]++;
    if (seq > in->max_seq)
        in->max_seq = seq;
    in->messages++;
}

void pp_tally_add_other(pp_tally *t)
{
    t->other++;
}

static void summarise_one(const instance *in, uint64_t expected, pp_tally_result *r)
{
    uint64_t last = expected ? expected : in->max_seq;
    if (in->max_seq > last)
        last = in->max_seq; /* extra posts beyond the expected count still count */
    r->messages += in->messages;
    r->duplicates += in->duplicates;
    if (in->max_seq > r->max_seq)
        r->max_seq = in->max_seq;
    for (uint64_t seq = 1; seq <= last; seq++) {
        const slot *s = seq < in->cap ? &in->slots[seq] : NULL;
        int present = s ? (s->count[0] > 0) + (s->count[1] > 0) + (s->count[2] > 0) : 0;
        if (present == PP_NTABLES)
            r->posts_complete++;
        else if (present)
            r->posts_partial++;
        else
            r->posts_missing++;
        if (s && (s->flags & F_KEY_MISMATCH))
            r->key_mismatch++;
        if (s && (s->flags & F_PARTITION_MISMATCH))
            r->partition_mismatch++;
    }
}

void pp_tally_summarise(const pp_tally *t, const char *name, uint64_t expected,
                        pp_tally_result *out)
{
    memset(out, 0, sizeof(*out));
    out->other = t->other;
    for (size_t i = 0; i < t->n; i++) {
        if (name && strcmp(t->inst[i].name, name) != 0) {
            out->other += t->inst[i].messages;
            continue;
        }
        summarise_one(&t->inst[i], expected, out);
    }
    if (name && !find(t, name))
        out->posts_missing = expected;
}

void pp_tally_print_problems(const pp_tally *t, const char *name, uint64_t expected, FILE *out,
                             int max)
{
    int shown = 0;
    for (size_t i = 0; i < t->n && shown < max; i++) {
        const instance *in = &t->inst[i];
        if (name && strcmp(in->name, name) != 0)
            continue;
        uint64_t last = expected > in->max_seq ? expected : in->max_seq;
        for (uint64_t seq = 1; seq <= last && shown < max; seq++) {
            const slot *s = seq < in->cap ? &in->slots[seq] : NULL;
            int present = s ? (s->count[0] > 0) + (s->count[1] > 0) + (s->count[2] > 0) : 0;
            int dup = s && (s->count[0] > 1 || s->count[1] > 1 || s->count[2] > 1);
            if (present == PP_NTABLES && !dup && !(s && s->flags))
                continue;
            if (!present)
                fprintf(out, "  %s seq %llu: missing\n", in->name, (unsigned long long)seq);
            else
                fprintf(out, "  %s seq %llu key %lld: pin %u geo %u user %u message(s)%s%s\n",
                        in->name, (unsigned long long)seq, (long long)s->key, s->count[0],
                        s->count[1], s->count[2],
                        (s->flags & F_KEY_MISMATCH) ? ", keys differ" : "",
                        (s->flags & F_PARTITION_MISMATCH) ? ", partitions differ" : "");
            shown++;
        }
    }
}

size_t pp_tally_instances(const pp_tally *t)
{
    return t->n;
}
