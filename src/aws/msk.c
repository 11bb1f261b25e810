/* msk: MSK IAM region discovery and credential chain construction. */
#include "pp_msk.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "...kafka.REGION.amazonaws.com[:port]" or "...kafka-serverless.REGION.amazonaws.com". */
static int region_from_host(const char *host, size_t len, char *out, size_t n)
{
    static const char *const marks[] = {".kafka-serverless.", ".kafka."};
    char h[512];
    if (len >= sizeof(h))
        return -1;
    memcpy(h, host, len);
    h[len] = '\0';
    char *colon = strrchr(h, ':');
    if (colon)
        *colon = '\0';
    for (size_t i = 0; i < 2; i++) {
        char *m = strstr(h, marks[i]);
        if (!m)
            continue;
        char *r = m + strlen(marks[i]);
        char *dot = strchr(r, '.');
        if (!dot || strncmp(dot, ".amazonaws.com", 14) != 0 || dot == r)
            continue;
        snprintf(out, n, "%.*s", (int)(dot - r), r);
        return 0;
    }
    return -1;
}

int pp_msk_region(const pp_config *c, char *out, size_t n, char *err, size_t errn)
{
    const char *env;
    if (c->kafka.aws_region && *c->kafka.aws_region) {
        snprintf(out, n, "%s", c->kafka.aws_region);
        return 0;
    }
    if ((env = getenv("AWS_REGION")) && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    if ((env = getenv("AWS_DEFAULT_REGION")) && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    const char *bs = pp_config_get_kafka(c, "bootstrap.servers");
    for (const char *s = bs; s && *s;) {
        size_t len = strcspn(s, ",");
        const char *h = s;
        while (len && (*h == ' ' || *h == '\t')) {
            h++;
            len--;
        }
        if (region_from_host(h, len, out, n) == 0)
            return 0;
        s += strcspn(s, ",");
        if (*s == ',')
            s++;
    }
    pp_errf(err, errn,
            "MSK IAM needs the cluster's region: tried kafka.aws_region, AWS_REGION, "
            "AWS_DEFAULT_REGION and the broker host names (%s); set kafka.aws_region",
            bs ? bs : "no bootstrap.servers");
    return -1;
}

pp_aws_chain *pp_msk_chain_new(const pp_config *c)
{
    pp_aws_chain_opts o = {c->msk.profile, c->msk.role_arn, c->msk.role_session_name,
                           c->msk.external_id, c->msk.sts_region};
    return pp_aws_chain_new(&o);
}
