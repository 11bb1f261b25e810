/* file: safe replacement of output files, whole writes to descriptors, the fd 0-2 guard. */
#include "pp_file.h"
#include "pp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int closed_at_start; /* bit fd set: fd was closed when the guard ran */

int pp_file_guard_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* Read-only on purpose: a write to a stdout that was closed must fail, not vanish
         * into /dev/null. "/" is the fallback for a chroot without /dev. */
        int nfd = open("/dev/null", O_RDONLY);
        if (nfd < 0)
            nfd = open("/", O_RDONLY | O_DIRECTORY);
        if (nfd < 0)
            return -1;
        if (nfd != fd) {
            int rc = dup2(nfd, fd);
            close(nfd);
            if (rc < 0)
                return -1;
        }
        closed_at_start |= 1 << fd;
    }
    return 0;
}

int pp_file_stdio_was_closed(int fd)
{
    return fd >= 0 && fd <= 2 && (closed_at_start >> fd & 1);
}

int pp_file_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* An inherited non-blocking descriptor: wait for room as a blocking one would. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        if (w == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

static const char *fd_name(int fd, char *buf, size_t n)
{
    if (fd == STDOUT_FILENO)
        return "standard output";
    if (fd == STDERR_FILENO)
        return "standard error";
    snprintf(buf, n, "file descriptor %d", fd);
    return buf;
}

int pp_file_write_fd(int fd, const void *data, size_t len, char *e, size_t n)
{
    char nb[32];
    if (pp_file_write_all(fd, data, len) == 0)
        return 0;
    int err = errno;
    if (err == EBADF && pp_file_stdio_was_closed(fd))
        pp_errf(e, n,
                "%s is closed (it was closed when the program started): redirect it "
                "to a file or to /dev/null",
                fd_name(fd, nb, sizeof(nb)));
    else
        pp_errf(e, n, "cannot write to %s: %s", fd_name(fd, nb, sizeof(nb)), strerror(err));
    errno = err;
    return -1;
}

static int fail(int err, char *e, size_t n, const char *path, const char *what)
{
    pp_errf(e, n, "%s: %s: %s", path, what, strerror(err));
    errno = err;
    return -1;
}

/* Write into the pipe, device or socket at path, which lstat/stat described as *want. */
static int write_direct(const char *path, const struct stat *want, int follow, const void *data,
                        size_t len, char *e, size_t n)
{
    if (S_ISDIR(want->st_mode))
        return fail(EISDIR, e, n, path, "is a directory; give a file name");
    if (S_ISBLK(want->st_mode))
        return fail(EINVAL, e, n, path,
                    "is a block device; give a regular file, a pipe or a character device");
    if (S_ISSOCK(want->st_mode))
        return fail(ENXIO, e, n, path,
                    "is a socket; give a regular file, a pipe or a character device");
    /* A FIFO is opened without blocking: with no reader, open(2) would wait for one for
     * ever (and wedge the main loop for a metrics file). Writes then block as usual. */
    int fifo = S_ISFIFO(want->st_mode);
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW) |
                            (fifo ? O_NONBLOCK : 0));
    if (fd < 0 && fifo && errno == ENXIO)
        return fail(ENXIO, e, n, path, "is a pipe that no process reads from");
    if (fd < 0)
        return fail(errno, e, n, path, "cannot open it for writing");
    if (fifo) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            int err = errno;
            close(fd);
            return fail(err, e, n, path, "cannot open it for writing");
        }
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
        close(fd);
        return fail(EAGAIN, e, n, path, "was replaced while being opened; try again");
    }
    if (pp_file_write_all(fd, data, len) != 0) {
        int err = errno;
        close(fd);
        return fail(err, e, n, path, "cannot write to it");
    }
    if (close(fd) != 0)
        return fail(errno, e, n, path, "cannot write to it");
    return 0;
}

static uint64_t random64(void)
{
    static uint64_t counter;
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^
            (uint64_t)ts.tv_sec;
    }
    return r ^ ++counter;
}

/* Temporary beside path, fsync when durable, rename over path. */
static int replace(const char *path, const void *data, size_t len, int durable, char *e, size_t n)
{
    char *dir = pp_dirname(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t tn = strlen(dir) + strlen(base) + 32;
    char *tmp = pp_xmalloc(tn);
    int fd = -1, rc = -1, err = 0;

    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, tn, "%s/.%s.%012llx", dir, base,
                 (unsigned long long)(random64() & 0xffffffffffffull));
        /* The kernel applies the umask (and a default ACL) to 0666, as for any new file,
         * so the mode is final before the rename. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        err = errno;
        char what[64 + 4096];
        snprintf(what, sizeof(what), "cannot create a file in the directory %s", dir);
        fail(err, e, n, path, what);
        goto out;
    }
    if (pp_file_write_all(fd, data, len) != 0 || (durable && fsync(fd) != 0)) {
        err = errno;
        close(fd);
        unlink(tmp);
        fail(err, e, n, path, "cannot write the new contents (the old file is unchanged)");
        goto out;
    }
    if (close(fd) != 0) {
        err = errno;
        unlink(tmp);
        fail(err, e, n, path, "cannot write the new contents (the old file is unchanged)");
        goto out;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        fail(err, e, n, path, "cannot replace it");
        goto out;
    }
    /* Make the rename itself durable; some file systems cannot fsync a directory. */
    int dfd = durable ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    free(tmp);
    free(dir);
    if (rc)
        errno = err;
    return rc;
}

/* The stdout or stderr descriptor whose file st describes, or -1. */
static int stdio_fd_of(const struct stat *st)
{
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
        struct stat fs;
        if (fstat(fd, &fs) == 0 && fs.st_dev == st->st_dev && fs.st_ino == st->st_ino)
            return fd;
    }
    return -1;
}

int pp_file_write(const char *path, const void *data, size_t len, unsigned flags, char *e, size_t n)
{
    int durable = (flags & PP_FILE_DURABLE) != 0;
    struct stat st, to;
    if (!path[0]) {
        pp_errf(e, n, "empty file name");
        errno = ENOENT;
        return -1;
    }
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return fail(errno, e, n, path, "cannot look it up");
        return replace(path, data, len, durable, e, n);
    }
    if (S_ISREG(st.st_mode))
        return replace(path, data, len, durable, e, n);
    if (!S_ISLNK(st.st_mode))
        return write_direct(path, &st, 0, data, len, e, n);
    if (stat(path, &to) == 0) {
        /* A link to our own stdout or stderr (/dev/stdout, /dev/fd/1) is written through
         * that descriptor: appended at its offset when it is a file, as the shell's
         * redirection means, rather than the file replaced under it; and an error when
         * the descriptor was closed at start (its placeholder is never written). */
        int fd = stdio_fd_of(&to);
        if (fd >= 0) {
            char err[256];
            if (pp_file_write_fd(fd, data, len, err, sizeof(err)) == 0)
                return 0;
            int saved = errno;
            pp_errf(e, n, "%s: %s", path, err);
            errno = saved;
            return -1;
        }
        if (!S_ISREG(to.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid()))
            return write_direct(path, &to, 1, data, len, e, n);
    }
    /* Never write through a link to a regular file, a dangling link, or one planted by
     * another user: replace the link itself. */
    return replace(path, data, len, durable, e, n);
}
