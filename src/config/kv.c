/* kv: the ordered key = value lists of librdkafka settings (see pp_kv.h). */
#include "pp_kv.h"
#include "pp_secret.h"
#include "pp_util.h"

#include <stdlib.h>
#include <string.h>

void pp_kv_append(pp_kv **items, size_t *n, const char *key, const char *value, const char *origin)
{
    *items = pp_xrealloc(*items, (*n + 1) * sizeof(pp_kv));
    (*items)[(*n)++] = (pp_kv){pp_xstrdup(key), pp_xstrdup(value), pp_xstrdup(origin)};
}

void pp_kv_set(pp_kv **items, size_t *n, const char *key, const char *value, const char *origin)
{
    for (size_t i = 0; i < *n; i++) {
        pp_kv *kv = &(*items)[i];
        if (strcmp(kv->key, key) == 0) {
            char *v = pp_xstrdup(value), *o = pp_xstrdup(origin);
            pp_secret_free(kv->value);
            free(kv->origin);
            kv->value = v;
            kv->origin = o;
            return;
        }
    }
    pp_kv_append(items, n, key, value, origin);
}

const pp_kv *pp_kv_find(const pp_kv *items, size_t n, const char *key)
{
    const pp_kv *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].key, key) == 0)
            found = &items[i];
    return found;
}

void pp_kv_free(pp_kv *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].key);
        pp_secret_free(items[i].value);
        free(items[i].origin);
    }
    free(items);
}
