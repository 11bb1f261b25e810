/* util: allocation, clocks and parsing helpers shared by every module. */
#include "pp_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t size)
{
    fprintf(stderr, "pinpostd: out of memory allocating %zu bytes\n", size);
    abort();
}

void *pp_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *pp_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *pp_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

char *pp_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = pp_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

int64_t pp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pp_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void pp_sleep_us(int64_t usec)
{
    if (usec <= 0)
        return;
    struct timespec ts = {.tv_sec = usec / 1000000, .tv_nsec = (usec % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

char *pp_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    if (!errstr || !errstr_size)
        return errstr;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return errstr;
}

/* Decimal syntax only: [sign] digits, and for reals a fraction and an exponent. strtoll and
 * strtod alone would also take leading spaces, hex, "inf" and "nan". Returns the length of
 * the number at s when it is the whole string, else 0. */
static size_t decimal_length(const char *s, int allow_sign, int real)
{
    const char *p = s;
    size_t digits = 0;
    if (*p == '+' || (allow_sign && *p == '-'))
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (real && *p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits)
        return 0;
    if (real && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p ? 0 : (size_t)(p - s);
}

int pp_parse_int64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !decimal_length(s, 1, 0))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int pp_parse_uint64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !decimal_length(s, 0, 0))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int pp_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !decimal_length(s, 1, 1))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE: beyond a double (1e400), or so small it lost its precision (1e-400). */
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v == 0 ? 0 : v; /* -0 is 0 */
    return 0;
}

const char *pp_quote_arg(const char *s, int stop_at_eq, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] && !(stop_at_eq && s[i] == '=') && i + 4 < n && i < 40; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (s[i] && !(stop_at_eq && s[i] == '=')) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

char *pp_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return pp_xstrdup(".");
    if (slash == path)
        return pp_xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *d = pp_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

char *pp_path_join(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir)
        return pp_xstrdup(path);
    size_t n = strlen(base_dir) + strlen(path) + 2;
    char *p = pp_xmalloc(n);
    snprintf(p, n, "%s/%s", base_dir, path);
    return p;
}

const char *pp_opt_name(const struct option *longopts, int li, int ch, char *buf, size_t n)
{
    if (li >= 0)
        snprintf(buf, n, "--%s", longopts[li].name);
    else
        snprintf(buf, n, "-%c", ch > 0 && ch < 128 ? ch : '?');
    return buf;
}
