/* pp_log: the one logger. Syslog priorities. When stderr is the journal (JOURNAL_STREAM
 * matches stderr) each message is a journal entry (sd_journal_send) with structured
 * fields: PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE/CODE_LINE/CODE_FUNC, PINPOSTD_INSTANCE,
 * and the MESSAGE_ID and PINPOSTD_* fields of its pp_log_fields; a "<N>"-prefixed line on
 * stderr if the journal socket refuses it. Otherwise timestamped text labelled with the
 * program's name. Every message is escaped (pp_log_escape) after formatting, so text from
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

/* The PINPOSTD_INSTANCE field of every journal entry from now on (copied; at most 255
 * bytes kept). Call before any thread logs: the field is read without a lock. */
void pp_log_set_instance(const char *instance);

/* Before the process exits: journald attributes an entry to its unit (_SYSTEMD_UNIT, what
 * `journalctl -u` matches) by looking the sender up in /proc when it reads the entry, so a
 * process that exits right after its last entries (a configuration error, the stop) can
 * leave them unattributed. With entries going to the journal, this waits a moment (at
 * most 300 ms) for journald to read them; otherwise it returns at once. */
void pp_log_close(void);

/* True when messages of this priority are emitted; check before costly formatting. */
int pp_log_enabled(int priority);

/* The kinds of event an operator looks up in the journal: each has a MESSAGE_ID
 * (pp_log_event_id; listed in pinpostd(8)), so `journalctl MESSAGE_ID=...` finds them. */
typedef enum pp_log_event {
    PP_EV_NONE = 0,
    PP_EV_START,
    PP_EV_READY,
    PP_EV_RELOAD_OK,
    PP_EV_RELOAD_FAILED,
    PP_EV_SOURCE_DOWN,
    PP_EV_SOURCE_UP,
    PP_EV_SINK_DOWN,
    PP_EV_SINK_UP,
    PP_EV_POST_FAILED,
    PP_EV_STOP,
    PP_EV_FATAL,
    PP_EV_COUNT
} pp_log_event;

/* The 32 hex digits of ev's MESSAGE_ID; NULL for PP_EV_NONE or out of range. */
const char *pp_log_event_id(pp_log_event ev);

/* A post's messages: one topic or stream per table. */
#define PP_LOG_MAX_TOPICS 3

/* What a message is about, for the journal's fields (plain text output ignores them).
 * Zero-initialise; unset members add no field. */
typedef struct pp_log_fields {
    pp_log_event event; /* MESSAGE_ID */
    int has_post_key;   /* PINPOSTD_POST_KEY=post_key */
    int64_t post_key;
    uint64_t seq; /* PINPOSTD_SEQ, when not 0 (sequence numbers start at 1) */
    const char *topic[PP_LOG_MAX_TOPICS]; /* PINPOSTD_TOPIC, once for each non-NULL one */
} pp_log_fields;

/* Log one message from file:line in func (the journal's CODE_* fields); f may be NULL.
 * Use the macros below, which fill in the place. */
void pp_log_at(const char *file, int line, const char *func, const pp_log_fields *f, int priority,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define PP_LOG_HERE __FILE__, __LINE__, __func__
#define pp_log(priority, ...) pp_log_at(PP_LOG_HERE, NULL, priority, __VA_ARGS__)
/* With journal fields: pp_log_with(&(pp_log_fields){.event = PP_EV_READY}, LOG_NOTICE, ...) */
#define pp_log_with(fields, priority, ...) pp_log_at(PP_LOG_HERE, fields, priority, __VA_ARGS__)

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
void pp_log_limited_at(const char *file, int line, const char *func, const pp_log_fields *f,
                       pp_log_limit *l, int priority, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
#define pp_log_limited(l, priority, ...)                                                           \
    pp_log_limited_at(PP_LOG_HERE, NULL, l, priority, __VA_ARGS__)
#define pp_log_limited_with(fields, l, priority, ...)                                              \
    pp_log_limited_at(PP_LOG_HERE, fields, l, priority, __VA_ARGS__)

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
