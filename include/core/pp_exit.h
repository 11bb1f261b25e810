/* pp_exit: the exit statuses of the three programs, one list (sysexits.h values where one
 * fits, so systemd's RestartPreventExitStatus= and scripts can tell them apart). */
#ifndef PP_EXIT_H
#define PP_EXIT_H

enum pp_exit {
    PP_EXIT_OK = 0,
    PP_EXIT_RUNTIME = 1,    /* posts failed, a sink or source failed for good */
    PP_EXIT_PROBLEMS = 1,   /* pinpost-verify: the data has problems */
    PP_EXIT_UNVERIFIED = 2, /* pinpost-verify: could not read enough to decide */
    PP_EXIT_USAGE = 64,     /* EX_USAGE: bad command line */
    PP_EXIT_CONFIG = 78,    /* EX_CONFIG: bad configuration; restarting will not help */
};

#endif
