/* pp_rowcheck: does a message value equal its database row? The row is read with the
 * text protocol (FLOAT columns selected as CAST(... AS DOUBLE) so their exact value is
 * known), independently of pinpostd's prepared-statement path, and compared field by
 * field under the message contract: same keys in table order, numbers equal (FLOAT in
 * single precision), DECIMAL and temporal values as strings, NULL as null, text equal
 * (or carrying U+FFFD where the database held invalid UTF-8). */
#ifndef PP_ROWCHECK_H
#define PP_ROWCHECK_H

#include <cjson/cJSON.h>
#include <mysql.h>
#include <stddef.h>

typedef struct pp_db_column {
    const char *name;
    enum enum_field_types type; /* the column's declared type (FLOAT even when cast) */
} pp_db_column;

/* Compare value (a parsed JSON object) with row[i] / lengths[i] (NULL row[i] = SQL NULL).
 * Returns 0 when they match, -1 with why set otherwise. */
int pp_rowcheck(const cJSON *value, const pp_db_column *cols, int ncols, char *const *row,
                const unsigned long *lengths, char *why, size_t why_size);

#endif
