/* pp_awscreds: the AWS credential chain, in the order the AWS SDKs use: environment,
 * web identity token (STS AssumeRoleWithWebIdentity), shared credentials and config files
 * (AWS_PROFILE or an explicit profile), container credentials, EC2 instance metadata
 * (IMDSv2). With a role ARN, the chain's credentials then assume that role through STS
 * AssumeRole. Results are cached and refreshed ahead of their expiry. HTTP goes through
 * pp_aws_http; endpoints follow the SDKs' overrides (AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL). Thread-safe: the Kafka token callback runs
 * on a librdkafka thread. Secrets never reach a log or an error message. */
#ifndef PP_AWSCREDS_H
#define PP_AWSCREDS_H

#include <stddef.h>

#include "pp_awsparse.h"
#include "pp_sigv4.h"

typedef struct pp_aws_chain_opts {
    const char *profile;           /* NULL: AWS_PROFILE, else "default" */
    const char *role_arn;          /* assume this role (NULL: use the chain's credentials) */
    const char *role_session_name; /* NULL: "pinpostd" */
    const char *external_id;
    /* STS region (pp_aws_region rule). NULL: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1,
     * aws-msk-iam-auth's default for awsStsRegion, which the log then says once */
    const char *sts_region;
} pp_aws_chain_opts;

typedef struct pp_aws_chain pp_aws_chain;

/* The strings of opts are copied. */
pp_aws_chain *pp_aws_chain_new(const pp_aws_chain_opts *opts);
void pp_aws_chain_destroy(pp_aws_chain *ch); /* accepts NULL */

/* Current credentials (a copy the caller clears with pp_aws_creds_clear), fetched or
 * refreshed when needed. source, when not NULL, receives where they came from
 * ("environment", "imds", "sts-assume-role via imds", ...). Returns 0, or -1 with errstr
 * saying what each provider answered. */
int pp_aws_chain_get(pp_aws_chain *ch, pp_aws_creds *out, char *source, size_t source_size,
                     char *errstr, size_t errstr_size);

#endif
