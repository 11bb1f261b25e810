/* secret: erase-then-free for every secret the programs hold (see pp_secret.h). */
#include "pp_secret.h"

#include <stdlib.h>
#include <string.h>

void pp_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

void pp_secret_free(char *s)
{
    if (!s)
        return;
    pp_wipe(s, strlen(s));
    free(s);
}

void pp_secret_buf_free(pp_buf *b)
{
    pp_wipe(b->data, b->cap);
    b->secret = 0; /* erased already */
    pp_buf_free(b);
}
