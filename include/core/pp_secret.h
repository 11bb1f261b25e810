/* pp_secret: how a secret dies. Passwords, AWS keys, tokens and signing keys are erased
 * with explicit_bzero, which the optimiser may not remove as a dead store (a memset
 * before free is removed at -O2), and only then freed. `make test` checks the optimised
 * objects still call it (scripts/check-wipe). */
#ifndef PP_SECRET_H
#define PP_SECRET_H

#include <stddef.h>

#include "pp_buf.h"

/* Erase n bytes at p (p may be NULL when n is 0). */
void pp_wipe(void *p, size_t n);

/* Erase the NUL-terminated string s, then free it. NULL is fine. */
void pp_secret_free(char *s);

/* Erase every byte a buffer holds (its whole capacity), then free it and leave it empty. */
void pp_secret_buf_free(pp_buf *b);

#endif
