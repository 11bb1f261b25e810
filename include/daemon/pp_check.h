/* pp_check: --check: print the redacted configuration, connect to the source, sign an
 * MSK IAM token when configured, fetch Kafka metadata for the three topics, and say
 * whether all of it worked. */
#ifndef PP_CHECK_H
#define PP_CHECK_H

#include <stdio.h>

#include "pp_config.h"

/* Returns the exit status: 0 all reachable, 1 something unreachable, 78 something an
 * operator must fix (credentials rejected, missing table, no region). */
int pp_check_run(const pp_config *c, int demo, int dry_run, FILE *out);

#endif
