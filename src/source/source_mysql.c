/* source_mysql: posts from MySQL/MariaDB through prepared statements, batched by key. */
#include "pp_json.h"
#include "pp_log.h"
#include "pp_mysql_value.h"
#include "pp_source.h"
#include "pp_util.h"

#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How often a wait on the server looks at the stop flag, and how long after a stop
 * request a wait goes on: a healthy server answers within the grace, so an ordinary stop
 * neither aborts a round trip nor leaves an aborted connection in the server's log. */
#define STOP_POLL_MS 100
#define STOP_GRACE_US 500000

/* A fetched column: its metadata and the buffers the binding writes into. */
typedef struct column {
    char *name;
    enum enum_field_types type;
    int is_unsigned;
    enum pp_bind_kind kind;
    int64_t i;
    float f;
    double d;
    MYSQL_TIME tm;
    char *text;
    unsigned long text_cap;
    unsigned long length;
    my_bool is_null;
    my_bool error;
} column;

/* The prepared "SELECT * ... WHERE key IN (?, ...)" of one table. */
typedef struct table_query {
    MYSQL_STMT *stmt;
    column *cols;
    MYSQL_BIND *binds;
    int ncols;
    int key_col;
    int label_col; /* category (pin) or country (geo), -1 if none */
    MYSQL_BIND *params;
    int64_t *param_keys;
} table_query;

typedef struct mysql_source {
    pp_source base;
    const pp_config *c;
    MYSQL *db;
    int batch; /* keys per statement */
    table_query q[PP_NTABLES];
} mysql_source;

/* The stop request seen by every wait on the server, or NULL. Process-wide because
 * libmariadb's wait hook (MARIADB_OPT_IO_WAIT) takes no context pointer. */
static volatile sig_atomic_t *stop_flag;
static int64_t stop_seen_us; /* when a wait first saw the stop request; 0 before */
static int stop_abandoned;   /* a wait gave up because of it */

void pp_source_mysql_set_stop(volatile sig_atomic_t *stop)
{
    stop_flag = stop;
    stop_seen_us = 0;
    stop_abandoned = 0;
}

static int stop_requested(void)
{
    return stop_flag && *stop_flag;
}

/* libmariadb's wait for a socket to become readable or writable, replaced so that a stop
 * request ends it: libmariadb's own wait restarts poll() on EINTR with the full timeout,
 * so a SIGTERM while the server is frozen would wait out the whole read timeout (30 s).
 * Returns > 0 when ready, 0 on timeout, -1 on error or stop: libmariadb then fails the
 * call as a lost connection. timeout_ms <= 0 means no timeout. */
static int io_wait(my_socket fd, my_bool is_read, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = is_read ? POLLIN : POLLOUT};
    int64_t deadline = timeout_ms > 0 ? pp_now_us() + (int64_t)timeout_ms * 1000 : 0;
    for (;;) {
        if (stop_requested()) {
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

/* Connection-level trouble is retried; anything an operator must fix is fatal. */
static int classify(unsigned err)
{
    switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_BAD_DB_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_PARSE_ERROR:
    case CR_SSL_CONNECTION_ERROR: return PP_SRC_FATAL;
    default: return PP_SRC_RETRY;
    }
}

static void free_query(table_query *q)
{
    if (q->stmt)
        mysql_stmt_close(q->stmt);
    for (int i = 0; i < q->ncols; i++) {
        free(q->cols[i].name);
        free(q->cols[i].text);
    }
    free(q->cols);
    free(q->binds);
    free(q->params);
    free(q->param_keys);
    memset(q, 0, sizeof(*q));
}

static void disconnect(mysql_source *m)
{
    for (int t = 0; t < PP_NTABLES; t++)
        free_query(&m->q[t]);
    if (m->db)
        mysql_close(m->db);
    m->db = NULL;
}

static int fail_db(mysql_source *m, const char *what, char *e, size_t n)
{
    unsigned err = mysql_errno(m->db);
    int rc = classify(err);
    const char *hint = "";
    if (err == CR_SSL_CONNECTION_ERROR)
        hint = " (check that source.tls_ca holds the CA that signed the server's certificate "
               "and, for verify_identity, that the certificate names the host pinpostd "
               "connects to)";
    else if (err == ER_DBACCESS_DENIED_ERROR || err == ER_BAD_DB_ERROR)
        hint = " (check the database name, RDS_DATABASE or source.database, and that the "
               "account was granted access to it)";
    if (rc == PP_SRC_RETRY && stop_abandoned)
        pp_errf(e, n,
                "%s: abandoned: the server did not answer within %g s of the stop "
                "request",
                what, STOP_GRACE_US / 1e6);
    else
        pp_errf(e, n, "%s: MySQL error %u: %s%s", what, err, mysql_error(m->db), hint);
    if (rc == PP_SRC_RETRY)
        disconnect(m);
    return rc;
}

static int fail_stmt(mysql_source *m, MYSQL_STMT *st, const char *what, char *e, size_t n)
{
    unsigned err = mysql_stmt_errno(st);
    int rc = classify(err);
    if (rc == PP_SRC_RETRY && stop_abandoned)
        pp_errf(e, n,
                "%s: abandoned: the server did not answer within %g s of the stop "
                "request",
                what, STOP_GRACE_US / 1e6);
    else
        pp_errf(e, n, "%s: MySQL error %u: %s", what, err, mysql_stmt_error(st));
    if (rc == PP_SRC_RETRY)
        disconnect(m);
    return rc;
}

static void bind_column(column *c, MYSQL_BIND *b)
{
    memset(b, 0, sizeof(*b));
    b->is_null = &c->is_null;
    b->error = &c->error;
    b->length = &c->length;
    switch (c->kind) {
    case PP_BIND_INT:
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &c->i;
        b->is_unsigned = (my_bool)c->is_unsigned;
        break;
    case PP_BIND_FLOAT:
        b->buffer_type = MYSQL_TYPE_FLOAT;
        b->buffer = &c->f;
        break;
    case PP_BIND_DOUBLE:
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &c->d;
        break;
    case PP_BIND_TIME:
        b->buffer_type = c->type == MYSQL_TYPE_TIME2 ? MYSQL_TYPE_TIME : c->type;
        if (b->buffer_type == MYSQL_TYPE_DATETIME2 || b->buffer_type == MYSQL_TYPE_TIMESTAMP2 ||
            b->buffer_type == MYSQL_TYPE_NEWDATE)
            b->buffer_type = MYSQL_TYPE_DATETIME;
        b->buffer = &c->tm;
        break;
    case PP_BIND_TEXT:
        b->buffer_type = MYSQL_TYPE_STRING;
        b->buffer = c->text;
        b->buffer_length = c->text_cap;
        break;
    }
}

/* The key column's name as its table defines it, into *out (caller frees). The server
 * resolves the configured name as it resolves any identifier (columns case-insensitively,
 * tables as lower_case_table_names says), so pinpostd never compares identifiers itself. */
static int key_column_name(mysql_source *m, enum pp_table t, char **out, char *e, size_t n)
{
    const pp_table_conf *tc = &m->c->source.tables[t];
    char what[256];
    pp_buf sql = {0};
    snprintf(what, sizeof(what), "reading the key column of table %s", tc->table);
    pp_buf_puts(&sql, "SELECT ");
    pp_mysql_quote_ident(&sql, tc->key);
    pp_buf_puts(&sql, " FROM ");
    pp_mysql_quote_ident(&sql, tc->table);
    pp_buf_puts(&sql, " LIMIT 0");
    int failed = mysql_real_query(m->db, sql.data, sql.len);
    pp_buf_free(&sql);
    if (failed)
        return fail_db(m, what, e, n);
    MYSQL_RES *res = mysql_store_result(m->db);
    if (!res)
        return fail_db(m, what, e, n);
    MYSQL_FIELD *f = mysql_fetch_field(res);
    *out = pp_xstrdup(f && f->org_name && *f->org_name ? f->org_name : tc->key);
    mysql_free_result(res);
    return PP_SRC_OK;
}

static int prepare_table(mysql_source *m, enum pp_table t, char *e, size_t n)
{
    const pp_table_conf *tc = &m->c->source.tables[t];
    table_query *q = &m->q[t];
    pp_buf sql = {0};
    MYSQL_RES *meta = NULL;
    char *key_name = NULL;
    int rc = PP_SRC_FATAL;

    pp_buf_puts(&sql, "SELECT * FROM ");
    pp_mysql_quote_ident(&sql, tc->table);
    pp_buf_puts(&sql, " WHERE ");
    pp_mysql_quote_ident(&sql, tc->key);
    pp_buf_puts(&sql, " IN (");
    for (int i = 0; i < m->batch; i++)
        pp_buf_puts(&sql, i ? ",?" : "?");
    pp_buf_puts(&sql, ")");

    q->stmt = mysql_stmt_init(m->db);
    if (!q->stmt) {
        rc = fail_db(m, "mysql_stmt_init", e, n);
        goto out;
    }
    if (mysql_stmt_prepare(q->stmt, sql.data, sql.len)) {
        char what[256];
        unsigned err = mysql_stmt_errno(q->stmt);
        if (err == ER_NO_SUCH_TABLE || err == ER_BAD_FIELD_ERROR) {
            pp_errf(e, n,
                    "source.tables.%s: %s (table '%s', key column '%s'); check "
                    "source.tables.%s.table and .key",
                    pp_table_names[t], mysql_stmt_error(q->stmt), tc->table, tc->key,
                    pp_table_names[t]);
            rc = PP_SRC_FATAL;
            goto out;
        }
        snprintf(what, sizeof(what), "preparing the query on table %s", tc->table);
        rc = fail_stmt(m, q->stmt, what, e, n);
        goto out;
    }
    rc = key_column_name(m, t, &key_name, e, n);
    if (rc != PP_SRC_OK)
        goto out;
    rc = PP_SRC_FATAL;
    meta = mysql_stmt_result_metadata(q->stmt);
    if (!meta) {
        rc = fail_stmt(m, q->stmt, "reading result metadata", e, n);
        goto out;
    }
    q->ncols = (int)mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    q->cols = pp_xcalloc((size_t)q->ncols, sizeof(column));
    q->binds = pp_xcalloc((size_t)q->ncols, sizeof(MYSQL_BIND));
    q->key_col = q->label_col = -1;
    for (int i = 0; i < q->ncols; i++) {
        column *c = &q->cols[i];
        c->name = pp_xstrdup(fields[i].name);
        c->type = fields[i].type;
        c->is_unsigned = (fields[i].flags & UNSIGNED_FLAG) != 0;
        c->kind = pp_mysql_bind_kind(c->type);
        if (c->kind == PP_BIND_TEXT) {
            c->text_cap = 256;
            c->text = pp_xmalloc(c->text_cap);
        }
        bind_column(c, &q->binds[i]);
        const char *real =
            fields[i].org_name && *fields[i].org_name ? fields[i].org_name : fields[i].name;
        if (q->key_col < 0 && !strcmp(real, key_name))
            q->key_col = i;
        /* Column names compare as MySQL compares them: without regard to case. */
        if ((t == PP_PIN && !strcasecmp(c->name, "category")) ||
            (t == PP_GEO && !strcasecmp(c->name, "country")))
            q->label_col = i;
    }
    if (q->key_col < 0 || q->cols[q->key_col].kind != PP_BIND_INT) {
        pp_errf(e, n,
                "source.tables.%s: key column '%s' of table '%s' must be an integer "
                "column; check source.tables.%s.key",
                pp_table_names[t], tc->key, tc->table, pp_table_names[t]);
        rc = PP_SRC_FATAL;
        goto out;
    }
    q->params = pp_xcalloc((size_t)m->batch, sizeof(MYSQL_BIND));
    q->param_keys = pp_xcalloc((size_t)m->batch, sizeof(int64_t));
    for (int i = 0; i < m->batch; i++) {
        q->params[i].buffer_type = MYSQL_TYPE_LONGLONG;
        q->params[i].buffer = &q->param_keys[i];
    }
    if (mysql_stmt_bind_param(q->stmt, q->params)) {
        rc = fail_stmt(m, q->stmt, "binding parameters", e, n);
        goto out;
    }
    rc = PP_SRC_OK;
out:
    if (meta)
        mysql_free_result(meta);
    free(key_name);
    pp_buf_free(&sql);
    return rc;
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

static int mysql_connect_source(pp_source *s, char *e, size_t n)
{
    mysql_source *m = (mysql_source *)s;
    const pp_config *c = m->c;
    unsigned timeout = (unsigned)c->source.connect_timeout_s;
    unsigned io_timeout = 30;

    if (m->db)
        return PP_SRC_OK;
    m->db = mysql_init(NULL);
    if (!m->db) {
        pp_errf(e, n, "mysql_init failed (out of memory)");
        return PP_SRC_RETRY;
    }
    mysql_options(m->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    /* A server that stops answering must not wedge the daemon forever. */
    mysql_options(m->db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(m->db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(m->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(m->db, MARIADB_OPT_IO_WAIT, io_wait);
    set_tls(m->db, c);
    if (!mysql_real_connect(m->db, c->source.socket ? NULL : c->source.host, c->source.user,
                            c->source.password, c->source.database,
                            c->source.socket ? 0 : (unsigned)c->source.port, c->source.socket, 0)) {
        char what[512];
        if (c->source.socket)
            snprintf(what, sizeof(what), "connecting to MySQL at %s as %s", c->source.socket,
                     c->source.user ? c->source.user : "(default user)");
        else
            snprintf(what, sizeof(what), "connecting to MySQL at %s:%d as %s", c->source.host,
                     c->source.port, c->source.user ? c->source.user : "(default user)");
        int rc = fail_db(m, what, e, n);
        disconnect(m);
        return rc;
    }
    log_tls(m->db, c);
    for (int t = 0; t < PP_NTABLES; t++) {
        int rc = prepare_table(m, t, e, n);
        if (rc != PP_SRC_OK) {
            disconnect(m);
            return rc;
        }
    }
    return PP_SRC_OK;
}

static int mysql_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    mysql_source *m = (mysql_source *)s;
    const pp_table_conf *tc = &m->c->source.tables[PP_PIN];
    pp_buf sql = {0};
    int rc = mysql_connect_source(s, e, n);
    if (rc != PP_SRC_OK)
        return rc;

    pp_buf_puts(&sql, "SELECT ");
    pp_mysql_quote_ident(&sql, tc->key);
    pp_buf_puts(&sql, " FROM ");
    pp_mysql_quote_ident(&sql, tc->table);
    pp_buf_puts(&sql, " WHERE ");
    pp_mysql_quote_ident(&sql, tc->key);
    if (pp_keyspace_count(ks))
        pp_buf_printf(&sql, " > %lld", (long long)pp_keyspace_max(ks));
    else
        pp_buf_puts(&sql, " IS NOT NULL");
    pp_buf_puts(&sql, " ORDER BY ");
    pp_mysql_quote_ident(&sql, tc->key);

    /* Streamed (mysql_use_result): memory stays O(runs), not O(rows). */
    if (mysql_real_query(m->db, sql.data, sql.len)) {
        pp_buf_free(&sql);
        return fail_db(m, "reading the post keys", e, n);
    }
    pp_buf_free(&sql);
    MYSQL_RES *res = mysql_use_result(m->db);
    if (!res)
        return fail_db(m, "reading the post keys", e, n);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        int64_t key;
        if (!row[0])
            continue;
        if (pp_parse_int64(row[0], &key)) {
            /* An integer column: only BIGINT UNSIGNED holds what int64_t cannot. Sampling
             * around such keys would skip them silently; refuse the column instead. */
            pp_errf(e, n,
                    "source.tables.pin.key: column '%s' of table '%s' holds the key %.24s, "
                    "above 9223372036854775807 (2^63-1), the largest key pinpostd "
                    "samples; keep the keys of this BIGINT UNSIGNED column below 2^63, "
                    "or point source.tables.pin.key at a signed BIGINT column",
                    tc->key, tc->table, row[0]);
            mysql_free_result(res);
            return PP_SRC_FATAL;
        }
        pp_keyspace_add(ks, key); /* duplicates of a non-unique key column are skipped */
    }
    if (mysql_errno(m->db)) {
        mysql_free_result(res);
        return fail_db(m, "reading the post keys", e, n);
    }
    mysql_free_result(res);
    return PP_SRC_OK;
}

static void encode_row(table_query *q, enum pp_table t, pp_post *p)
{
    pp_buf *b = &p->value[t];
    pp_buf_reset(b);
    pp_json_obj_begin(b);
    for (int i = 0; i < q->ncols; i++) {
        column *c = &q->cols[i];
        pp_mysql_value v = {.type = c->type,
                            .is_unsigned = c->is_unsigned,
                            .is_null = c->is_null,
                            .i = c->i,
                            .f = c->f,
                            .d = c->d,
                            .tm = c->tm,
                            .str = c->text,
                            .len = c->length};
        pp_json_key(b, c->name);
        p->invalid_utf8 += pp_mysql_value_json(b, &v);
    }
    pp_json_obj_end(b);
    if (q->label_col >= 0 && !q->cols[q->label_col].is_null) {
        column *c = &q->cols[q->label_col];
        char *dst = t == PP_PIN ? p->category : p->country;
        size_t len = c->length < sizeof(p->category) - 1 ? c->length : sizeof(p->category) - 1;
        memcpy(dst, c->text, len);
        dst[len] = '\0';
    }
}

/* Fetch truncated text columns in full, growing their buffers. */
static int refetch_truncated(table_query *q)
{
    for (int i = 0; i < q->ncols; i++) {
        column *c = &q->cols[i];
        if (c->kind != PP_BIND_TEXT || !c->error || c->length <= c->text_cap)
            continue;
        c->text_cap = c->length + 1;
        c->text = pp_xrealloc(c->text, c->text_cap);
        bind_column(c, &q->binds[i]);
        if (mysql_stmt_fetch_column(q->stmt, &q->binds[i], (unsigned)i, 0))
            return -1;
    }
    return 0;
}

static int fetch_table(mysql_source *m, enum pp_table t, const int64_t *keys, size_t nkeys,
                       pp_post *posts, char *e, size_t n)
{
    table_query *q = &m->q[t];
    char what[256];
    snprintf(what, sizeof(what), "fetching rows from %s", m->c->source.tables[t].table);

    for (int i = 0; i < m->batch; i++)
        q->param_keys[i] = keys[(size_t)i < nkeys ? (size_t)i : nkeys - 1];
    if (mysql_stmt_execute(q->stmt))
        return fail_stmt(m, q->stmt, what, e, n);
    for (int i = 0; i < q->ncols; i++)
        bind_column(&q->cols[i], &q->binds[i]);
    if (mysql_stmt_bind_result(q->stmt, q->binds))
        return fail_stmt(m, q->stmt, what, e, n);
    for (;;) {
        int r = mysql_stmt_fetch(q->stmt);
        if (r == MYSQL_NO_DATA)
            break;
        if (r == 1)
            return fail_stmt(m, q->stmt, what, e, n);
        if (r == MYSQL_DATA_TRUNCATED) {
            if (refetch_truncated(q))
                return fail_stmt(m, q->stmt, what, e, n);
            for (int i = 0; i < q->ncols; i++)
                bind_column(&q->cols[i], &q->binds[i]);
            if (mysql_stmt_bind_result(q->stmt, q->binds))
                return fail_stmt(m, q->stmt, what, e, n);
        }
        column *kc = &q->cols[q->key_col];
        if (kc->is_null || (kc->is_unsigned && kc->i < 0))
            continue; /* no key, or an unsigned one above INT64_MAX: never a sampled key */
        pp_post *first = NULL;
        for (size_t i = 0; i < nkeys; i++) {
            pp_post *p = &posts[i];
            if (p->key != kc->i || (p->found & (1u << t)))
                continue; /* another key, or a duplicate row for this key: first wins */
            if (!first) {
                encode_row(q, t, p);
                first = p;
            } else {
                pp_buf_reset(&p->value[t]);
                pp_buf_append(&p->value[t], first->value[t].data, first->value[t].len);
                memcpy(p->category, first->category, sizeof(p->category));
                memcpy(p->country, first->country, sizeof(p->country));
                p->invalid_utf8 = first->invalid_utf8;
            }
            p->found |= 1u << t;
        }
    }
    mysql_stmt_free_result(q->stmt);
    return PP_SRC_OK;
}

static int mysql_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts, char *e,
                       size_t n)
{
    mysql_source *m = (mysql_source *)s;
    int rc = mysql_connect_source(s, e, n);
    if (rc != PP_SRC_OK)
        return rc;
    for (size_t off = 0; off < nkeys; off += (size_t)m->batch) {
        size_t cnt = nkeys - off < (size_t)m->batch ? nkeys - off : (size_t)m->batch;
        for (size_t i = off; i < off + cnt; i++) {
            posts[i].key = keys[i];
            posts[i].found = 0;
            posts[i].invalid_utf8 = 0;
            posts[i].category[0] = posts[i].country[0] = '\0';
        }
        for (int t = 0; t < PP_NTABLES; t++) {
            rc = fetch_table(m, t, keys + off, cnt, posts + off, e, n);
            if (rc != PP_SRC_OK)
                return rc;
        }
    }
    return PP_SRC_OK;
}

static void mysql_describe(pp_source *s, char *out, size_t n)
{
    mysql_source *m = (mysql_source *)s;
    const pp_config *c = m->c;
    if (c->source.socket)
        snprintf(out, n, "MySQL %s database %s", c->source.socket,
                 c->source.database ? c->source.database : "(default)");
    else
        snprintf(out, n, "MySQL %s:%d database %s", c->source.host, c->source.port,
                 c->source.database ? c->source.database : "(default)");
}

static void mysql_destroy(pp_source *s)
{
    mysql_source *m = (mysql_source *)s;
    disconnect(m);
    free(m);
}

static const pp_source_ops mysql_ops = {mysql_connect_source, mysql_load_keys, mysql_fetch,
                                        mysql_describe, mysql_destroy};

pp_source *pp_source_mysql_new(const pp_config *c)
{
    mysql_source *m = pp_xcalloc(1, sizeof(*m));
    m->base.ops = &mysql_ops;
    m->c = c;
    m->batch = c->source.batch;
    return &m->base;
}
