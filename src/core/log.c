/* log: leveled logging to stderr, journal-aware, every message escaped. */
#include "pp_log.h"
#include "pp_util.h"

#include <inttypes.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

/* The CODE_* fields are the caller's (pp_log_at), not this file's. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static int threshold = LOG_INFO;
static int journal; /* stderr_is_journal() */
static const char *program = "pinpostd";
/* Escaped (pp_log_escape) at most 255 bytes of the name. */
static char instance[4 * 255 + 1] = "default";

/* Made once with `systemd-id128 new`; never change one: operators' queries and alerts
 * name them. Listed in pinpostd(8). */
static const char *const event_ids[PP_EV_COUNT] = {
    [PP_EV_START] = "55e96d20ecb84a54a6de63e3c4bc0bf6",
    [PP_EV_READY] = "64826b701ef5451699c49d21c1ce10d8",
    [PP_EV_RELOAD_OK] = "88fb27f2560a49e4be75453bd97692d3",
    [PP_EV_RELOAD_FAILED] = "c56933dd93ca47de8315390039e77e04",
    [PP_EV_SOURCE_DOWN] = "9f84fc46c57b48f5b1d146de8627c506",
    [PP_EV_SOURCE_UP] = "78a035f8d17549d8ae41661a3d3f30b2",
    [PP_EV_SINK_DOWN] = "c6d7f95c75c140698d81abb1d19e0638",
    [PP_EV_SINK_UP] = "da54f5cd26f54fda9f00c00d79f0cb8f",
    [PP_EV_POST_FAILED] = "06c6ebb3f1e84a04a4ef1a1bc1c6e52f",
    [PP_EV_STOP] = "e264d30e99734dfda7bd54bb04c8e7f3",
    [PP_EV_FATAL] = "3eda8f0d9d25414897060df79348ec36",
};

const char *pp_log_event_id(pp_log_event ev)
{
    return ev > PP_EV_NONE && ev < PP_EV_COUNT ? event_ids[ev] : NULL;
}

void pp_log_set_instance(const char *name)
{
    if (!name || !*name)
        name = "default";
    size_t len = strnlen(name, 256);
    if (len > 255) /* cut at 255 bytes, not inside a UTF-8 sequence */
        for (len = 255; len > 0 && ((unsigned char)name[len] & 0xc0) == 0x80; len--)
            ;
    pp_log_escape(name, len, instance, sizeof(instance));
}

/* The journal's native socket: libsystemd sends entries there, and drops them silently
 * when it does not exist. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* systemd sets JOURNAL_STREAM=dev:inode for the stream it connected to stderr. Returns 2
 * when entries can go to the journal's socket, 1 when only "<N>" lines on stderr can
 * (the stream without the socket: a container or chroot without journald's), 0 when
 * stderr is not the journal. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st, sock;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return 0;
    if ((unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino)
        return 0;
    return stat(JOURNAL_SOCKET, &sock) == 0 && S_ISSOCK(sock.st_mode) ? 2 : 1;
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

void pp_log_close(void)
{
    if (journal == 2)
        pp_sleep_us(300000);
}

int pp_log_enabled(int priority)
{
    return priority <= threshold;
}

/* Where a message was logged from, and what it is about. */
typedef struct site {
    const char *file, *func;
    int line;
    const pp_log_fields *f;
} site;

static void vlog(const site *at, int priority, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

void pp_log_at(const char *file, int line, const char *func, const pp_log_fields *f, int priority,
               const char *fmt, ...)
{
    va_list ap;
    if (!pp_log_enabled(priority))
        return;
    site at = {file, func, line, f};
    va_start(ap, fmt);
    vlog(&at, priority, "", fmt, ap);
    va_end(ap);
}

void pp_log_limited_at(const char *file, int line, const char *func, const pp_log_fields *f,
                       pp_log_limit *l, int priority, const char *fmt, ...)
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
    site at = {file, func, line, f};
    va_list ap;
    va_start(ap, fmt);
    vlog(&at, priority, suffix, fmt, ap);
    va_end(ap);
}

/* One "NAME=value" field into *v (text cut to fit buf). */
static void field(struct iovec *v, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void field(struct iovec *v, char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    v->iov_base = buf;
    v->iov_len = n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* The message as a journal entry with its fields; 0, or -1 when the journal refused it. */
static int journal_send(const site *at, int priority, const char *msg)
{
    enum { NFIELDS = 13 };
    struct iovec v[NFIELDS];
    char prio[16], ident[64], file[256], line[32], func[128], inst[sizeof(instance) + 32], id[48],
        key[48], seq[48], topic[PP_LOG_MAX_TOPICS][4 * 255 + 32];
    int n = 0;
    v[n].iov_base = (void *)msg; /* "MESSAGE=" prefixed by the caller */
    v[n++].iov_len = strlen(msg);
    field(&v[n++], prio, sizeof(prio), "PRIORITY=%d", priority);
    field(&v[n++], ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", program);
    field(&v[n++], file, sizeof(file), "CODE_FILE=%s", at->file);
    field(&v[n++], line, sizeof(line), "CODE_LINE=%d", at->line);
    field(&v[n++], func, sizeof(func), "CODE_FUNC=%s", at->func);
    field(&v[n++], inst, sizeof(inst), "PINPOSTD_INSTANCE=%s", instance);
    const pp_log_fields *f = at->f;
    if (f) {
        const char *mid = pp_log_event_id(f->event);
        if (mid)
            field(&v[n++], id, sizeof(id), "MESSAGE_ID=%s", mid);
        if (f->has_post_key)
            field(&v[n++], key, sizeof(key), "PINPOSTD_POST_KEY=%" PRId64, f->post_key);
        if (f->seq)
            field(&v[n++], seq, sizeof(seq), "PINPOSTD_SEQ=%" PRIu64, f->seq);
        for (int t = 0; t < PP_LOG_MAX_TOPICS; t++)
            if (f->topic[t]) {
                /* Topic and stream names come from the configuration (at most 249 bytes
                 * of [a-zA-Z0-9._-]): escaped all the same, like the message. */
                char esc[4 * 255 + 1];
                const char *name = f->topic[t];
                pp_log_escape(name, strnlen(name, 255), esc, sizeof(esc));
                field(&v[n++], topic[t], sizeof(topic[t]), "PINPOSTD_TOPIC=%s", esc);
            }
    }
    return sd_journal_sendv(v, n) < 0 ? -1 : 0;
}

/* Format, append suffix, escape, write one line (or one journal entry). */
static void vlog(const site *at, int priority, const char *suffix, const char *fmt, va_list ap)
{
    static const char *names[] = {"emerg",   "alert",  "crit", "error",
                                  "warning", "notice", "info", "debug"};
    char raw[2048], entry[sizeof("MESSAGE=") - 1 + 4 * sizeof(raw) + 1];
    char *msg = entry + sizeof("MESSAGE=") - 1;
    memcpy(entry, "MESSAGE=", sizeof("MESSAGE=") - 1);

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
    pp_log_escape(raw, (size_t)len, msg, sizeof(entry) - (size_t)(msg - entry));

    if (journal) {
        if (journal != 2 || journal_send(at, priority, entry) != 0)
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
