/* json: the JSON writer used for every message value (the buffer is pp_buf). */
#include "pp_json.h"
#include "pp_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void put_char(pp_buf *b, char c)
{
    pp_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void pp_json_obj_begin(pp_buf *b)
{
    put_char(b, '{');
}

void pp_json_obj_end(pp_buf *b)
{
    put_char(b, '}');
}

void pp_json_key(pp_buf *b, const char *key)
{
    if (b->len && b->data[b->len - 1] != '{')
        put_char(b, ',');
    pp_json_cstring(b, key);
    put_char(b, ':');
}

void pp_json_null(pp_buf *b)
{
    pp_buf_append(b, "null", 4);
}

void pp_json_int(pp_buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    pp_buf_append(b, tmp, (size_t)n);
}

void pp_json_uint(pp_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    pp_buf_append(b, tmp, (size_t)n);
}

int pp_json_format_float(char *out, float v)
{
    int n = 0;
    for (int prec = 1; prec <= 9; prec++) {
        n = snprintf(out, 32, "%.*g", prec, (double)v);
        if (strtof(out, NULL) == v)
            break;
    }
    return n;
}

int pp_json_format_double(char *out, double v)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return n;
}

void pp_json_float(pp_buf *b, float v)
{
    char tmp[32];
    if (!isfinite(v)) {
        pp_json_null(b);
        return;
    }
    pp_buf_append(b, tmp, (size_t)pp_json_format_float(tmp, v));
}

void pp_json_double(pp_buf *b, double v)
{
    char tmp[32];
    if (!isfinite(v)) {
        pp_json_null(b);
        return;
    }
    pp_buf_append(b, tmp, (size_t)pp_json_format_double(tmp, v));
}

/* Length of the valid UTF-8 sequence starting at s (n bytes available), or 0 when the
 * first byte does not start one: overlongs, surrogates and values past U+10FFFF are
 * invalid (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

size_t pp_json_string(pp_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t replaced = 0, i = 0;

    pp_buf_reserve(b, n + 2);
    put_char(b, '"');
    while (i < n) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            pp_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t elen = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
            }
            pp_buf_append(b, esc, elen);
            i++;
            continue;
        }
        size_t len = utf8_seq_len(s + i, n - i);
        if (len == 0) {
            pp_buf_append(b, "\xEF\xBF\xBD", 3);
            replaced++;
            i++;
        } else {
            pp_buf_append(b, s + i, len);
            i += len;
        }
    }
    put_char(b, '"');
    return replaced;
}

int pp_json_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

size_t pp_json_cstring(pp_buf *b, const char *s)
{
    return pp_json_string(b, s, strlen(s));
}

static void put_frac(char *tmp, int *n, size_t size, long usec)
{
    if (usec)
        *n += snprintf(tmp + *n, size - (size_t)*n, ".%06ld", usec);
}

void pp_json_datetime(pp_buf *b, const pp_datetime *dt)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "\"%04d-%02d-%02d %02d:%02d:%02d", dt->year, dt->month,
                     dt->day, dt->hour, dt->minute, dt->second);
    put_frac(tmp, &n, sizeof(tmp), dt->usec);
    n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, "\"");
    pp_buf_append(b, tmp, (size_t)n);
}

void pp_json_date(pp_buf *b, const pp_datetime *dt)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "\"%04d-%02d-%02d\"", dt->year, dt->month, dt->day);
    pp_buf_append(b, tmp, (size_t)n);
}

void pp_json_time(pp_buf *b, const pp_datetime *dt)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "\"%s%02d:%02d:%02d", dt->negative ? "-" : "", dt->hour,
                     dt->minute, dt->second);
    put_frac(tmp, &n, sizeof(tmp), dt->usec);
    n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, "\"");
    pp_buf_append(b, tmp, (size_t)n);
}
