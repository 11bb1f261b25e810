/* pp_log: the one logger. Syslog priorities; "<N>"-prefixed lines when stderr is the
 * journal (JOURNAL_STREAM matches stderr), timestamped text otherwise. Never log secrets. */
#ifndef PP_LOG_H
#define PP_LOG_H

#include <syslog.h>

/* Set the threshold: LOG_INFO by default, each -v adds one level, each -q removes one. */
void pp_log_init(int verbosity);

/* True when messages of this priority are emitted; check before costly formatting. */
int pp_log_enabled(int priority);

void pp_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pp_log_err(...) pp_log(LOG_ERR, __VA_ARGS__)
#define pp_log_warn(...) pp_log(LOG_WARNING, __VA_ARGS__)
#define pp_log_notice(...) pp_log(LOG_NOTICE, __VA_ARGS__)
#define pp_log_info(...) pp_log(LOG_INFO, __VA_ARGS__)
#define pp_log_debug(...) pp_log(LOG_DEBUG, __VA_ARGS__)

#endif
