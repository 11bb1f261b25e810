/* log: leveled logging to stderr, journal-aware, every message escaped. */
#include "pp_log.h"
#include "pp_util.h"

#include <inttypes.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int threshold = LOG_INFO;
static int journal;
static const char *program = "pinpostd";

/* systemd sets JOURNAL_STREAM=dev:inode for the stream it connected to stderr. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pp_log_init(int verbosity)
{
    threshold = LOG_INFO + verbosity;
    if (threshold < LOG_EMERG)
        threshold = LOG_EMERG;
    if (threshold > LOG_DEBUG)
        threshold = LOG_DEBUG;
    journal = stderr_is_journal();
}

void pp_log_set_program(const char *name)
{
    program = name;
}

/* Length of the valid UTF-8 sequence of two to four bytes at s, or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

size_t pp_log_escape(const char *in, size_t len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (!out_size)
        return 0;
    for (size_t i = 0; i < len;) {
        char esc[8];
        const char *put = esc;
        size_t n = 2, take = 1;
        unsigned c = s[i];
        esc[0] = '\\';
        if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            esc[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15], n = 4;
        } else if (c < 0x80) {
            put = (const char *)s + i, n = 1;
        } else if ((take = utf8_seq(s + i, len - i)) == 0) {
            esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15], n = 4, take = 1;
        } else if (c == 0xc2 && s[i + 1] < 0xa0) {
            /* C1 controls: CSI (U+009B) and others act on terminals like ESC sequences. */
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[s[i + 1] >> 4], esc[5] = hex[s[i + 1] & 15], n = 6;
        } else {
            put = (const char *)s + i, n = take;
        }
        if (o + n >= out_size)
            break;
        memcpy(out + o, put, n);
        o += n;
        i += take;
    }
    out[o] = '\0';
    return o;
}

int pp_log_enabled(int priority)
{
    return priority <= threshold;
}

static void vlog(int priority, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

void pp_log(int priority, const char *fmt, ...)
{
    va_list ap;
    if (!pp_log_enabled(priority))
        return;
    va_start(ap, fmt);
    vlog(priority, "", fmt, ap);
    va_end(ap);
}

void pp_log_limited(pp_log_limit *l, int priority, const char *fmt, ...)
{
    int64_t now = pp_now_us();
    int64_t interval = l->interval_us > 0 ? l->interval_us : 1000000;
    if (l->last_us && now - l->last_us < interval) {
        l->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (l->suppressed)
        snprintf(suffix, sizeof(suffix), " (and %" PRIu64 " similar messages not shown)",
                 l->suppressed);
    l->last_us = now;
    l->suppressed = 0;
    if (!pp_log_enabled(priority))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(priority, suffix, fmt, ap);
    va_end(ap);
}

/* Format, append suffix, escape, write one line. */
static void vlog(int priority, const char *suffix, const char *fmt, va_list ap)
{
    static const char *names[] = {"emerg",   "alert",  "crit", "error",
                                  "warning", "notice", "info", "debug"};
    char raw[2048], msg[4 * sizeof(raw) + 1];

    int len = vsnprintf(raw, sizeof(raw), fmt, ap);
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof(raw))
        len = sizeof(raw) - 1;
    /* The suffix (the count of lines not shown) survives a message cut at the end. */
    size_t sl = strlen(suffix);
    if (sl && sl < sizeof(raw)) {
        if ((size_t)len + sl >= sizeof(raw))
            len = (int)(sizeof(raw) - 1 - sl);
        memcpy(raw + len, suffix, sl + 1);
        len += (int)sl;
    }
    pp_log_escape(raw, (size_t)len, msg, sizeof(msg));

    if (journal) {
        fprintf(stderr, "<%d>%s\n", priority, msg);
    } else {
        char ts[32];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        localtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld %s %s: %s\n", ts, now.tv_nsec / 1000000, program,
                names[priority & 7], msg);
    }
}
