/* contract: the run and post identity carried by every message (see pp_contract.h). */
#include "pp_contract.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pp_table_names[PP_NTABLES] = {"pin", "geo", "user"};

int pp_contract_partition_key(char *out, size_t out_size, int64_t key, uint64_t seq,
                              const char *instance)
{
    int n = snprintf(out, out_size, "%" PRId64 ":%" PRIu64 ":%s", key, seq, instance);
    if (n < 0 || (size_t)n >= out_size || n > PP_PARTITION_KEY_MAX)
        return -1;
    return n;
}

/* A decimal number of at most 20 digits (and a '-' when sign is set) ending at ':'. */
static const char *number(const char *p, const char *end, int sign, char *digits, size_t size)
{
    size_t i = 0;
    if (sign && p < end && *p == '-')
        digits[i++] = *p++;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9' && i < size - 1)
        digits[i++] = *p++;
    if (p == start || p >= end || *p != ':' || (p - start > 1 && *start == '0'))
        return NULL;
    digits[i] = '\0';
    return p + 1;
}

int pp_contract_parse_partition_key(const char *pk, size_t n, int64_t *key, uint64_t *seq,
                                    char *instance, size_t instance_size)
{
    const char *end = pk + n, *p;
    char kd[24], sd[24], *e;
    if (!(p = number(pk, end, 1, kd, sizeof(kd))) || !(p = number(p, end, 0, sd, sizeof(sd))))
        return -1;
    errno = 0;
    long long k = strtoll(kd, &e, 10);
    if (errno || *e)
        return -1;
    unsigned long long s = strtoull(sd, &e, 10);
    if (errno || *e || s == 0)
        return -1;
    size_t len = (size_t)(end - p);
    if (len == 0 || memchr(p, '\0', len) || instance_size == 0)
        return -1;
    if (len >= instance_size)
        len = instance_size - 1;
    memcpy(instance, p, len);
    instance[len] = '\0';
    *key = k;
    *seq = s;
    return 0;
}
