/* pp_notify: the systemd notification protocol (sd_notify(3)) spoken directly: one
 * datagram per state change to the unix socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name when it starts with '@'). Without $NOTIFY_SOCKET every call is a no-op,
 * so the daemon runs the same in the foreground. */
#ifndef PP_NOTIFY_H
#define PP_NOTIFY_H

#include <stdint.h>

/* Read $NOTIFY_SOCKET and $WATCHDOG_USEC (honouring $WATCHDOG_PID). */
void pp_notify_init(void);

/* Send "READY=1", "STOPPING=1", "STATUS=..." and so on; returns 0, or -1 (ignored by
 * callers: the service manager going away must not stop the daemon). */
int pp_notify(const char *state);
int pp_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC, as systemd expects for reloads. */
int pp_notify_reloading(void);

/* The watchdog interval requested by the service manager in microseconds, 0 if none. */
int64_t pp_notify_watchdog_usec(void);

#endif
