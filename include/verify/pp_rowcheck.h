/* pp_rowcheck: does a message value equal its database row? The row is read with the
 * text protocol (FLOAT columns selected as CAST(... AS DOUBLE) so their exact value is
 * known), independently of pinpostd's prepared-statement path, and compared field by
 * field under the message contract: same keys in table order, numbers equal (FLOAT in
 * single precision), DECIMAL and temporal values as strings, NULL as null, text equal
 * (or carrying U+FFFD where the database held invalid UTF-8). Live columns (rewritten with
 * the emission time by emulation.timestamps: now) are not compared: their value must be a
 * DATETIME as the contract writes it, within the column's precision. */
#ifndef PP_ROWCHECK_H
#define PP_ROWCHECK_H

#include <cjson/cJSON.h>
#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "pp_config.h"

typedef struct pp_db_column {
    const char *name;
    enum enum_field_types type; /* the column's declared type (FLOAT even when cast) */
} pp_db_column;

/* True when s is a DATETIME value as the message contract writes one for a column keeping
 * fsp fractional digits: "YYYY-MM-DD HH:MM:SS" of a real calendar date and time (years
 * 0001-9999), plus ".ffffff" (six digits, not all zero, none beyond the fsp-th) when there
 * is a fraction. */
int pp_rowcheck_datetime_valid(const char *s, int fsp);

/* Parse "TABLE.COLUMN" (TABLE: pin, geo or user; the column's name as in
 * emulation.timestamp_columns) into *t and column (a buffer of column_size bytes).
 * Returns 0, or -1 with errstr saying what is wrong. */
int pp_rowcheck_parse_live(const char *text, enum pp_table *t, char *column, size_t column_size,
                           char *errstr, size_t errstr_size);

/* Compare value (a parsed JSON object) with row[i] / lengths[i] (NULL row[i] = SQL NULL).
 * Returns 0 when they match, -1 with why set otherwise. */
int pp_rowcheck(const cJSON *value, const pp_db_column *cols, int ncols, char *const *row,
                const unsigned long *lengths, char *why, size_t why_size);

/* pp_rowcheck, where live[i] >= 0 marks column i as live (rewritten by pinpostd with the
 * emission time): its value must be a DATETIME of the contract for a column keeping
 * live[i] fractional digits (pp_rowcheck_datetime_valid), whatever row[i] holds. live[i]
 * < 0, or live NULL: compared as pp_rowcheck does. */
int pp_rowcheck_live(const cJSON *value, const pp_db_column *cols, const int *live, int ncols,
                     char *const *row, const unsigned long *lengths, char *why, size_t why_size);

/* The database side of --rows: the messages of each table wait in a batch, read with one
 * SELECT ... WHERE key IN (...) over a connection made by pp_mysql_connect (so with
 * source.tls, the timeouts and utf8mb4 like pinpostd's own) and compared with
 * pp_rowcheck. Mismatches are counted, the first ten logged (column names, never values). */
typedef struct pp_rowcheck_db pp_rowcheck_db;

/* Connect as c->source says and read the columns of the three tables of
 * c->source.tables. Returns the checker (close it with pp_rowcheck_db_close), or NULL
 * with errstr saying what failed (the connection, as pp_mysql_connect words it; a table
 * or its key column missing). c is read during the call only. */
pp_rowcheck_db *pp_rowcheck_db_open(const pp_config *c, char *errstr, size_t errstr_size);

/* Treat column `column` of table t (c->source.tables[t]) as live: its values are checked
 * for form only. Column names compare case-insensitively, as MySQL's do. Returns 0, or -1
 * with errstr when the table has no such column or it is not DATETIME/TIMESTAMP. */
int pp_rowcheck_db_live(pp_rowcheck_db *db, enum pp_table t, const char *column, char *errstr,
                        size_t errstr_size);

/* Check the message value[0..len) of post seq (key) on table t: queued, and its batch read
 * and compared when full. Returns 0, or -1 with errstr when the database could not be
 * read (not for a mismatch, which is counted). */
int pp_rowcheck_db_add(pp_rowcheck_db *db, enum pp_table t, int64_t key, uint64_t seq,
                       const char *value, size_t len, char *errstr, size_t errstr_size);

/* Read and compare every message still queued. Returns 0, or -1 with errstr. */
int pp_rowcheck_db_finish(pp_rowcheck_db *db, char *errstr, size_t errstr_size);

/* Messages compared so far, and how many of them did not match (or had no row). */
uint64_t pp_rowcheck_db_checked(const pp_rowcheck_db *db);
uint64_t pp_rowcheck_db_mismatched(const pp_rowcheck_db *db);

/* Close the connection and free the checker. NULL is fine. */
void pp_rowcheck_db_close(pp_rowcheck_db *db);

#endif
