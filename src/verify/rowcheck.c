/* rowcheck: field-by-field comparison of a message value with a text-protocol row. */
#include "pp_rowcheck.h"
#include "pp_json.h"
#include "pp_mysql_value.h"
#include "pp_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        if (check_field(v, &cols[i], row[i], lengths[i], why, n))
            return -1;
    }
    if (v)
        return pp_errf(why, n, "extra field '%s'", v->string ? v->string : "?"), -1;
    return 0;
}
