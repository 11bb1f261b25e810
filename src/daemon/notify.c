/* notify: sd_notify(3) datagrams to $NOTIFY_SOCKET, written here instead of linking
 * libsystemd for three lines of protocol. */
#include "pp_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr;
static socklen_t addr_len;
static int64_t watchdog_usec;

void pp_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    addr_len = 0;
    if (path && (path[0] == '/' || path[0] == '@') && strlen(path) < sizeof(addr.sun_path)) {
        memset(&addr, 0, sizeof(addr));
        addr.sun_family = AF_UNIX;
        memcpy(addr.sun_path, path, strlen(path));
        if (path[0] == '@')
            addr.sun_path[0] = '\0'; /* abstract namespace */
        addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    }
    const char *wd = getenv("WATCHDOG_USEC"), *wd_pid = getenv("WATCHDOG_PID");
    watchdog_usec = 0;
    if (wd && (!wd_pid || atol(wd_pid) == (long)getpid()))
        watchdog_usec = strtoll(wd, NULL, 10);
}

int pp_notify(const char *state)
{
    if (!addr_len)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    close(fd);
    return n == (ssize_t)strlen(state) ? 0 : -1;
}

int pp_notify_status(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n = snprintf(msg, sizeof(msg), "STATUS=");
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return pp_notify(msg);
}

int pp_notify_reloading(void)
{
    char msg[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    return pp_notify(msg);
}

int64_t pp_notify_watchdog_usec(void)
{
    return watchdog_usec;
}
