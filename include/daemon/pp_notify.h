/* pp_notify: the systemd notification protocol through libsystemd (sd_notify(3),
 * sd_watchdog_enabled(3)). Without $NOTIFY_SOCKET every call is a no-op, so the daemon
 * runs the same in the foreground. */
#ifndef PP_NOTIFY_H
#define PP_NOTIFY_H

#include <stdint.h>

/* Read the watchdog interval ($WATCHDOG_USEC, honouring $WATCHDOG_PID). */
void pp_notify_init(void);

/* Send "READY=1", "STOPPING=1", "WATCHDOG=1" and so on; returns 0, or -1 (ignored by
 * callers: the service manager going away must not stop the daemon). */
int pp_notify(const char *state);
/* STATUS=..., formatted. */
int pp_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC, as systemd expects for reloads. */
int pp_notify_reloading(void);

/* EXTEND_TIMEOUT_USEC=usec: while starting (or stopping), the service manager waits at
 * least usec more from now; a start that keeps making progress sends it again. */
int pp_notify_extend_timeout(int64_t usec);

/* The watchdog interval requested by the service manager in microseconds, 0 if none. */
int64_t pp_notify_watchdog_usec(void);

#endif
