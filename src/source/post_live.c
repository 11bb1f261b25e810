/* post_live: live timestamps, the emission time written into a post's live columns. */
#include "pp_source.h"

#include <string.h>

/* 0001-01-01 00:00:00 and 9999-12-31 23:59:59.999999 in microseconds since the epoch:
 * what a DATETIME holds, and what keeps the text at its fixed length. */
#define MIN_US (-62135596800LL * 1000000)
#define MAX_US (253402300799LL * 1000000 + 999999)

/* The proleptic Gregorian date of a day number (days since 1970-01-01), without the
 * lock glibc's gmtime_r takes: Howard Hinnant's civil_from_days. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *digits(char *p, long v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

size_t pp_post_live_format(char *out, int64_t wall_us, int fsp)
{
    static const long unit[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    if (wall_us < MIN_US)
        wall_us = MIN_US;
    if (wall_us > MAX_US)
        wall_us = MAX_US;
    if (fsp < 0)
        fsp = 0;
    if (fsp > 6)
        fsp = 6;
    int64_t secs = wall_us >= 0 ? wall_us / 1000000 : -((-wall_us + 999999) / 1000000);
    long usec = (long)(wall_us - secs * 1000000);
    usec -= usec % unit[fsp]; /* what the column keeps: truncated, as MySQL's NOW(fsp) */
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long sod = (long)(secs - days * 86400);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    char *p = out;
    *p++ = '"';
    p = digits(p, y, 4);
    *p++ = '-';
    p = digits(p, m, 2);
    *p++ = '-';
    p = digits(p, d, 2);
    *p++ = ' ';
    p = digits(p, sod / 3600, 2);
    *p++ = ':';
    p = digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = digits(p, sod % 60, 2);
    if (usec) { /* the contract: .ffffff only when there is a fraction */
        *p++ = '.';
        p = digits(p, usec, 6);
    }
    *p++ = '"';
    return (size_t)(p - out);
}

int pp_post_live_mark(pp_post *p, enum pp_table t, int fsp, size_t off, size_t len)
{
    if (p->nlive >= PP_LIVE_COLUMNS_MAX)
        return -1;
    p->live[p->nlive++] = (pp_post_live){.table = t, .fsp = fsp, .off = off, .len = len};
    return 0;
}

void pp_post_live_put(pp_post *p, enum pp_table t, int fsp)
{
    char text[PP_LIVE_TEXT_MAX];
    size_t n = pp_post_live_format(text, 0, fsp);
    size_t off = p->value[t].len;
    pp_buf_append(&p->value[t], text, n);
    pp_post_live_mark(p, t, fsp, off, n);
}

void pp_post_live_copy(pp_post *dst, const pp_post *src, enum pp_table t)
{
    for (size_t i = 0; i < src->nlive; i++)
        if (src->live[i].table == t)
            pp_post_live_mark(dst, t, src->live[i].fsp, src->live[i].off, src->live[i].len);
}

void pp_post_stamp(pp_post *p, int64_t wall_us)
{
    char text[PP_LIVE_TEXT_MAX];
    int fsp = -1;
    size_t n = 0;
    for (size_t i = 0; i < p->nlive; i++) {
        pp_post_live *l = &p->live[i];
        pp_buf *b = &p->value[l->table];
        if (l->fsp != fsp) { /* the columns of a post mostly share one precision */
            fsp = l->fsp;
            n = pp_post_live_format(text, wall_us, fsp);
        }
        if (n != l->len) {
            /* Another length (a fraction that comes or goes, a value the source wrote
             * as it was): the rest of the row moves, and the marks behind it. */
            if (n > l->len)
                pp_buf_reserve(b, n - l->len);
            memmove(b->data + l->off + n, b->data + l->off + l->len, b->len - l->off - l->len);
            b->len = b->len + n - l->len;
            b->data[b->len] = '\0';
            for (size_t j = 0; j < p->nlive; j++)
                if (j != i && p->live[j].table == l->table && p->live[j].off > l->off)
                    p->live[j].off = p->live[j].off + n - l->len;
            l->len = n;
        }
        memcpy(b->data + l->off, text, n);
    }
}
