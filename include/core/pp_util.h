/* pp_util: allocation that never returns NULL, monotonic/wall clocks, small string helpers. */
#ifndef PP_UTIL_H
#define PP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocators that log and abort on out-of-memory: a daemon that cannot allocate a
 * few bytes cannot report anything useful either. Caller frees with free(). */
void *pp_xmalloc(size_t size);
void *pp_xcalloc(size_t n, size_t size);
void *pp_xrealloc(void *ptr, size_t size);
char *pp_xstrdup(const char *s);

/* Monotonic clock in microseconds (for pacing and latency). */
int64_t pp_now_us(void);
/* Wall-clock microseconds since the epoch (CLOCK_REALTIME). */
int64_t pp_wall_us(void);

/* Sleep for at most usec microseconds (returns early on a signal). */
void pp_sleep_us(int64_t usec);

/* snprintf into errstr that never overflows; returns errstr. */
char *pp_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strict decimal parsing of a whole string: an optional sign ('+' only for uint64), digits,
 * and for doubles an optional fraction and exponent. No leading or trailing spaces, no hex,
 * no inf or nan; a value the type cannot hold (INT64_MAX + 1, 1e400, 1e-400) is refused;
 * -0 reads as 0. Returns 0 on success, -1 otherwise; range checks are the caller's. */
int pp_parse_int64(const char *s, int64_t *out);
int pp_parse_uint64(const char *s, uint64_t *out);
int pp_parse_double(const char *s, double *out);

/* An argument or value from outside, fit to quote in an error message: at most 40
 * printable ASCII characters (others shown as '?', a longer value ends in "..."), cut
 * before the first '=' when stop_at_eq (the value of an unknown --name=value may be a
 * secret). Writes into buf (at least 48 bytes) and returns it. */
const char *pp_quote_arg(const char *s, int stop_at_eq, char *buf, size_t n);

struct option;
/* The option getopt_long just returned, as the user typed it: "--name" when it came by
 * its long name (li >= 0, the index getopt_long filled), else "-c". For error messages:
 * argv[optind - 1] is wrong for --name=VALUE and -cVALUE. Returns buf. */
const char *pp_opt_name(const struct option *longopts, int li, int ch, char *buf, size_t n);

/* Directory part of path, for resolving relative paths; caller frees. */
char *pp_dirname(const char *path);

/* path if absolute, else base_dir/path; caller frees. */
char *pp_path_join(const char *base_dir, const char *path);

#endif
