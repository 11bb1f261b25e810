/* notify: sd_notify(3) through libsystemd. */
#include "pp_notify.h"
#include "pp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

static int64_t watchdog_usec;

void pp_notify_init(void)
{
    uint64_t usec = 0;
    /* > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID, if set, is this process. */
    watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 && usec <= INT64_MAX ? (int64_t)usec : 0;
}

int pp_notify(const char *state)
{
    return sd_notify(0, state) < 0 ? -1 : 0;
}

int pp_notify_status(const char *fmt, ...)
{
    char raw[512], msg[sizeof("STATUS=") + 4 * sizeof(raw)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    /* Escaped like a log line: the status carries server messages, and a newline would
     * start another assignment in the datagram. */
    memcpy(msg, "STATUS=", sizeof("STATUS=") - 1);
    pp_log_escape(raw, (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1,
                  msg + sizeof("STATUS=") - 1, sizeof(msg) - (sizeof("STATUS=") - 1));
    return pp_notify(msg);
}

int pp_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld",
                      (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) < 0
               ? -1
               : 0;
}

int pp_notify_extend_timeout(int64_t usec)
{
    return sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%lld", (long long)usec) < 0 ? -1 : 0;
}

int64_t pp_notify_watchdog_usec(void)
{
    return watchdog_usec;
}
