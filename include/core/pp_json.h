/* pp_json: the row -> JSON serialiser of the message contract.
 *
 * Objects are written field by field: pp_json_obj_begin, then pp_json_key followed by
 * exactly one value call, then pp_json_obj_end. Commas are inserted automatically.
 * Numbers follow the contract: integers exact, FLOAT/DOUBLE as the shortest decimal
 * that round-trips in the column's own precision, non-finite values as null. */
#ifndef PP_JSON_H
#define PP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "pp_buf.h"

/* Calendar value of a DATE/DATETIME/TIMESTAMP/TIME column. */
typedef struct pp_datetime {
    int year, month, day;
    int hour, minute, second; /* for TIME, hour may exceed 23 */
    long usec;                /* 0..999999 */
    int negative;             /* TIME only */
} pp_datetime;

void pp_json_obj_begin(pp_buf *b);
void pp_json_obj_end(pp_buf *b);
/* Writes a comma if needed, then "key":. */
void pp_json_key(pp_buf *b, const char *key);

void pp_json_null(pp_buf *b);
void pp_json_int(pp_buf *b, int64_t v);
void pp_json_uint(pp_buf *b, uint64_t v);
void pp_json_float(pp_buf *b, float v);
void pp_json_double(pp_buf *b, double v);

/* Writes s[0..n) as a JSON string. Invalid UTF-8 bytes become U+FFFD; returns how many
 * replacements were made so the caller can count them. */
size_t pp_json_string(pp_buf *b, const char *s, size_t n);
size_t pp_json_cstring(pp_buf *b, const char *s);

/* True when s[0..n) is entirely valid UTF-8 (RFC 3629). */
int pp_json_utf8_valid(const char *s, size_t n);

/* "YYYY-MM-DD HH:MM:SS" plus ".ffffff" when usec != 0. */
void pp_json_datetime(pp_buf *b, const pp_datetime *dt);
/* "YYYY-MM-DD". */
void pp_json_date(pp_buf *b, const pp_datetime *dt);
/* "[-]HH:MM:SS" plus ".ffffff" when usec != 0. */
void pp_json_time(pp_buf *b, const pp_datetime *dt);

/* Shortest "%.*g" rendering of v that parses back to the same float / double.
 * out must hold 32 bytes; returns the length. */
int pp_json_format_float(char *out, float v);
int pp_json_format_double(char *out, double v);

#endif
