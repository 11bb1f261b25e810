/* mysql: the one MySQL/MariaDB connect: TLS modes, timeouts, utf8mb4, the stop hook. */
#include "pp_log.h"
#include "pp_mysql.h"
#include "pp_util.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdio.h>

/* How often a wait on the server looks at the stop flag, and how long after a stop
 * request a wait goes on: a healthy server answers within the grace, so an ordinary stop
 * neither aborts a round trip nor leaves an aborted connection in the server's log. */
#define STOP_POLL_MS 100
#define STOP_GRACE_US 500000

/* The stop request seen by every wait on the server, or NULL. Process-wide because
 * libmariadb's wait hook (MARIADB_OPT_IO_WAIT) takes no context pointer. */
static volatile sig_atomic_t *stop_flag;
static int64_t stop_seen_us; /* when a wait first saw the stop request; 0 before */
static int stop_abandoned;   /* a wait gave up because of it */

void pp_mysql_set_stop(volatile sig_atomic_t *stop)
{
    stop_flag = stop;
    stop_seen_us = 0;
    stop_abandoned = 0;
}

/* libmariadb's wait for a socket to become readable or writable, replaced so that a stop
 * request ends it: libmariadb's own wait restarts poll() on EINTR with the full timeout,
 * so a SIGTERM while the server is frozen would wait out the whole read timeout.
 * Returns > 0 when ready, 0 on timeout, -1 on error or stop: libmariadb then fails the
 * call as a lost connection. timeout_ms <= 0 means no timeout. */
static int io_wait(my_socket fd, my_bool is_read, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = is_read ? POLLIN : POLLOUT};
    int64_t deadline = timeout_ms > 0 ? pp_now_us() + (int64_t)timeout_ms * 1000 : 0;
    for (;;) {
        if (stop_flag && *stop_flag) {
            int64_t now = pp_now_us();
            if (!stop_seen_us)
                stop_seen_us = now;
            if (now - stop_seen_us >= STOP_GRACE_US) {
                stop_abandoned = 1;
                errno = EINTR;
                return -1;
            }
        }
        int slice = STOP_POLL_MS;
        if (deadline) {
            int64_t left_ms = (deadline - pp_now_us() + 999) / 1000;
            if (left_ms <= 0) {
                errno = ETIMEDOUT;
                return 0;
            }
            if (left_ms < slice)
                slice = (int)left_ms;
        }
        int rc = poll(&p, 1, slice);
        if (rc > 0)
            return rc;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int pp_mysql_error_is_fatal(unsigned err)
{
    switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_BAD_DB_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_PARSE_ERROR:
    case CR_SSL_CONNECTION_ERROR: return 1;
    default: return 0;
    }
}

void pp_mysql_error(unsigned err, const char *text, const char *what, char *e, size_t n)
{
    const char *hint = "";
    if (err == CR_SSL_CONNECTION_ERROR)
        hint = " (check that source.tls_ca holds the CA that signed the server's certificate "
               "and, for verify_identity, that the certificate names the host pinpostd "
               "connects to)";
    else if (err == ER_DBACCESS_DENIED_ERROR || err == ER_BAD_DB_ERROR)
        hint = " (check the database name, RDS_DATABASE or source.database, and that the "
               "account was granted access to it)";
    /* A wait ended by a stop request fails as a lost connection: say so rather than blame
     * the server. What an operator must fix keeps its words. */
    if (stop_abandoned && !pp_mysql_error_is_fatal(err))
        pp_errf(e, n, "%s: abandoned: the server did not answer within %g s of the stop request",
                what, STOP_GRACE_US / 1e6);
    else
        pp_errf(e, n, "%s: MySQL error %u: %s%s", what, err, text, hint);
}

/* Connector/C speaks TLS only when an SSL option is set; with a CA it verifies the chain,
 * and MYSQL_OPT_SSL_VERIFY_SERVER_CERT adds the host name check. */
static void set_tls(MYSQL *db, const pp_config *c)
{
    my_bool on = 1, off = 0;
    switch (c->source.tls) {
    case PP_TLS_DISABLED: return;
    case PP_TLS_PREFERRED:
        mysql_ssl_set(db, NULL, NULL, NULL, NULL, NULL);
        mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
        return;
    case PP_TLS_REQUIRED:
        mysql_options(db, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
        return;
    case PP_TLS_VERIFY_CA:
    case PP_TLS_VERIFY_IDENTITY:
        mysql_options(db, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(db, MYSQL_OPT_SSL_CA, c->source.tls_ca);
        mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
                      c->source.tls == PP_TLS_VERIFY_IDENTITY ? &on : &off);
        return;
    }
}

static void log_tls(MYSQL *db, const pp_config *c)
{
    const char *cipher = mysql_get_ssl_cipher(db);
    if (cipher)
        pp_log_info("MySQL connection encrypted (%s, tls: %s)", cipher,
                    pp_tls_mode_names[c->source.tls]);
    else if (c->source.tls == PP_TLS_PREFERRED)
        pp_log_warn("MySQL server offers no TLS: connection is NOT encrypted (source.tls: "
                    "preferred); set source.tls: required to refuse such a server");
    else if (!c->source.socket)
        pp_log_info("MySQL connection not encrypted (source.tls: disabled)");
}

MYSQL *pp_mysql_connect(const pp_config *c, unsigned *err, char *e, size_t n)
{
    unsigned timeout = (unsigned)c->source.connect_timeout_s;
    unsigned io_timeout = PP_MYSQL_IO_TIMEOUT_S;
    const char *user = c->source.user ? c->source.user : "(default user)";
    char what[512];

    if (err)
        *err = 0;
    MYSQL *db = mysql_init(NULL);
    if (!db) {
        pp_errf(e, n, "mysql_init failed (out of memory)");
        return NULL;
    }
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(db, MARIADB_OPT_IO_WAIT, io_wait);
    set_tls(db, c);
    if (!mysql_real_connect(db, c->source.socket ? NULL : c->source.host, c->source.user,
                            c->source.password, c->source.database,
                            c->source.socket ? 0 : (unsigned)c->source.port, c->source.socket, 0)) {
        if (c->source.socket)
            snprintf(what, sizeof(what), "connecting to MySQL at %s as %s", c->source.socket, user);
        else
            snprintf(what, sizeof(what), "connecting to MySQL at %s:%d as %s", c->source.host,
                     c->source.port, user);
        if (err)
            *err = mysql_errno(db);
        pp_mysql_error(mysql_errno(db), mysql_error(db), what, e, n);
        mysql_close(db);
        return NULL;
    }
    log_tls(db, c);
    return db;
}
