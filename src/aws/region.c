/* region: which AWS region a request goes to (see pp_aws_region.h). */
#include "pp_aws_region.h"
#include "pp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pp_aws_region_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PP_AWS_REGION_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Two or more groups of letters and a number, joined by '-': eu-west-1, us-gov-west-1. A
 * service label (kinesis, sts, kafka) never has that shape. */
static int region_shaped(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    for (;;) {
        size_t start = i;
        while (i < n && s[i] >= 'a' && s[i] <= 'z')
            i++;
        if (i == start)
            break; /* the number */
        if (i == n || s[i] != '-')
            return 0;
        groups++;
        i++;
    }
    size_t digits = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return groups >= 2 && i > digits && i == n;
}

int pp_aws_region_of_host(const char *host, size_t len, char *out, size_t out_size)
{
    const char *p = host, *end = host + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *s = p; s + 3 <= end; s++)
        if (!memcmp(s, "://", 3)) {
            p = s + 3;
            break;
        }
    const char *stop = p;
    while (stop < end && *stop != '/' && *stop != ':' && *stop != '?')
        stop++;
    end = stop;
    if (end > p && end[-1] == '.')
        end--; /* a fully qualified name */
    static const char *const suffixes[] = {".amazonaws.com", ".amazonaws.com.cn"};
    for (size_t k = 0; k < 2; k++) {
        size_t sl = strlen(suffixes[k]);
        if ((size_t)(end - p) <= sl || strncasecmp(end - sl, suffixes[k], sl) != 0)
            continue;
        const char *label_end = end - sl;
        const char *label = label_end;
        while (label > p && label[-1] != '.')
            label--;
        if (label_end - label == 4 && !strncasecmp(label, "vpce", 4) && label > p) {
            label_end = label - 1;
            label = label_end;
            while (label > p && label[-1] != '.')
                label--;
        }
        size_t n = (size_t)(label_end - label);
        if (!region_shaped(label, n) || n > PP_AWS_REGION_MAX || n >= out_size)
            return -1;
        memcpy(out, label, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

enum pp_aws_region_rc pp_aws_region(const pp_aws_region_src *src, char *out, size_t n, char *err,
                                    size_t errn)
{
    const char *names[3] = {src->setting, "AWS_REGION", "AWS_DEFAULT_REGION"};
    const char *values[3] = {src->value, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")};
    char q[64];
    for (int i = 0; i < 3; i++) {
        if (!values[i] || !*values[i])
            continue;
        if (!pp_aws_region_valid(values[i]) || strlen(values[i]) >= n)
            return pp_errf(err, errn,
                           "%s: '%s' is not an AWS region name (such as eu-west-1: lower-case "
                           "letters, digits and '-'); correct %s",
                           names[i], pp_quote_arg(values[i], 0, q, sizeof(q)), names[i]),
                   PP_AWS_REGION_BAD;
        snprintf(out, n, "%s", values[i]);
        return PP_AWS_REGION_OK;
    }
    for (const char *s = src->hosts; s && *s;) {
        size_t len = strcspn(s, ",");
        if (pp_aws_region_of_host(s, len, out, n) == 0)
            return PP_AWS_REGION_OK;
        s += len;
        if (*s == ',')
            s++;
    }
    return pp_errf(err, errn,
                   "no AWS region for %s: set %s (or AWS_REGION); tried %s, AWS_REGION, "
                   "AWS_DEFAULT_REGION and %s (%s)",
                   src->who, src->setting, src->setting,
                   src->hosts_name ? src->hosts_name : "the endpoint",
                   src->hosts && *src->hosts ? src->hosts : "none set"),
           PP_AWS_REGION_NONE;
}
