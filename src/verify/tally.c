/* tally: per-instance ledger of posts seen by the verifier. */
#include "pp_tally.h"
#include "pp_contract.h"
#include "pp_log.h"
#include "pp_util.h"

#include <stdint.h>
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

/* A post recorded outside the dense array: seq 0 marks an empty cell. */
typedef struct sparse_slot {
    uint64_t seq;
    slot s;
} sparse_slot;

/* The sequence numbers come from message headers, so anybody who can write to the topics
 * chooses them. Memory therefore follows the messages recorded, never the numbers they
 * carry: the dense array (16 bytes per sequence number, the cheap layout for a real run
 * read roughly in order) only grows to cover seq < 4 * (messages + 1); any other post
 * goes to a hash table of the posts actually seen. Every sparse seq is >= cap: growing
 * the dense array moves the sparse posts it now covers into it. */
typedef struct instance {
    char *name;
    slot *slots; /* indexed by seq, for seq < cap */
    uint64_t cap;
    sparse_slot *sparse; /* open addressing, sparse_cap a power of two, at most half full */
    size_t nsparse, sparse_cap;
    uint64_t max_seq;
    uint64_t duplicates;
    uint64_t messages;
} instance;

struct pp_tally {
    instance *inst;
    size_t n, inst_cap;
    size_t *index; /* hash of instance names: position in inst + 1, 0 for empty */
    size_t index_cap;
    uint64_t other;
    int restricted; /* only the instances in inst[] are recorded (pp_tally_restrict) */
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
        free(t->inst[i].sparse);
    }
    free(t->inst);
    free(t->index);
    free(t);
}

static uint64_t hash_seq(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* n * size, or SIZE_MAX (which no allocator grants: pp_xrealloc then reports running out
 * of memory) when the product overflows. The counts here are bounded by the messages read,
 * but a wrapped product would hand back a short buffer. (calloc checks its own.) */
static size_t mul_size(size_t n, size_t size)
{
    return size && n > SIZE_MAX / size ? SIZE_MAX : n * size;
}

static instance *find(const pp_tally *t, const char *name)
{
    if (!t->index_cap)
        return NULL;
    size_t mask = t->index_cap - 1;
    for (size_t i = (size_t)hash_name(name) & mask; t->index[i]; i = (i + 1) & mask)
        if (!strcmp(t->inst[t->index[i] - 1].name, name))
            return &t->inst[t->index[i] - 1];
    return NULL;
}

static void index_put(size_t *index, size_t cap, const char *name, size_t pos)
{
    size_t i = (size_t)hash_name(name) & (cap - 1);
    while (index[i])
        i = (i + 1) & (cap - 1);
    index[i] = pos + 1;
}

static instance *add_instance(pp_tally *t, const char *name)
{
    if (t->n == t->inst_cap) {
        t->inst_cap = t->inst_cap ? t->inst_cap * 2 : 4;
        t->inst = pp_xrealloc(t->inst, mul_size(t->inst_cap, sizeof(instance)));
    }
    if ((t->n + 1) * 2 > t->index_cap) {
        size_t cap = t->index_cap ? t->index_cap * 2 : 16;
        free(t->index);
        t->index = pp_xcalloc(cap, sizeof(size_t));
        t->index_cap = cap;
        for (size_t i = 0; i < t->n; i++)
            index_put(t->index, cap, t->inst[i].name, i);
    }
    instance *in = &t->inst[t->n];
    memset(in, 0, sizeof(*in));
    in->name = pp_xstrdup(name);
    index_put(t->index, t->index_cap, in->name, t->n++);
    return in;
}

/* The cell of seq in the sparse table: where it is, or the empty cell where it goes. */
static sparse_slot *sparse_cell(sparse_slot *tab, size_t cap, uint64_t seq)
{
    size_t i = (size_t)hash_seq(seq) & (cap - 1);
    while (tab[i].seq && tab[i].seq != seq)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Rebuild the sparse table with cap cells, moving posts below in->cap into the dense
 * array. */
static void sparse_rebuild(instance *in, size_t cap)
{
    sparse_slot *old = in->sparse;
    size_t old_cap = in->sparse_cap;
    in->sparse = pp_xcalloc(cap, sizeof(sparse_slot));
    in->sparse_cap = cap;
    in->nsparse = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].seq)
            continue;
        if (old[i].seq < in->cap) {
            in->slots[old[i].seq] = old[i].s;
        } else {
            *sparse_cell(in->sparse, cap, old[i].seq) = old[i];
            in->nsparse++;
        }
    }
    free(old);
}

static slot *sparse_get(instance *in, uint64_t seq)
{
    if ((in->nsparse + 1) * 2 > in->sparse_cap)
        sparse_rebuild(in, in->sparse_cap ? in->sparse_cap * 2 : 16);
    sparse_slot *c = sparse_cell(in->sparse, in->sparse_cap, seq);
    if (!c->seq) {
        c->seq = seq;
        in->nsparse++;
    }
    return &c->s;
}

static slot *sparse_lookup(instance *in, uint64_t seq)
{
    if (!in->nsparse)
        return NULL;
    sparse_slot *c = sparse_cell(in->sparse, in->sparse_cap, seq);
    return c->seq ? &c->s : NULL;
}

/* The dense array may cover seq < limit: a constant multiple of the messages recorded. */
static uint64_t dense_limit(const instance *in)
{
    const uint64_t most = (SIZE_MAX / sizeof(slot)) / 8;
    return in->messages < most ? 4 * (in->messages + 1) : 4 * most;
}

static slot *cell(instance *in, uint64_t seq)
{
    if (seq < in->cap)
        return &in->slots[seq];
    slot *s = sparse_lookup(in, seq);
    if (s)
        return s;
    uint64_t limit = dense_limit(in);
    if (seq >= limit)
        return sparse_get(in, seq);
    uint64_t cap = in->cap ? in->cap : 16;
    while (cap <= seq)
        cap *= 2; /* seq < limit, far below 2^63 */
    if (cap > limit)
        cap = limit;
    in->slots = pp_xrealloc(in->slots, mul_size((size_t)cap, sizeof(slot)));
    memset(in->slots + in->cap, 0, (size_t)(cap - in->cap) * sizeof(slot));
    in->cap = cap;
    if (in->nsparse)
        sparse_rebuild(in, in->sparse_cap);
    return &in->slots[seq];
}

void pp_tally_restrict(pp_tally *t, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!find(t, names[i]))
            add_instance(t, names[i]);
    t->restricted = 1;
}

int pp_tally_add(pp_tally *t, const char *name, uint64_t seq, enum pp_table table, int64_t key,
                 int32_t partition)
{
    instance *in = seq ? find(t, name) : NULL;
    if (!seq || (!in && t->restricted)) {
        t->other++;
        return 0;
    }
    if (!in)
        in = add_instance(t, name);
    slot *s = cell(in, seq);
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
    return 1;
}

void pp_tally_add_other(pp_tally *t)
{
    t->other++;
}

int pp_tally_add_partition_key(pp_tally *t, const char *only, const char *pk, size_t n,
                               enum pp_table table, int32_t partition, int64_t *key, uint64_t *seq)
{
    char inst[PP_PARTITION_KEY_MAX + 1];
    /* Longer than Kinesis allows: not one pinpostd wrote (and its instance would be cut). */
    if (n > PP_PARTITION_KEY_MAX ||
        pp_contract_parse_partition_key(pk, n, key, seq, inst, sizeof(inst)) ||
        (only && strcmp(inst, only) != 0)) {
        t->other++;
        return 0;
    }
    return pp_tally_add(t, inst, *seq, table, *key, partition);
}

static int tables_present(const slot *s)
{
    return (s->count[0] > 0) + (s->count[1] > 0) + (s->count[2] > 0);
}

/* Count one recorded post; *present counts those within 1..last. */
static void count_post(const slot *s, uint64_t seq, uint64_t last, pp_tally_result *r,
                       uint64_t *present)
{
    int n = tables_present(s);
    if (!n)
        return;
    if (s->flags & F_KEY_MISMATCH)
        r->key_mismatch++;
    if (s->flags & F_PARTITION_MISMATCH)
        r->partition_mismatch++;
    if (seq > last) {
        r->posts_unexpected++;
        return;
    }
    (*present)++;
    if (n == PP_NTABLES)
        r->posts_complete++;
    else
        r->posts_partial++;
}

/* Cost follows the posts recorded, not expected or max_seq: whatever is not recorded in
 * 1..last is missing, counted by subtraction. */
static void summarise_one(const instance *in, uint64_t expected, pp_tally_result *r)
{
    uint64_t last = expected ? expected : in->max_seq;
    uint64_t present = 0;
    r->messages += in->messages;
    r->duplicates += in->duplicates;
    if (in->max_seq > r->max_seq)
        r->max_seq = in->max_seq;
    for (uint64_t seq = 1; seq < in->cap; seq++)
        count_post(&in->slots[seq], seq, last, r, &present);
    for (size_t i = 0; i < in->sparse_cap; i++)
        if (in->sparse[i].seq)
            count_post(&in->sparse[i].s, in->sparse[i].seq, last, r, &present);
    r->posts_missing += last - present;
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

int pp_tally_problems(const pp_tally_result *r, uint64_t expected)
{
    return r->posts_partial || r->posts_missing || r->posts_unexpected || r->duplicates ||
           r->key_mismatch || r->partition_mismatch || (expected && r->posts_complete < expected);
}

void pp_tally_summarise_fleet(const pp_tally *t, const pp_tally_member *fleet, size_t n,
                              pp_tally_result *each, pp_tally_result *total)
{
    uint64_t all = 0;
    memset(total, 0, sizeof(*total));
    for (size_t i = 0; i < t->n; i++)
        all += t->inst[i].messages;
    for (size_t i = 0; i < n; i++) {
        pp_tally_result *r = &each[i];
        pp_tally_summarise(t, fleet[i].instance, fleet[i].expected, r);
        total->messages += r->messages;
        total->posts_complete += r->posts_complete;
        total->posts_partial += r->posts_partial;
        total->posts_missing += r->posts_missing;
        total->posts_unexpected += r->posts_unexpected;
        total->duplicates += r->duplicates;
        total->key_mismatch += r->key_mismatch;
        total->partition_mismatch += r->partition_mismatch;
        if (r->max_seq > total->max_seq)
            total->max_seq = r->max_seq;
    }
    /* The members' names are distinct: what they did not record is someone else's. */
    total->other = t->other + (all > total->messages ? all - total->messages : 0);
}

/* Print one post's problem (s NULL: nothing recorded). Returns 1 if it printed a line. */
static int show(FILE *out, const char *name, uint64_t seq, const slot *s, uint64_t last)
{
    int present = s ? tables_present(s) : 0;
    int dup = s && (s->count[0] > 1 || s->count[1] > 1 || s->count[2] > 1);
    if (!present) {
        if (seq > last)
            return 0;
        fprintf(out, "  %s seq %llu: missing\n", name, (unsigned long long)seq);
        return 1;
    }
    if (present == PP_NTABLES && !dup && !s->flags && seq <= last)
        return 0;
    fprintf(out, "  %s seq %llu key %lld: pin %u geo %u user %u message(s)%s%s%s\n", name,
            (unsigned long long)seq, (long long)s->key, s->count[0], s->count[1], s->count[2],
            (s->flags & F_KEY_MISMATCH) ? ", keys differ" : "",
            (s->flags & F_PARTITION_MISMATCH) ? ", partitions differ" : "",
            seq > last ? ", beyond the expected sequence numbers" : "");
    return 1;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x = (*(const sparse_slot *const *)a)->seq, y = (*(const sparse_slot *const *)b)->seq;
    return (x > y) - (x < y);
}

/* Missing sequence numbers from..last, before limit, up to *left lines. */
static void show_gap(FILE *out, const char *name, uint64_t from, uint64_t limit, uint64_t last,
                     int *left)
{
    for (uint64_t seq = from; seq < limit && seq <= last && *left > 0; seq++) {
        fprintf(out, "  %s seq %llu: missing\n", name, (unsigned long long)seq);
        (*left)--;
    }
}

void pp_tally_print_problems(const pp_tally *t, const char *name, uint64_t expected, FILE *out,
                             int max)
{
    int left = max;
    for (size_t i = 0; i < t->n && left > 0; i++) {
        const instance *in = &t->inst[i];
        if (name && strcmp(in->name, name) != 0)
            continue;
        /* The name came from a message header: escaped like every other outside text. */
        char shown[4 * 256 + 1];
        size_t len = strlen(in->name);
        pp_log_escape(in->name, len < 256 ? len : 256, shown, sizeof(shown));
        uint64_t last = expected ? expected : in->max_seq;
        uint64_t seq = 1;
        for (; seq < in->cap && left > 0; seq++)
            left -= show(out, shown, seq, &in->slots[seq], last);
        if (left <= 0)
            break;
        /* Beyond the dense array: the recorded posts in order, and the gaps between. */
        const sparse_slot **sorted = pp_xcalloc(in->nsparse ? in->nsparse : 1, sizeof(*sorted));
        size_t k = 0;
        for (size_t j = 0; j < in->sparse_cap; j++)
            if (in->sparse[j].seq)
                sorted[k++] = &in->sparse[j];
        qsort(sorted, k, sizeof(*sorted), by_seq);
        int more = 1;
        for (size_t j = 0; j < k && left > 0; j++) {
            show_gap(out, shown, seq, sorted[j]->seq, last, &left);
            if (left > 0)
                left -= show(out, shown, sorted[j]->seq, &sorted[j]->s, last);
            if (sorted[j]->seq == UINT64_MAX)
                more = 0;
            else
                seq = sorted[j]->seq + 1;
        }
        if (more && left > 0)
            show_gap(out, shown, seq, last == UINT64_MAX ? UINT64_MAX : last + 1, last, &left);
        free(sorted);
    }
}

size_t pp_tally_instances(const pp_tally *t)
{
    size_t seen = 0;
    for (size_t i = 0; i < t->n; i++)
        seen += t->inst[i].messages > 0;
    return seen;
}
