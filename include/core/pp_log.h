/* pp_log: the one logger. Syslog priorities; "<N>"-prefixed lines when stderr is the
 * journal (JOURNAL_STREAM matches stderr), timestamped text labelled with the program's
 * name otherwise. Every message is escaped (pp_log_escape) after formatting, so text from
 * outside (rows, config strings, broker and AWS messages) can neither forge a line nor
 * drive the terminal, whichever caller logs it. Never log secrets. */
#ifndef PP_LOG_H
#define PP_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* Set the threshold: LOG_INFO by default, each -v adds one level, each -q removes one. */
void pp_log_init(int verbosity);

/* The name on each text line ("pinpostd" until set). name must outlive the logger (a
 * string literal). */
void pp_log_set_program(const char *name);

/* True when messages of this priority are emitted; check before costly formatting. */
int pp_log_enabled(int priority);

void pp_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One kind of message that could repeat many times a second (a failure per post, per
 * record, per connection attempt during an outage): at most one line per interval, the ones
 * in between counted and named by the next line shown. Zero-initialise; interval_us 0
 * means one second. Not thread-safe: one limiter per thread that logs through it. */
typedef struct pp_log_limit {
    int64_t interval_us;
    int64_t last_us; /* monotonic time of the last line shown; 0 = none yet */
    uint64_t suppressed;
} pp_log_limit;

/* Log like pp_log unless l showed a line less than its interval ago (then count it). A
 * line shown after suppressed ones ends in " (and N similar messages not shown)". */
void pp_log_limited(pp_log_limit *l, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Escape in[0..len) into out (always NUL-terminated, never split inside an escape):
 * backslash as \\; \n \r \t; other C0 controls and DEL as \xNN; C1 controls
 * (U+0080-U+009F) as \u0080-\u009f; bytes that are not valid UTF-8 (stray continuation
 * bytes, overlong forms, surrogates, above U+10FFFF, truncated sequences) as \xNN. Valid
 * UTF-8 text stays as it is. Needs at most 4 * len + 1 bytes of out. Returns the length
 * written. */
size_t pp_log_escape(const char *in, size_t len, char *out, size_t out_size);

#define pp_log_err(...) pp_log(LOG_ERR, __VA_ARGS__)
#define pp_log_warn(...) pp_log(LOG_WARNING, __VA_ARGS__)
#define pp_log_notice(...) pp_log(LOG_NOTICE, __VA_ARGS__)
#define pp_log_info(...) pp_log(LOG_INFO, __VA_ARGS__)
#define pp_log_debug(...) pp_log(LOG_DEBUG, __VA_ARGS__)

#endif
