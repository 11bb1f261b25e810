/* pp_buf: a growable byte buffer, NUL-terminated after every append. Allocation failure
 * aborts (pp_xmalloc). A zeroed pp_buf is empty and ready; pp_buf_free releases it. */
#ifndef PP_BUF_H
#define PP_BUF_H

#include <stddef.h>

typedef struct pp_buf {
    char *data; /* owned; NUL-terminated after every append */
    size_t len;
    size_t cap;
    /* Set (PP_SECRET_BUF) for a buffer that holds or may hold a secret: growing it erases
     * the old block before freeing it, and pp_buf_free erases it, so no copy of the
     * secret is left in freed memory. */
    int secret;
} pp_buf;

#define PP_SECRET_BUF                                                                              \
    {                                                                                              \
        .secret = 1                                                                                \
    }

/* Make room for extra more bytes (and the terminating NUL) without changing len. */
void pp_buf_reserve(pp_buf *b, size_t extra);
void pp_buf_reset(pp_buf *b);
void pp_buf_free(pp_buf *b);
void pp_buf_append(pp_buf *b, const void *data, size_t n);
void pp_buf_puts(pp_buf *b, const char *s);
void pp_buf_printf(pp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Base64 of data: the standard alphabet with '=' padding, or with url set the URL-safe
 * alphabet without padding (RFC 4648 sections 4 and 5). */
void pp_buf_base64(pp_buf *b, const void *data, size_t n, int url);
/* Append the whole file at path (at most max bytes). Returns 0, or -1 with errno set
 * (EFBIG when larger than max). */
int pp_buf_read_file(pp_buf *b, const char *path, size_t max);

#endif
