/* fuzz_row: the row serialiser with random column types, lengths and bytes; every
 * output must be one valid JSON object whose strings are valid UTF-8. */
#include "fuzz.h"
#include "pp_json.h"
#include "pp_mysql_value.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const enum enum_field_types types[] = {
    MYSQL_TYPE_TINY,     MYSQL_TYPE_LONG,      MYSQL_TYPE_LONGLONG,   MYSQL_TYPE_YEAR,
    MYSQL_TYPE_FLOAT,    MYSQL_TYPE_DOUBLE,    MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_DATE,
    MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_TIME,       MYSQL_TYPE_VAR_STRING,
    MYSQL_TYPE_BLOB,     MYSQL_TYPE_BIT,       MYSQL_TYPE_JSON,       MYSQL_TYPE_ENUM};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pp_buf b = {0};
    size_t i = 0;
    int fields = 0;
    pp_json_obj_begin(&b);
    while (i + 2 <= size && fields < 64) {
        pp_mysql_value v;
        memset(&v, 0, sizeof(v));
        v.type = types[data[i] % (sizeof(types) / sizeof(types[0]))];
        v.is_null = data[i] >> 7;
        v.is_unsigned = (data[i] >> 6) & 1;
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        uint8_t raw[16] = {0};
        memcpy(raw, data + i, len < sizeof(raw) ? len : sizeof(raw));
        memcpy(&v.i, raw, sizeof(v.i));
        memcpy(&v.f, raw, sizeof(v.f));
        memcpy(&v.d, raw + 4, sizeof(v.d));
        v.tm.year = raw[0] * 10u;
        v.tm.month = raw[1] % 13;
        v.tm.day = raw[2] % 32;
        v.tm.hour = raw[3];
        v.tm.minute = raw[4] % 60;
        v.tm.second = raw[5] % 60;
        v.tm.second_part = (unsigned long)(raw[6] * 3907u);
        v.tm.neg = raw[7] & 1;
        v.str = (const char *)data + i;
        v.len = (unsigned long)len;
        char key[16];
        snprintf(key, sizeof(key), "c%d", fields++);
        pp_json_key(&b, key);
        pp_mysql_value_json(&b, &v);
        i += len;
    }
    pp_json_obj_end(&b);
    if (!pp_json_utf8_valid(b.data, b.len))
        abort();
    cJSON *j = cJSON_ParseWithLength(b.data, b.len);
    if (!j || cJSON_GetArraySize(j) != fields)
        abort();
    cJSON_Delete(j);
    pp_buf_free(&b);
    return 0;
}
