/* pp_runner: the daemon's life from start to exit: build the source, sink and sampler
 * from a configuration, wait until both ends are reachable (then READY=1), run the
 * sampling loop with pacing, keep systemd informed (STATUS, WATCHDOG), reload on request
 * by build-and-swap, and on stop flush what is in flight, write the report and return
 * the exit status. Runs on the main thread; signal handlers only set the flags. */
#ifndef PP_RUNNER_H
#define PP_RUNNER_H

#include <signal.h>
#include <stdint.h>

#include "pp_config.h"

typedef struct pp_runner_opts {
    int demo, dry_run;
    uint64_t seed;
    volatile sig_atomic_t *stop;   /* SIGTERM/SIGINT count: 1 stop and flush, 2 give up */
    volatile sig_atomic_t *reload; /* set by SIGHUP */
    /* Build a fresh configuration for a reload; NULL after logging why. */
    pp_config *(*load_config)(void *opaque);
    void *opaque;
} pp_runner_opts;

/* Run until done or stopped. Takes ownership of c. Returns the exit status: 0, 1
 * (posts failed, runtime error) or 78 (configuration error). */
int pp_runner_run(pp_config *c, const pp_runner_opts *o);

#endif
