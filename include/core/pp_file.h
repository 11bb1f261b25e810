/* pp_file: every file the three programs write goes through here (the run report, the
 * metrics textfile, standard output), and the start-up guard of file descriptors 0-2. */
#ifndef PP_FILE_H
#define PP_FILE_H

#include <stddef.h>

/* Make sure fds 0, 1 and 2 are open before anything else opens a file or socket, which
 * would otherwise take a closed one's number (and receive what is meant for stdout or
 * stderr). A closed descriptor gets /dev/null opened read-only in its place: reading gives
 * end of file, and every write fails with EBADF, so output the user asked for on a closed
 * stdout is a write error, never silently lost. Call it first in main(), single-threaded.
 * Returns 0, or -1 when no placeholder could be opened (the caller exits). */
int pp_file_guard_stdio(void);

/* True when fd (0, 1 or 2) was closed when pp_file_guard_stdio ran. */
int pp_file_stdio_was_closed(int fd);

/* Write all len bytes to fd with write(2): retries on EINTR and partial writes, waits for
 * room on a non-blocking descriptor. Returns 0 once every byte reached the kernel, or -1
 * with errno set (nothing is retried after an error: what was written stays written). */
int pp_file_write_all(int fd, const void *data, size_t len);

/* pp_file_write_all with an error message naming the descriptor ("standard output"),
 * and saying so when it was closed at start. */
int pp_file_write_fd(int fd, const void *data, size_t len, char *errstr, size_t errstr_size);

/* pp_file_write flags. */
enum {
    PP_FILE_DURABLE = 1 /* fsync the new file and its directory before returning (the run
                         * report); without it the replacement is atomic for readers but
                         * not flushed to disk (the metrics file, rewritten every 5 s, must
                         * not stall the main loop on a slow disk) */
};

/* Replace the contents of path with data, safely even when the directory is writable by
 * others:
 *  - a regular file, or no file yet: the data goes to a temporary file created
 *    exclusively beside it (O_CREAT|O_EXCL|O_NOFOLLOW, an unpredictable name, mode
 *    0666 minus the umask like any new file), and renamed over path (fsynced first with
 *    PP_FILE_DURABLE); readers see the old file or the new one, never a part. On any
 *    error the temporary is removed and the old file is intact.
 *  - a pipe or character device (/dev/null, a FIFO, a terminal) is written directly,
 *    never replaced; a FIFO that no process reads is an error, not a wait.
 *  - a symbolic link is followed only when it leads to such a non-regular file and is
 *    owned by root or by the running user (as /dev/stdout and /dev/fd/N are); a link
 *    that leads to our own stdout or stderr is written through that descriptor. Any
 *    other link (to a regular file, dangling, or planted by another user) is replaced
 *    by the new file; what it pointed to is never touched.
 *  - a directory or a block device is an error.
 * Returns 0, or -1 with errno set and errstr saying what failed, starting with path. */
int pp_file_write(const char *path, const void *data, size_t len, unsigned flags, char *errstr,
                  size_t errstr_size);

#endif
