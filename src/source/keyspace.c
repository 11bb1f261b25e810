/* keyspace: run-length set of existing post keys, indexed for uniform sampling. */
#include "pp_keyspace.h"
#include "pp_util.h"

#include <stdlib.h>

typedef struct run {
    int64_t first;   /* first key of the run */
    uint64_t before; /* number of keys in all earlier runs */
    uint64_t len;    /* keys first .. first+len-1 */
} run;

/* first + off without signed overflow: keys span INT64_MIN..INT64_MAX, so offsets within
 * a run can exceed INT64_MAX. The sum is computed in uint64_t, where wrapping is defined,
 * and the result is always a key of the run, so it converts back exactly. */
static int64_t key_plus(int64_t first, uint64_t off)
{
    uint64_t u = (uint64_t)first + off;
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

static int64_t run_last(const run *r)
{
    return key_plus(r->first, r->len - 1);
}

struct pp_keyspace {
    run *runs;
    uint64_t nruns, cap;
    uint64_t count;
};

pp_keyspace *pp_keyspace_new(void)
{
    return pp_xcalloc(1, sizeof(pp_keyspace));
}

void pp_keyspace_destroy(pp_keyspace *ks)
{
    if (!ks)
        return;
    free(ks->runs);
    free(ks);
}

int pp_keyspace_add(pp_keyspace *ks, int64_t key)
{
    if (ks->nruns) {
        run *last = &ks->runs[ks->nruns - 1];
        int64_t max = run_last(last);
        if (key <= max)
            return -1;
        if (key - 1 == max) { /* key > max >= INT64_MIN: key - 1 cannot overflow */
            last->len++;
            ks->count++;
            return 0;
        }
    }
    if (ks->nruns == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 16;
        ks->runs = pp_xrealloc(ks->runs, ks->cap * sizeof(run));
    }
    ks->runs[ks->nruns++] = (run){.first = key, .before = ks->count, .len = 1};
    ks->count++;
    return 0;
}

uint64_t pp_keyspace_count(const pp_keyspace *ks)
{
    return ks->count;
}

uint64_t pp_keyspace_runs(const pp_keyspace *ks)
{
    return ks->nruns;
}

int64_t pp_keyspace_max(const pp_keyspace *ks)
{
    return run_last(&ks->runs[ks->nruns - 1]);
}

int64_t pp_keyspace_at(const pp_keyspace *ks, uint64_t idx)
{
    uint64_t lo = 0, hi = ks->nruns - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (ks->runs[mid].before <= idx)
            lo = mid;
        else
            hi = mid - 1;
    }
    return key_plus(ks->runs[lo].first, idx - ks->runs[lo].before);
}
