/* msk: MSK IAM region discovery and credential chain construction. */
#include "pp_msk.h"
#include "pp_aws_region.h"

int pp_msk_region(const pp_config *c, char *out, size_t n, char *err, size_t errn)
{
    pp_aws_region_src src = {.who = "MSK IAM",
                             .setting = "kafka.aws_region",
                             .value = c->kafka.aws_region,
                             .hosts = pp_config_get_kafka(c, "bootstrap.servers"),
                             .hosts_name = "the broker host names"};
    return pp_aws_region(&src, out, n, err, errn);
}

pp_aws_chain *pp_msk_chain_new(const pp_config *c)
{
    pp_aws_chain_opts o = {c->msk.profile, c->msk.role_arn, c->msk.role_session_name,
                           c->msk.external_id, c->msk.sts_region};
    return pp_aws_chain_new(&o);
}
