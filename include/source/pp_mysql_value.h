/* pp_mysql_value: one column value as the MySQL binary protocol delivers it, and its JSON
 * rendering per the message contract: integers as numbers, FLOAT/DOUBLE as the shortest
 * number that round-trips in the column's precision, DECIMAL as a string, DATE/DATETIME/
 * TIMESTAMP/TIME as strings, BIT as a number, everything else as UTF-8 text. */
#ifndef PP_MYSQL_VALUE_H
#define PP_MYSQL_VALUE_H

#include <mysql.h>
#include <stdint.h>

#include "pp_buf.h"

/* How a column of this type is bound for fetching. */
enum pp_bind_kind { PP_BIND_INT, PP_BIND_FLOAT, PP_BIND_DOUBLE, PP_BIND_TIME, PP_BIND_TEXT };

enum pp_bind_kind pp_mysql_bind_kind(enum enum_field_types type);

typedef struct pp_mysql_value {
    enum enum_field_types type;
    int is_unsigned;
    int is_null;
    int64_t i;       /* PP_BIND_INT (reinterpret as uint64_t when is_unsigned) */
    float f;         /* PP_BIND_FLOAT */
    double d;        /* PP_BIND_DOUBLE */
    MYSQL_TIME tm;   /* PP_BIND_TIME */
    const char *str; /* PP_BIND_TEXT: bytes, not NUL-terminated */
    unsigned long len;
} pp_mysql_value;

/* Append `name` as a quoted identifier (backticks, inner backticks doubled), so any
 * configured table or column name is safe in SQL. */
void pp_mysql_quote_ident(pp_buf *b, const char *name);

/* Append the JSON of v to b; returns the number of invalid UTF-8 bytes replaced. */
size_t pp_mysql_value_json(pp_buf *b, const pp_mysql_value *v);

#endif
