/* Unit tests of pp_file: safe replacement of output files, writes to descriptors, and
 * the fd 0-2 guard. */
#include "unit.h"

#include "pp_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_contents(const char *path, const char *want)
{
    char *got = slurp(path);
    if (strcmp(got, want) != 0)
        fail_msg("%s holds '%s', want '%s'", path, got, want);
    free(got);
}

/* How many entries dir holds, besides . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int write_str(const char *path, const char *text, char *err, size_t n)
{
    return pp_file_write(path, text, strlen(text), PP_FILE_DURABLE, err, n);
}

static void write__new_and_existing_file__replaced_whole_with_umask_mode(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *path = join(dir, "r.json");
    mode_t old = umask(027);
    assert_int_equal(write_str(path, "first\n", err, sizeof(err)), 0);
    assert_contents(path, "first\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    umask(022);
    assert_int_equal(write_str(path, "second, longer\n", err, sizeof(err)), 0);
    assert_contents(path, "second, longer\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    umask(old);
    assert_int_equal(count_entries(dir), 1); /* no temporary left behind */
    free(path);
    unit_rmdir(dir);
}

static void write__planted_links__victim_untouched(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *victim = unit_write_file(dir, "victim", "precious\n");
    char *path = join(dir, "r.json");
    char *tmp = join(dir, "r.json.tmp");
    /* The fixed temporary name of old, and the target itself, both planted. */
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(write_str(path, "report\n", err, sizeof(err)), 0);
    assert_contents(victim, "precious\n");
    assert_contents(path, "report\n");
    unlink(path);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(write_str(path, "report 2\n", err, sizeof(err)), 0);
    assert_contents(victim, "precious\n");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode)); /* the link was replaced, not followed */
    assert_contents(path, "report 2\n");
    /* A dangling link: replaced too, nothing created where it pointed. */
    char *nowhere = join(dir, "nowhere");
    unlink(path);
    assert_int_equal(symlink(nowhere, path), 0);
    assert_int_equal(write_str(path, "report 3\n", err, sizeof(err)), 0);
    assert_int_equal(access(nowhere, F_OK), -1);
    assert_contents(path, "report 3\n");
    free(nowhere);
    free(victim);
    free(path);
    free(tmp);
    unit_rmdir(dir);
}

static void write__devices__written_directly_never_replaced(void **state)
{
    (void)state;
    char err[512] = "";
    struct stat st;
    assert_int_equal(write_str("/dev/null", "x\n", err, sizeof(err)), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    /* A full device: the error is reported, and the node stays. */
    errno = 0;
    assert_int_equal(write_str("/dev/full", "x\n", err, sizeof(err)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_non_null(strstr(err, "/dev/full: cannot write to it: No space left on device"));
    assert_int_equal(stat("/dev/full", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    /* Through a link we own (as /dev/stdout is root's): followed. */
    char *dir = unit_tmpdir();
    char *link = join(dir, "full");
    assert_int_equal(symlink("/dev/full", link), 0);
    assert_int_equal(write_str(link, "x\n", err, sizeof(err)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* The same link owned by another user is not followed: it is replaced. */
    if (geteuid() == 0) {
        assert_int_equal(lchown(link, 4242, 4242), 0);
        assert_int_equal(write_str(link, "y\n", err, sizeof(err)), 0);
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_contents(link, "y\n");
    }
    free(link);
    unit_rmdir(dir);
}

static void write__fifo__written_directly(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *fifo = join(dir, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so opening to write succeeds */
    assert_true(rd >= 0);
    assert_int_equal(write_str(fifo, "through the pipe\n", err, sizeof(err)), 0);
    char buf[64] = "";
    assert_int_equal(read(rd, buf, sizeof(buf) - 1), 17);
    assert_string_equal(buf, "through the pipe\n");
    close(rd);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(count_entries(dir), 1);
    free(fifo);
    unit_rmdir(dir);
}

static void write__bad_targets__clear_errors_nothing_left(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *sub = join(dir, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(write_str(sub, "x", err, sizeof(err)), -1);
    assert_int_equal(errno, EISDIR);
    assert_non_null(strstr(err, "sub: is a directory; give a file name"));
    char *missing = join(dir, "no/such/r.json");
    assert_int_equal(write_str(missing, "x", err, sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "no/such/r.json: cannot create a file in the directory "));
    assert_non_null(strstr(err, "no/such: No such file or directory"));
    assert_int_equal(write_str("", "x", err, sizeof(err)), -1);
    assert_int_equal(count_entries(dir), 1); /* only sub */
    free(sub);
    free(missing);
    unit_rmdir(dir);
}

static void write__file_too_large__old_file_intact_no_temporary(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *path = unit_write_file(dir, "metrics.prom", "old\n");
    /* RLIMIT_FSIZE fails writes past the limit like a full disk (EFBIG for ENOSPC). */
    struct rlimit saved, small = {.rlim_cur = 1024};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    char big[4096];
    memset(big, 'x', sizeof(big));
    int rc = pp_file_write(path, big, sizeof(big), 0, err, sizeof(err));
    int e = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);
    assert_non_null(strstr(err, "the old file is unchanged"));
    assert_contents(path, "old\n");
    assert_int_equal(count_entries(dir), 1);
    free(path);
    unit_rmdir(dir);
}

static void write__link_to_our_stdout_file__appended_through_it(void **state)
{
    (void)state;
    char *dir = unit_tmpdir(), err[512] = "";
    char *out = join(dir, "out.txt");
    char *link = join(dir, "stdout");
    fflush(stdout);
    int saved = dup(1);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    assert_int_equal(write(1, "lines before\n", 13), 13);
    assert_int_equal(symlink("/proc/self/fd/1", link), 0);
    int rc = write_str(link, "report\n", err, sizeof(err));
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    assert_contents(out, "lines before\nreport\n");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(out);
    free(link);
    unit_rmdir(dir);
}

typedef struct drain {
    int fd;
    size_t got;
} drain;

static void *drain_slowly(void *arg)
{
    drain *d = arg;
    char buf[4096];
    ssize_t n;
    usleep(20000); /* let the writer fill the pipe and meet EAGAIN */
    while ((n = read(d->fd, buf, sizeof(buf))) > 0)
        d->got += (size_t)n;
    return NULL;
}

static void write_all__nonblocking_pipe__every_byte(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    drain d = {.fd = p[0]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_slowly, &d), 0);
    size_t len = 1 << 20; /* far over a pipe's buffer */
    char *big = calloc(1, len);
    assert_int_equal(pp_file_write_all(p[1], big, len), 0);
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    assert_int_equal(d.got, len);
    free(big);
}

/* In a child: close fds 0 and 1, guard, then check what the program would see. */
static void guard__closed_stdout__placeholder_that_refuses_writes(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(0);
        close(1);
        if (pp_file_guard_stdio() != 0)
            _exit(10);
        if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0)
            _exit(11);
        int s = open("/dev/null", O_RDONLY); /* what a MySQL socket would have taken */
        if (s <= 2)
            _exit(12);
        char c;
        if (read(0, &c, 1) != 0)
            _exit(13);
        if (write(1, "x", 1) != -1 || errno != EBADF)
            _exit(14);
        if (!pp_file_stdio_was_closed(0) || !pp_file_stdio_was_closed(1) ||
            pp_file_stdio_was_closed(2))
            _exit(15);
        char err[256] = "";
        if (pp_file_write_fd(1, "x", 1, err, sizeof(err)) != -1 ||
            !strstr(err, "standard output is closed (it was closed when the program started)"))
            _exit(16);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* Nothing closed: nothing changed. */
    assert_int_equal(pp_file_guard_stdio(), 0);
    assert_false(pp_file_stdio_was_closed(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write__new_and_existing_file__replaced_whole_with_umask_mode),
        cmocka_unit_test(write__planted_links__victim_untouched),
        cmocka_unit_test(write__devices__written_directly_never_replaced),
        cmocka_unit_test(write__fifo__written_directly),
        cmocka_unit_test(write__bad_targets__clear_errors_nothing_left),
        cmocka_unit_test(write__file_too_large__old_file_intact_no_temporary),
        cmocka_unit_test(write__link_to_our_stdout_file__appended_through_it),
        cmocka_unit_test(write_all__nonblocking_pipe__every_byte),
        cmocka_unit_test(guard__closed_stdout__placeholder_that_refuses_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
