/* pp_mysql: the one MySQL/MariaDB connect of every program that reads the database
 * (pinpostd's source, pinpost-verify --rows). It applies source.tls and source.tls_ca
 * (MySQL's --ssl-mode names), source.connect_timeout and a read/write timeout, the
 * utf8mb4 character set, and a wait hook that ends any wait on the server soon after a
 * stop request; it logs whether the session is encrypted, and words errors the same way
 * for every program ("connecting to MySQL at H:P as U: MySQL error N: text (hint)"). */
#ifndef PP_MYSQL_H
#define PP_MYSQL_H

#include <mysql.h>
#include <signal.h>
#include <stddef.h>

#include "pp_config.h"

/* How long one read or write on the server may take: a server that stops answering must
 * not wedge a program forever. */
#define PP_MYSQL_IO_TIMEOUT_S 30

/* Connect as c->source says (host:port or socket, user, password, database, TLS,
 * timeouts, utf8mb4). Returns the connection (close it with mysql_close), or NULL with
 * errstr set as pp_mysql_error words it, prefixed by where and as whom ("connecting to
 * MySQL at 127.0.0.1:3306 as pinpost"), and *err (when not NULL) the MySQL error number
 * (0 when the client library could not even allocate the handle). The password never
 * appears in errstr. c is read during the call only. */
MYSQL *pp_mysql_connect(const pp_config *c, unsigned *err, char *errstr, size_t errstr_size);

/* True for the errors an operator must fix (access denied, unknown database, table or
 * column, bad SQL, TLS verification failed): trying again will not help. Anything else
 * (lost connection, timeout, server gone) may pass. */
int pp_mysql_error_is_fatal(unsigned err);

/* errstr = "what: MySQL error N: text", with a hint for the errors an operator fixes
 * (TLS verification: source.tls_ca and the host name; unknown or forbidden database), or
 * "what: abandoned: the server did not answer within 0.5 s of the stop request" for an
 * error that is not fatal once a wait gave up because of a stop request. err and text are the failed call's
 * (mysql_errno/mysql_error, or the statement's). */
void pp_mysql_error(unsigned err, const char *text, const char *what, char *errstr,
                    size_t errstr_size);

/* Every wait on a server (connect, query, fetch) of a connection made by
 * pp_mysql_connect gives up within about 0.6 s once *stop is set: libmariadb retries
 * poll() on EINTR with the whole timeout, so a signal alone does not end it. Process-wide
 * (libmariadb's wait hook has no context pointer); NULL turns it off, and setting it again
 * forgets that an earlier wait gave up. */
void pp_mysql_set_stop(volatile sig_atomic_t *stop);

#endif
