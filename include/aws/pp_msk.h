/* pp_msk: glue between the configuration and Amazon MSK IAM authentication: which region
 * the cluster is in, and the credential chain the IAMLoginModule options describe. */
#ifndef PP_MSK_H
#define PP_MSK_H

#include <stddef.h>

#include "pp_awscreds.h"
#include "pp_config.h"

/* The cluster's region by the one region rule (pp_aws_region): kafka.aws_region,
 * AWS_REGION, AWS_DEFAULT_REGION, or the broker host names in bootstrap.servers
 * (b-1.x.y.kafka.REGION.amazonaws.com). Returns 0, or -1 with errstr saying which sources
 * were tried and to set kafka.aws_region. region_size must exceed PP_AWS_REGION_MAX. */
int pp_msk_region(const pp_config *c, char *region, size_t region_size, char *errstr,
                  size_t errstr_size);

/* A credential chain with the role, profile and STS options of c->msk. */
pp_aws_chain *pp_msk_chain_new(const pp_config *c);

#endif
