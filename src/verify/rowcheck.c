/* rowcheck: field-by-field comparison of a message value with a text-protocol row, and
 * the batched database reads of pinpost-verify --rows. */
#include "pp_rowcheck.h"
#include "pp_buf.h"
#include "pp_json.h"
#include "pp_log.h"
#include "pp_mysql.h"
#include "pp_mysql_value.h"
#include "pp_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "YYYY-MM-DD HH:MM:SS[.f...]" with the fraction as exactly six digits, or none when it
 * is zero: MySQL prints the column's declared precision, the contract prints .ffffff only
 * for a non-zero fraction. */
static void normalise_temporal(const char *s, size_t n, char *out, size_t out_size)
{
    const char *dot = memchr(s, '.', n);
    size_t head = dot ? (size_t)(dot - s) : n;
    char frac[7] = "000000";
    if (dot) {
        size_t fn = n - head - 1;
        memcpy(frac, dot + 1, fn < 6 ? fn : 6);
    }
    if (head >= out_size)
        head = out_size - 1;
    memcpy(out, s, head);
    out[head] = '\0';
    if (strcmp(frac, "000000") != 0 && head + 8 < out_size) {
        out[head] = '.';
        memcpy(out + head + 1, frac, 7);
    }
}

/* n digits at s as a number, or -1 when one is not a digit. */
static long number(const char *s, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int pp_rowcheck_datetime_valid(const char *s, int fsp)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t n = strlen(s);
    if ((n != 19 && n != 26) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
        s[16] != ':')
        return 0;
    long y = number(s, 4), mo = number(s + 5, 2), d = number(s + 8, 2);
    long h = number(s + 11, 2), mi = number(s + 14, 2), se = number(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return 0;
    if (n == 19)
        return 1;
    long frac = s[19] == '.' ? number(s + 20, 6) : -1;
    if (frac <= 0) /* not digits, or a zero fraction the contract leaves out */
        return 0;
    for (int i = fsp < 0 ? 0 : fsp; i < 6; i++) /* digits the column does not keep */
        if (s[20 + i] != '0')
            return 0;
    return 1;
}

int pp_rowcheck_parse_live(const char *text, enum pp_table *t, char *column, size_t column_size,
                           char *why, size_t n)
{
    const char *dot = strchr(text, '.');
    int found = -1;
    for (int i = 0; dot && i < PP_NTABLES; i++)
        if ((size_t)(dot - text) == strlen(pp_table_names[i]) &&
            !strncmp(text, pp_table_names[i], (size_t)(dot - text)))
            found = i;
    if (found < 0 || !dot[1])
        return pp_errf(why, n,
                       "'%.64s' is not TABLE.COLUMN with TABLE one of pin, geo, user (for "
                       "example geo.timestamp)",
                       text),
               -1;
    if (strlen(dot + 1) >= column_size)
        return pp_errf(why, n, "'%.64s': the column name is too long", text), -1;
    *t = (enum pp_table)found;
    strcpy(column, dot + 1);
    return 0;
}

/* A live column's value: whatever the row holds (NULL too), pinpostd wrote the emission
 * time there. */
static int check_live(const cJSON *v, const pp_db_column *c, int fsp, char *why, size_t n)
{
    if (!cJSON_IsString(v) || !pp_rowcheck_datetime_valid(v->valuestring, fsp))
        return pp_errf(why, n,
                       "%s: a live timestamp, but not a DATETIME as the contract writes it "
                       "(\"YYYY-MM-DD HH:MM:SS\" and a fraction within the column's %d digits)",
                       c->name, fsp),
               -1;
    return 0;
}

static int check_field(const cJSON *v, const pp_db_column *c, const char *db, unsigned long len,
                       char *why, size_t n)
{
    if (!db) {
        if (!cJSON_IsNull(v))
            return pp_errf(why, n, "%s: expected null", c->name), -1;
        return 0;
    }
    switch (c->type) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        if (!cJSON_IsString(v) || strcmp(v->valuestring, db) != 0)
            return pp_errf(why, n, "%s: expected the string \"%s\"", c->name, db), -1;
        return 0;
    case MYSQL_TYPE_BIT: {
        uint64_t bits = 0;
        for (unsigned long i = 0; i < len && i < 8; i++)
            bits = (bits << 8) | (unsigned char)db[i];
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)bits)
            return pp_errf(why, n, "%s: expected %llu", c->name, (unsigned long long)bits), -1;
        return 0;
    }
    default: break;
    }
    switch (pp_mysql_bind_kind(c->type)) {
    case PP_BIND_INT:
    case PP_BIND_DOUBLE: {
        double want = strtod(db, NULL);
        if (!cJSON_IsNumber(v) || v->valuedouble != want)
            return pp_errf(why, n, "%s: expected %s", c->name, db), -1;
        return 0;
    }
    case PP_BIND_FLOAT: {
        float want = (float)strtod(db, NULL);
        if (!cJSON_IsNumber(v) || (float)v->valuedouble != want)
            return pp_errf(why, n, "%s: expected the float %s", c->name, db), -1;
        return 0;
    }
    case PP_BIND_TIME: {
        char a[64], b[64];
        if (!cJSON_IsString(v))
            return pp_errf(why, n, "%s: expected the string \"%s\"", c->name, db), -1;
        normalise_temporal(db, len, a, sizeof(a));
        normalise_temporal(v->valuestring, strlen(v->valuestring), b, sizeof(b));
        if (strcmp(a, b) != 0)
            return pp_errf(why, n, "%s: expected \"%s\"", c->name, a), -1;
        return 0;
    }
    case PP_BIND_TEXT: break;
    }
    if (!cJSON_IsString(v))
        return pp_errf(why, n, "%s: expected a string", c->name), -1;
    if (pp_json_utf8_valid(db, len)) {
        if (strlen(v->valuestring) != len || memcmp(v->valuestring, db, len) != 0)
            return pp_errf(why, n, "%s: text differs from the database", c->name), -1;
    } else if (!strstr(v->valuestring, "\xEF\xBF\xBD")) {
        return pp_errf(why, n, "%s: invalid UTF-8 in the database but no U+FFFD in the message",
                       c->name),
               -1;
    }
    return 0;
}

int pp_rowcheck(const cJSON *value, const pp_db_column *cols, int ncols, char *const *row,
                const unsigned long *lengths, char *why, size_t n)
{
    return pp_rowcheck_live(value, cols, NULL, ncols, row, lengths, why, n);
}

int pp_rowcheck_live(const cJSON *value, const pp_db_column *cols, const int *live, int ncols,
                     char *const *row, const unsigned long *lengths, char *why, size_t n)
{
    if (!cJSON_IsObject(value))
        return pp_errf(why, n, "value is not a JSON object"), -1;
    const cJSON *v = value->child;
    for (int i = 0; i < ncols; i++, v = v->next) {
        if (!v)
            return pp_errf(why, n, "column %s missing", cols[i].name), -1;
        if (!v->string || strcmp(v->string, cols[i].name) != 0)
            return pp_errf(why, n, "field %d is '%s', expected column '%s'", i + 1,
                           v->string ? v->string : "?", cols[i].name),
                   -1;
        if (live && live[i] >= 0 ? check_live(v, &cols[i], live[i], why, n)
                                 : check_field(v, &cols[i], row[i], lengths[i], why, n))
            return -1;
    }
    if (v)
        return pp_errf(why, n, "extra field '%s'", v->string ? v->string : "?"), -1;
    return 0;
}

/* ---- the database side ---- */

#define ROW_BATCH 500

/* A message waiting for its database row. */
typedef struct pending {
    int64_t key;
    uint64_t seq;
    char *value;
} pending;

struct pp_rowcheck_db {
    MYSQL *db;
    pp_db_column *cols[PP_NTABLES];
    int *live[PP_NTABLES]; /* per column: fractional digits of a live column, or -1 */
    int *fsp[PP_NTABLES];  /* per column: fractional digits the column keeps */
    int ncols[PP_NTABLES];
    int key_col[PP_NTABLES];
    char *table[PP_NTABLES];  /* SQL names, for messages */
    char *select[PP_NTABLES]; /* "SELECT ... FROM t WHERE key IN (" */
    pending batch[PP_NTABLES][ROW_BATCH];
    size_t nbatch[PP_NTABLES];
    uint64_t checked, mismatched;
    int shown;
};

/* The columns of table t and the statement that reads a batch of its rows: FLOAT columns
 * as their exact single-precision value, not MySQL's 6-digit rendering. */
static int open_table(pp_rowcheck_db *rc, int t, const pp_table_conf *tc, char *err, size_t n)
{
    pp_buf q = {0};
    pp_buf_puts(&q, "SELECT * FROM ");
    pp_mysql_quote_ident(&q, tc->table);
    pp_buf_puts(&q, " LIMIT 0");
    int failed = mysql_real_query(rc->db, q.data, q.len);
    pp_buf_free(&q);
    MYSQL_RES *res = failed ? NULL : mysql_store_result(rc->db);
    if (!res)
        return pp_errf(err, n, "table %s: %s", tc->table, mysql_error(rc->db)), -1;
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    rc->ncols[t] = (int)mysql_num_fields(res);
    rc->cols[t] = pp_xcalloc((size_t)rc->ncols[t], sizeof(pp_db_column));
    rc->live[t] = pp_xcalloc((size_t)rc->ncols[t], sizeof(int));
    rc->fsp[t] = pp_xcalloc((size_t)rc->ncols[t], sizeof(int));
    rc->key_col[t] = -1;
    rc->table[t] = pp_xstrdup(tc->table);
    pp_buf sel = {0};
    pp_buf_puts(&sel, "SELECT ");
    for (int i = 0; i < rc->ncols[t]; i++) {
        rc->cols[t][i].name = pp_xstrdup(f[i].name);
        rc->cols[t][i].type = f[i].type;
        rc->live[t][i] = -1;
        rc->fsp[t][i] = f[i].decimals > 6 ? 6 : (int)f[i].decimals;
        if (!strcmp(f[i].name, tc->key))
            rc->key_col[t] = i;
        if (i)
            pp_buf_puts(&sel, ", ");
        if (f[i].type == MYSQL_TYPE_FLOAT) {
            pp_buf_puts(&sel, "CAST(");
            pp_mysql_quote_ident(&sel, f[i].name);
            pp_buf_puts(&sel, " AS DOUBLE)");
        } else {
            pp_mysql_quote_ident(&sel, f[i].name);
        }
    }
    mysql_free_result(res);
    if (rc->key_col[t] < 0) {
        pp_buf_free(&sel);
        return pp_errf(err, n, "table %s has no column %s", tc->table, tc->key), -1;
    }
    pp_buf_puts(&sel, " FROM ");
    pp_mysql_quote_ident(&sel, tc->table);
    pp_buf_puts(&sel, " WHERE ");
    pp_mysql_quote_ident(&sel, tc->key);
    pp_buf_puts(&sel, " IN (");
    rc->select[t] = sel.data;
    return 0;
}

pp_rowcheck_db *pp_rowcheck_db_open(const pp_config *c, char *err, size_t n)
{
    pp_rowcheck_db *rc = pp_xcalloc(1, sizeof(*rc));
    rc->db = pp_mysql_connect(c, NULL, err, n);
    if (!rc->db)
        goto fail;
    for (int t = 0; t < PP_NTABLES; t++)
        if (open_table(rc, t, &c->source.tables[t], err, n))
            goto fail;
    return rc;
fail:
    pp_rowcheck_db_close(rc);
    return NULL;
}

int pp_rowcheck_db_live(pp_rowcheck_db *rc, enum pp_table t, const char *column, char *err,
                        size_t n)
{
    for (int i = 0; i < rc->ncols[t]; i++) {
        pp_db_column *c = &rc->cols[t][i];
        if (strcasecmp(c->name, column) != 0)
            continue;
        if (c->type != MYSQL_TYPE_DATETIME && c->type != MYSQL_TYPE_TIMESTAMP &&
            c->type != MYSQL_TYPE_DATETIME2 && c->type != MYSQL_TYPE_TIMESTAMP2)
            return pp_errf(err, n,
                           "%s.%s: column '%s' of table '%s' is not DATETIME or TIMESTAMP; "
                           "pinpostd writes live timestamps only there",
                           pp_table_names[t], column, c->name, rc->table[t]),
                   -1;
        rc->live[t][i] = rc->fsp[t][i];
        return 0;
    }
    return pp_errf(err, n, "%s.%s: table '%s' has no column '%s'", pp_table_names[t], column,
                   rc->table[t], column),
           -1;
}

/* Read the queued rows of table t and compare each message with its row. */
static int flush_table(pp_rowcheck_db *rc, int t, char *err, size_t n)
{
    if (!rc->nbatch[t])
        return 0;
    pp_buf q = {0};
    pp_buf_puts(&q, rc->select[t]);
    for (size_t i = 0; i < rc->nbatch[t]; i++)
        pp_buf_printf(&q, "%s%" PRId64, i ? "," : "", rc->batch[t][i].key);
    pp_buf_puts(&q, ")");
    int failed = mysql_real_query(rc->db, q.data, q.len);
    pp_buf_free(&q);
    MYSQL_RES *res = failed ? NULL : mysql_store_result(rc->db);
    if (!res)
        return pp_errf(err, n, "reading rows: %s", mysql_error(rc->db)), -1;
    for (size_t i = 0; i < rc->nbatch[t]; i++) {
        pending *p = &rc->batch[t][i];
        MYSQL_ROW row;
        char why[512] = "no such row in the database";
        int ok = 0;
        mysql_data_seek(res, 0);
        while ((row = mysql_fetch_row(res))) {
            const char *k = row[rc->key_col[t]];
            if (!k || strtoll(k, NULL, 10) != p->key)
                continue;
            cJSON *v = cJSON_Parse(p->value);
            if (!v)
                snprintf(why, sizeof(why), "value is not valid JSON");
            else
                ok = pp_rowcheck_live(v, rc->cols[t], rc->live[t], rc->ncols[t], row,
                                      mysql_fetch_lengths(res), why, sizeof(why)) == 0;
            cJSON_Delete(v);
            break;
        }
        rc->checked++;
        if (!ok) {
            rc->mismatched++;
            if (rc->shown++ < 10)
                pp_log_err("mismatch: %s seq %" PRIu64 " key %" PRId64 ": %s", pp_table_names[t],
                           p->seq, p->key, why);
        }
        free(p->value);
        p->value = NULL;
    }
    mysql_free_result(res);
    rc->nbatch[t] = 0;
    return 0;
}

int pp_rowcheck_db_add(pp_rowcheck_db *rc, enum pp_table t, int64_t key, uint64_t seq,
                       const char *value, size_t len, char *err, size_t n)
{
    if (rc->nbatch[t] == ROW_BATCH && flush_table(rc, t, err, n))
        return -1;
    pending *p = &rc->batch[t][rc->nbatch[t]++];
    p->key = key;
    p->seq = seq;
    p->value = pp_xmalloc(len + 1);
    memcpy(p->value, value, len);
    p->value[len] = '\0';
    return 0;
}

int pp_rowcheck_db_finish(pp_rowcheck_db *rc, char *err, size_t n)
{
    for (int t = 0; t < PP_NTABLES; t++)
        if (flush_table(rc, t, err, n))
            return -1;
    return 0;
}

uint64_t pp_rowcheck_db_checked(const pp_rowcheck_db *rc)
{
    return rc->checked;
}

uint64_t pp_rowcheck_db_mismatched(const pp_rowcheck_db *rc)
{
    return rc->mismatched;
}

void pp_rowcheck_db_close(pp_rowcheck_db *rc)
{
    if (!rc)
        return;
    for (int t = 0; t < PP_NTABLES; t++) {
        for (size_t i = 0; i < rc->nbatch[t]; i++)
            free(rc->batch[t][i].value);
        for (int i = 0; i < rc->ncols[t]; i++)
            free((char *)rc->cols[t][i].name);
        free(rc->cols[t]);
        free(rc->live[t]);
        free(rc->fsp[t]);
        free(rc->select[t]);
        free(rc->table[t]);
    }
    if (rc->db)
        mysql_close(rc->db);
    free(rc);
}
