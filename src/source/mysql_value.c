/* mysql_value: MySQL column value -> JSON mapping of the message contract. */
#include "pp_json.h"
#include "pp_mysql_value.h"

void pp_mysql_quote_ident(pp_buf *b, const char *name)
{
    pp_buf_append(b, "`", 1);
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            pp_buf_append(b, "`", 1);
        pp_buf_append(b, p, 1);
    }
    pp_buf_append(b, "`", 1);
}

enum pp_bind_kind pp_mysql_bind_kind(enum enum_field_types type)
{
    switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR: return PP_BIND_INT;
    case MYSQL_TYPE_FLOAT: return PP_BIND_FLOAT;
    case MYSQL_TYPE_DOUBLE: return PP_BIND_DOUBLE;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2: return PP_BIND_TIME;
    default:
        /* DECIMAL, BIT, strings, blobs, ENUM, SET, JSON, GEOMETRY */
        return PP_BIND_TEXT;
    }
}

static pp_datetime to_datetime(const MYSQL_TIME *t)
{
    pp_datetime dt = {(int)t->year,   (int)t->month,  (int)t->day,          (int)t->hour,
                      (int)t->minute, (int)t->second, (long)t->second_part, (int)t->neg};
    return dt;
}

size_t pp_mysql_value_json(pp_buf *b, const pp_mysql_value *v)
{
    if (v->is_null) {
        pp_json_null(b);
        return 0;
    }
    switch (v->type) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        /* Exact decimals stay strings: a JSON number would invite binary rounding. */
        return pp_json_string(b, v->str, v->len);
    case MYSQL_TYPE_BIT: {
        uint64_t n = 0;
        for (unsigned long i = 0; i < v->len && i < 8; i++)
            n = (n << 8) | (unsigned char)v->str[i];
        pp_json_uint(b, n);
        return 0;
    }
    default: break;
    }
    switch (pp_mysql_bind_kind(v->type)) {
    case PP_BIND_INT:
        if (v->is_unsigned)
            pp_json_uint(b, (uint64_t)v->i);
        else
            pp_json_int(b, v->i);
        return 0;
    case PP_BIND_FLOAT: pp_json_float(b, v->f); return 0;
    case PP_BIND_DOUBLE: pp_json_double(b, v->d); return 0;
    case PP_BIND_TIME: {
        pp_datetime dt = to_datetime(&v->tm);
        if (v->type == MYSQL_TYPE_DATE || v->type == MYSQL_TYPE_NEWDATE)
            pp_json_date(b, &dt);
        else if (v->type == MYSQL_TYPE_TIME || v->type == MYSQL_TYPE_TIME2) {
            dt.hour += (int)v->tm.day * 24;
            pp_json_time(b, &dt);
        } else
            pp_json_datetime(b, &dt);
        return 0;
    }
    case PP_BIND_TEXT: break;
    }
    return pp_json_string(b, v->str, v->len);
}
