/* pp_aws_region: the one rule for the AWS region a request is signed for and sent to
 * (Kinesis, MSK IAM, STS). A region is never guessed: without one the caller gets an error
 * naming the setting to set. */
#ifndef PP_AWS_REGION_H
#define PP_AWS_REGION_H

#include <stddef.h>

/* Longest region name taken (a DNS label). */
#define PP_AWS_REGION_MAX 63

/* Where one service's region may be read, besides the environment. */
typedef struct pp_aws_region_src {
    const char *who;     /* who needs it, for the message: "Kinesis", "MSK IAM" */
    const char *setting; /* the key that sets it: "kinesis.region", "kafka.aws_region" */
    const char *value;   /* that key's value; NULL or "" when not set */
    /* where the service is reached, which may name the region: a URL, or host[:port]
     * items separated by commas (bootstrap.servers); NULL: nowhere known */
    const char *hosts;
    const char *hosts_name; /* what those are, for the message: "the broker host names" */
} pp_aws_region_src;

/* What pp_aws_region found. */
enum pp_aws_region_rc {
    PP_AWS_REGION_OK = 0,
    PP_AWS_REGION_NONE = -1, /* no source names a region */
    PP_AWS_REGION_BAD = -2,  /* a source holds something that is no region name */
};

/* The region for src, in this order: the setting's value, AWS_REGION, AWS_DEFAULT_REGION,
 * the first AWS host name in src->hosts that carries one (pp_aws_region_of_host). Returns
 * PP_AWS_REGION_OK with region filled; PP_AWS_REGION_NONE with errstr "no AWS region for
 * WHO: set SETTING (or AWS_REGION); tried SETTING, AWS_REGION, AWS_DEFAULT_REGION and
 * HOSTS_NAME (HOSTS)"; PP_AWS_REGION_BAD with errstr naming the setting or variable whose
 * value is no region name (lower-case letters, digits and '-', at most PP_AWS_REGION_MAX;
 * the first one set decides). region_size must exceed PP_AWS_REGION_MAX. */
enum pp_aws_region_rc pp_aws_region(const pp_aws_region_src *src, char *region, size_t region_size,
                                    char *errstr, size_t errstr_size);

/* The region named by one AWS host name: the label before "amazonaws.com" (or
 * "amazonaws.com.cn"), skipping a "vpce" label, when it has the shape of a region
 * (eu-west-1, us-gov-west-1): b-1.c.kafka.eu-west-1.amazonaws.com:9098,
 * https://kinesis.us-east-1.amazonaws.com/, vpce-1-a.kinesis.eu-west-1.vpce.amazonaws.com.
 * host need not be NUL-terminated; a scheme, port and path are ignored. Returns 0 with
 * region filled, or -1. */
int pp_aws_region_of_host(const char *host, size_t len, char *region, size_t region_size);

/* Whether s is a region name by the rule above (1) or not (0). */
int pp_aws_region_valid(const char *s);

#endif
