/* buf: the growable byte buffer every module builds text in (JSON, HTTP bodies, SQL). */
#include "pp_buf.h"
#include "pp_secret.h"
#include "pp_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_buf_reserve(pp_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->secret && b->data) {
        /* realloc would leave the old block, secret and all, in freed memory */
        char *grown = pp_xmalloc(cap);
        memcpy(grown, b->data, b->len + 1);
        pp_wipe(b->data, b->cap);
        free(b->data);
        b->data = grown;
    } else {
        b->data = pp_xrealloc(b->data, cap);
    }
    b->cap = cap;
}

void pp_buf_reset(pp_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void pp_buf_free(pp_buf *b)
{
    if (b->secret)
        pp_wipe(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void pp_buf_append(pp_buf *b, const void *data, size_t n)
{
    pp_buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pp_buf_puts(pp_buf *b, const char *s)
{
    pp_buf_append(b, s, strlen(s));
}

void pp_buf_printf(pp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    pp_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pp_buf_base64(pp_buf *b, const void *data, size_t n, int url)
{
    const char *tab = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    size_t i = 0;
    pp_buf_reserve(b, (n + 2) / 3 * 4);
    b->data[b->len] = '\0'; /* terminated even when n is 0 */
    for (; i + 2 < n; i += 3) {
        char e[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tab[s[i + 2] & 63]};
        pp_buf_append(b, e, 4);
    }
    if (n - i == 1) {
        char e[4] = {tab[s[i] >> 2], tab[(s[i] & 3) << 4], '=', '='};
        pp_buf_append(b, e, url ? 2 : 4);
    } else if (n - i == 2) {
        char e[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tab[(s[i + 1] & 15) << 2], '='};
        pp_buf_append(b, e, url ? 3 : 4);
    }
}

int pp_buf_read_file(pp_buf *b, const char *path, size_t max)
{
    char chunk[4096];
    size_t got, total = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    pp_buf_append(b, "", 0);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        total += got;
        if (total > max) {
            pp_wipe(chunk, sizeof(chunk));
            fclose(f);
            errno = EFBIG;
            return -1;
        }
        pp_buf_append(b, chunk, got);
    }
    pp_wipe(chunk, sizeof(chunk)); /* the file may hold secrets */
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        errno = EIO;
        return -1;
    }
    return 0;
}
