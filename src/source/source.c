/* source: the source a run asks for, and the buffers of a post. */
#include "pp_source.h"

#include <stdlib.h>

/* --demo's data set: enough posts to sample for a while, from a fixed data seed. */
#define DEMO_POSTS 11000
#define DEMO_DATA_SEED 20200828

pp_source *pp_source_open(const pp_config *c, int demo)
{
    return demo ? pp_source_demo_open(c, DEMO_DATA_SEED, DEMO_POSTS) : pp_source_mysql_new(c);
}

void pp_post_release(pp_post *p)
{
    for (int t = 0; t < PP_NTABLES; t++)
        pp_buf_free(&p->value[t]);
}
