/* properties: Java .properties parser with file:line errors. */
#include "pp_properties.h"
#include "pp_buf.h"
#include "pp_util.h"
#include "pp_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(pp_buf *out, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    pp_buf_append(out, u, n);
}

/* Decode the escapes of one logical line part (continuations already joined) into out.
 * Returns 0, -1 on a malformed \uXXXX or an unpaired UTF-16 surrogate, or -2 on a NUL
 * character (raw or \u0000), which would cut the C string short without a word. */
static int unescape(const char *s, size_t n, pp_buf *out)
{
    unsigned high = 0; /* pending high surrogate */
    pp_buf_reset(out);
    pp_buf_append(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        unsigned cp;
        int raw = 0; /* an escaped raw byte, e.g. part of a UTF-8 sequence */
        if (s[i] != '\\') {
            if (high)
                return -1;
            if (!s[i])
                return -2;
            pp_buf_append(out, &s[i], 1);
            continue;
        }
        if (++i == n)
            break; /* a lone trailing backslash is dropped, as Java does */
        switch (s[i]) {
        case 't': cp = '\t'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 'f': cp = '\f'; break;
        case 'u':
            if (n - i - 1 < 4)
                return -1;
            cp = 0;
            for (size_t k = 1; k <= 4; k++) {
                int h = hexval(s[i + k]);
                if (h < 0)
                    return -1;
                cp = cp * 16 + (unsigned)h;
            }
            i += 4;
            break;
        default: cp = (unsigned char)s[i]; raw = cp >= 0x80;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (high)
                return -1;
            high = cp;
            continue;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            if (!high)
                return -1;
            cp = 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00);
            high = 0;
        } else if (high) {
            return -1;
        }
        if (cp == 0)
            return -2;
        if (raw) {
            char c = (char)cp;
            pp_buf_append(out, &c, 1);
        } else {
            put_utf8(out, cp);
        }
    }
    return high ? -1 : 0;
}

int pp_properties_parse(const char *name, const char *text, size_t len, pp_properties_cb cb,
                        void *opaque, char *errstr, size_t errstr_size)
{
    /* sasl.password, ssl.key.password, JAAS passwords pass through here */
    pp_buf logical = PP_SECRET_BUF, key = PP_SECRET_BUF, value = PP_SECRET_BUF;
    size_t pos = 0;
    int line = 0, rc = 0;

    /* A UTF-8 byte order mark, as some Windows editors write one: not part of the first key. */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        pos = 3;
    while (pos < len && rc == 0) {
        int start_line = ++line;
        size_t p = pos;
        while (p < len && is_ws(text[p]))
            p++;
        size_t eol = p;
        while (eol < len && text[eol] != '\n' && text[eol] != '\r')
            eol++;
        size_t next = eol;
        if (next < len && text[next] == '\r')
            next++;
        if (next < len && text[next] == '\n' && (next == eol || text[next - 1] == '\r'))
            next++;
        if (p == eol || text[p] == '#' || text[p] == '!') {
            pos = next;
            continue;
        }
        /* Join continuation lines: an odd number of trailing backslashes continues. */
        pp_buf_reset(&logical);
        for (;;) {
            size_t bs = 0;
            while (bs < eol - p && text[eol - 1 - bs] == '\\')
                bs++;
            if (bs % 2 == 1 && next < len) {
                pp_buf_append(&logical, text + p, eol - p - 1);
                p = next;
                line++;
                while (p < len && is_ws(text[p]))
                    p++;
                eol = p;
                while (eol < len && text[eol] != '\n' && text[eol] != '\r')
                    eol++;
                next = eol;
                if (next < len && text[next] == '\r')
                    next++;
                if (next < len && text[next] == '\n' && (next == eol || text[next - 1] == '\r'))
                    next++;
                continue;
            }
            pp_buf_append(&logical, text + p, (bs % 2 == 1) ? eol - p - 1 : eol - p);
            break;
        }
        pos = next;

        const char *s = logical.data;
        size_t n = logical.len, k = 0;
        while (k < n) {
            if (s[k] == '\\') {
                k += 2;
                continue;
            }
            if (s[k] == '=' || s[k] == ':' || is_ws(s[k]))
                break;
            k++;
        }
        if (k > n)
            k = n;
        size_t v = k;
        while (v < n && is_ws(s[v]))
            v++;
        if (v < n && (s[v] == '=' || s[v] == ':')) {
            v++;
            while (v < n && is_ws(s[v]))
                v++;
        }
        int bad = unescape(s, k, &key);
        if (bad == 0)
            bad = unescape(s + v, n - v, &value);
        if (bad == -2) {
            pp_errf(errstr, errstr_size,
                    "%s:%d: a NUL character (a zero byte or \\u0000) cannot be part of a key or "
                    "value; remove it",
                    name, start_line);
            rc = -1;
            break;
        }
        if (bad != 0) {
            pp_errf(errstr, errstr_size, "%s:%d: malformed \\uXXXX escape or unpaired surrogate",
                    name, start_line);
            rc = -1;
            break;
        }
        char cberr[512] = "";
        if (cb(opaque, key.data, value.data, start_line, cberr, sizeof(cberr)) != 0) {
            pp_errf(errstr, errstr_size, "%s:%d: %s", name, start_line, cberr);
            rc = -1;
        }
    }
    pp_secret_buf_free(&logical);
    pp_secret_buf_free(&key);
    pp_secret_buf_free(&value);
    return rc;
}

int pp_properties_load(const char *path, pp_properties_cb cb, void *opaque, char *errstr,
                       size_t errstr_size)
{
    pp_buf text = PP_SECRET_BUF; /* it may hold passwords */
    if (pp_buf_read_file(&text, path, 1 << 20) != 0) {
        pp_errf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        pp_secret_buf_free(&text);
        return -1;
    }
    int rc = pp_properties_parse(path, text.data, text.len, cb, opaque, errstr, errstr_size);
    pp_secret_buf_free(&text); /* it may hold passwords */
    return rc;
}
