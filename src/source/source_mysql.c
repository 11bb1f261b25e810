/* source_mysql: posts from MySQL/MariaDB through prepared statements, batched by key. */
#include "pp_json.h"
#include "pp_log.h"
#include "pp_mysql.h"
#include "pp_mysql_value.h"
#include "pp_source.h"
#include "pp_util.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    int live; /* emulation.timestamps: now rewrites it (pp_post_stamp) */
    int fsp;  /* its fractional-second digits */
} column;

/* The prepared "SELECT * ... WHERE key IN (?, ...)" of one table. */
typedef struct table_query {
    MYSQL_STMT *stmt;
    column *cols;
    MYSQL_BIND *binds;
    int ncols;
    int key_col;
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

/* The connection's stop hook (pp_mysql_set_stop), under the name pp_source.h gives it. */
void pp_source_mysql_set_stop(volatile sig_atomic_t *stop)
{
    pp_mysql_set_stop(stop);
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

/* Word the failed call's error; a connection-level one (retried) also drops the
 * connection, which the next call makes anew. */
static int fail_code(mysql_source *m, unsigned err, const char *text, const char *what, char *e,
                     size_t n)
{
    int rc = pp_mysql_error_is_fatal(err) ? PP_SRC_FATAL : PP_SRC_RETRY;
    pp_mysql_error(err, text, what, e, n);
    if (rc == PP_SRC_RETRY)
        disconnect(m);
    return rc;
}

static int fail_db(mysql_source *m, const char *what, char *e, size_t n)
{
    return fail_code(m, mysql_errno(m->db), mysql_error(m->db), what, e, n);
}

static int fail_stmt(mysql_source *m, MYSQL_STMT *st, const char *what, char *e, size_t n)
{
    return fail_code(m, mysql_stmt_errno(st), mysql_stmt_error(st), what, e, n);
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

/* Column `name`'s name as table t defines it, into *out (caller frees). The server
 * resolves the configured name as it resolves any identifier (columns case-insensitively,
 * tables as lower_case_table_names says), so pinpostd never compares identifiers itself.
 * A table without such a column: PP_SRC_FATAL with *missing set (errstr not written). */
static int column_name(mysql_source *m, enum pp_table t, const char *name, const char *role,
                       char **out, int *missing, char *e, size_t n)
{
    const pp_table_conf *tc = &m->c->source.tables[t];
    char what[256];
    pp_buf sql = {0};
    snprintf(what, sizeof(what), "reading the %s column of table %s", role, tc->table);
    pp_buf_puts(&sql, "SELECT ");
    pp_mysql_quote_ident(&sql, name);
    pp_buf_puts(&sql, " FROM ");
    pp_mysql_quote_ident(&sql, tc->table);
    pp_buf_puts(&sql, " LIMIT 0");
    int failed = mysql_real_query(m->db, sql.data, sql.len);
    pp_buf_free(&sql);
    if (failed && mysql_errno(m->db) == ER_BAD_FIELD_ERROR) {
        *missing = 1;
        return PP_SRC_FATAL;
    }
    if (failed)
        return fail_db(m, what, e, n);
    MYSQL_RES *res = mysql_store_result(m->db);
    if (!res)
        return fail_db(m, what, e, n);
    MYSQL_FIELD *f = mysql_fetch_field(res);
    *out = pp_xstrdup(f && f->org_name && *f->org_name ? f->org_name : name);
    mysql_free_result(res);
    return PP_SRC_OK;
}

/* A column's SQL type, for an error message. */
static const char *type_name(const MYSQL_FIELD *f)
{
    int binary = f->charsetnr == 63;
    switch (f->type) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: return "DECIMAL";
    case MYSQL_TYPE_TINY: return "TINYINT";
    case MYSQL_TYPE_SHORT: return "SMALLINT";
    case MYSQL_TYPE_INT24: return "MEDIUMINT";
    case MYSQL_TYPE_LONG: return "INT";
    case MYSQL_TYPE_LONGLONG: return "BIGINT";
    case MYSQL_TYPE_FLOAT: return "FLOAT";
    case MYSQL_TYPE_DOUBLE: return "DOUBLE";
    case MYSQL_TYPE_YEAR: return "YEAR";
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: return "DATE";
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2: return "TIME";
    case MYSQL_TYPE_BIT: return "BIT";
    case MYSQL_TYPE_JSON: return "JSON";
    case MYSQL_TYPE_GEOMETRY: return "GEOMETRY";
    case MYSQL_TYPE_ENUM: return "ENUM";
    case MYSQL_TYPE_SET: return "SET";
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
        if (f->flags & ENUM_FLAG)
            return "ENUM";
        if (f->flags & SET_FLAG)
            return "SET";
        if (f->type == MYSQL_TYPE_STRING)
            return binary ? "BINARY" : "CHAR";
        return binary ? "VARBINARY" : "VARCHAR";
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB: return binary ? "BLOB" : "TEXT";
    default: return "not a date and time type";
    }
}

static int is_datetime(enum enum_field_types type)
{
    return type == MYSQL_TYPE_DATETIME || type == MYSQL_TYPE_DATETIME2 ||
           type == MYSQL_TYPE_TIMESTAMP || type == MYSQL_TYPE_TIMESTAMP2;
}

/* Mark table t's live columns (emulation.timestamps: now). A live column the table lacks,
 * or one that is not DATETIME/TIMESTAMP, is the operator's to fix: PP_SRC_FATAL naming the
 * key, the table and what the column is. */
static int prepare_live(mysql_source *m, enum pp_table t, const MYSQL_FIELD *fields, char *e,
                        size_t n)
{
    const pp_config *c = m->c;
    const pp_table_conf *tc = &c->source.tables[t];
    table_query *q = &m->q[t];
    if (!c->emulation.timestamps_now)
        return PP_SRC_OK;
    for (size_t k = 0; k < c->emulation.nlive; k++) {
        const pp_live_column *lc = &c->emulation.live[k];
        if (lc->table != t)
            continue;
        char *name = NULL;
        int missing = 0;
        int rc = column_name(m, t, lc->column, "live timestamp", &name, &missing, e, n);
        if (missing)
            return pp_errf(e, n,
                           "emulation.timestamp_columns: %s.%s: table '%s' has no column '%s'; "
                           "list DATETIME or TIMESTAMP columns as table.column (table: pin, "
                           "geo or user)",
                           pp_table_names[t], lc->column, tc->table, lc->column),
                   PP_SRC_FATAL;
        if (rc != PP_SRC_OK)
            return rc;
        int i = 0;
        while (i < q->ncols && strcmp(fields[i].org_name && *fields[i].org_name ? fields[i].org_name
                                                                                : fields[i].name,
                                      name) != 0)
            i++;
        free(name);
        if (i == q->ncols) /* an INVISIBLE column: SELECT * leaves it out */
            return pp_errf(e, n,
                           "emulation.timestamp_columns: %s.%s: column '%s' of table '%s' is "
                           "not among the columns pinpostd sends (SELECT * leaves it out)",
                           pp_table_names[t], lc->column, lc->column, tc->table),
                   PP_SRC_FATAL;
        if (!is_datetime(fields[i].type))
            return pp_errf(e, n,
                           "emulation.timestamp_columns: %s.%s: column '%s' of table '%s' is %s, "
                           "not DATETIME or TIMESTAMP; live timestamps go only into DATETIME or "
                           "TIMESTAMP columns",
                           pp_table_names[t], lc->column, fields[i].name, tc->table,
                           type_name(&fields[i])),
                   PP_SRC_FATAL;
        q->cols[i].live = 1;
        q->cols[i].fsp = fields[i].decimals > 6 ? 6 : (int)fields[i].decimals;
    }
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
    int missing = 0;
    rc = column_name(m, t, tc->key, "key", &key_name, &missing, e, n);
    if (missing)
        pp_errf(e, n,
                "source.tables.%s: table '%s' has no key column '%s'; check source.tables.%s.key",
                pp_table_names[t], tc->table, tc->key, pp_table_names[t]);
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
    q->key_col = -1;
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
    }
    if (q->key_col < 0 || q->cols[q->key_col].kind != PP_BIND_INT) {
        pp_errf(e, n,
                "source.tables.%s: key column '%s' of table '%s' must be an integer "
                "column; check source.tables.%s.key",
                pp_table_names[t], tc->key, tc->table, pp_table_names[t]);
        rc = PP_SRC_FATAL;
        goto out;
    }
    rc = prepare_live(m, t, fields, e, n);
    if (rc != PP_SRC_OK)
        goto out;
    rc = PP_SRC_FATAL;
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

static pp_src_status mysql_connect_source(pp_source *s, char *e, size_t n)
{
    mysql_source *m = (mysql_source *)s;
    unsigned err;

    if (m->db)
        return PP_SRC_OK;
    m->db = pp_mysql_connect(m->c, &err, e, n);
    if (!m->db)
        return pp_mysql_error_is_fatal(err) ? PP_SRC_FATAL : PP_SRC_RETRY;
    for (int t = 0; t < PP_NTABLES; t++) {
        int rc = prepare_table(m, t, e, n);
        if (rc != PP_SRC_OK) {
            disconnect(m);
            return rc;
        }
    }
    return PP_SRC_OK;
}

/* The server's estimate of the rows of the post table (information_schema: InnoDB's
 * statistics, no scan), for the progress of a first read of its keys; 0 if unknown. */
static uint64_t estimate_rows(mysql_source *m, const char *table)
{
    uint64_t rows = 0;
    size_t len = strlen(table);
    char *esc = pp_xmalloc(2 * len + 1);
    pp_buf sql = {0};
    mysql_real_escape_string(m->db, esc, table, (unsigned long)len);
    pp_buf_printf(&sql,
                  "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '%s'",
                  esc);
    free(esc);
    if (mysql_real_query(m->db, sql.data, sql.len) == 0) {
        MYSQL_RES *res = mysql_store_result(m->db);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        int64_t v;
        if (row && row[0] && pp_parse_int64(row[0], &v) == 0 && v > 0)
            rows = (uint64_t)v;
        if (res)
            mysql_free_result(res);
    }
    pp_buf_free(&sql);
    return rows;
}

static pp_src_status mysql_load_keys(pp_source *s, pp_keyspace *ks, char *e, size_t n)
{
    mysql_source *m = (mysql_source *)s;
    const pp_table_conf *tc = &m->c->source.tables[PP_PIN];
    pp_buf sql = {0};
    int rc = mysql_connect_source(s, e, n);
    if (rc != PP_SRC_OK)
        return rc;

    /* A first read of a big table takes a while (about 2 s per million rows): the
     * listener hears how far it got. */
    uint64_t expected = s->progress.fn && !pp_keyspace_count(ks) ? estimate_rows(m, tc->table) : 0;
    uint64_t seen = 0;

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
        if ((++seen & 0xffff) == 0)
            pp_source_progress(s, "reading the post keys", seen, expected);
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
        if (c->live) /* rewritten as the post is handed out, whatever the row holds */
            pp_post_live_put(p, t, c->fsp);
        else
            p->invalid_utf8 += pp_mysql_value_json(b, &v);
    }
    pp_json_obj_end(b);
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
                pp_post_live_copy(p, first, t);
                p->invalid_utf8 = first->invalid_utf8;
            }
            p->found |= 1u << t;
        }
    }
    mysql_stmt_free_result(q->stmt);
    return PP_SRC_OK;
}

static pp_src_status mysql_fetch(pp_source *s, const int64_t *keys, size_t nkeys, pp_post *posts,
                                 char *e, size_t n)
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
            posts[i].nlive = 0;
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
