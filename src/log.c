/* log: leveled logging to stderr, journal-aware. */
#define _POSIX_C_SOURCE 200809L
#include "pp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int threshold = LOG_INFO;
static int journal;

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

int pp_log_enabled(int priority)
{
    return priority <= threshold;
}

void pp_log(int priority, const char *fmt, ...)
{
    static const char *names[] = {"emerg", "alert", "crit", "error",
                                  "warning", "notice", "info", "debug"};
    char msg[2048];
    va_list ap;

    if (!pp_log_enabled(priority))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (journal) {
        fprintf(stderr, "<%d>%s\n", priority, msg);
    } else {
        char ts[32];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        localtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld pinpostd %s: %s\n", ts, now.tv_nsec / 1000000,
                names[priority & 7], msg);
    }
}
