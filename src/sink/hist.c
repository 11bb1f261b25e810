/* hist: the log-linear latency histogram. */
#include "pp_hist.h"

#include <math.h>

#define SUB (1u << PP_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - PP_HIST_SUB_BITS;
    unsigned idx = (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
    return idx < PP_HIST_BUCKETS ? idx : PP_HIST_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned idx)
{
    if (idx < 2 * SUB)
        return idx;
    unsigned shift = idx / SUB - 1;
    uint64_t low = ((uint64_t)(idx % SUB) + SUB) << shift;
    return low + (1ull << shift) - 1;
}

void pp_hist_record(pp_hist *h, uint64_t value)
{
    h->counts[bucket_of(value)]++;
    h->total++;
    h->sum += value;
    if (value > h->max)
        h->max = value;
}

void pp_hist_add(pp_hist *a, const pp_hist *b)
{
    for (unsigned i = 0; i < PP_HIST_BUCKETS; i++)
        a->counts[i] += b->counts[i];
    a->total += b->total;
    a->sum += b->sum;
    if (b->max > a->max)
        a->max = b->max;
}

uint64_t pp_hist_quantile(const pp_hist *h, double q)
{
    if (!h->total)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PP_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t up = bucket_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}

uint64_t pp_hist_count_le(const pp_hist *h, uint64_t bound)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < PP_HIST_BUCKETS && bucket_upper(i) <= bound; i++)
        n += h->counts[i];
    return n;
}
