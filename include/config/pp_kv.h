/* pp_kv: librdkafka settings as the configuration carries them: an ordered list of
 * key = value, each with where it came from ("file:line", "--bootstrap") for error
 * messages. Values may be secrets (sasl.password): they die through pp_secret_free. */
#ifndef PP_KV_H
#define PP_KV_H

#include <stddef.h>

/* One key = value with its origin; the list owns the three strings. */
typedef struct pp_kv {
    char *key;
    char *value;
    char *origin;
} pp_kv;

/* Set key in the list (*items, *n): an existing entry keeps its place and takes the new
 * value and origin, a new key is appended. Copies the strings. */
void pp_kv_set(pp_kv **items, size_t *n, const char *key, const char *value, const char *origin);

/* Append key = value even when the key is already there (a file read in order, whose
 * reader decides which entry wins). Copies the strings. */
void pp_kv_append(pp_kv **items, size_t *n, const char *key, const char *value, const char *origin);

/* The last entry of key in items[0..n), or NULL. */
const pp_kv *pp_kv_find(const pp_kv *items, size_t n, const char *key);

/* Free every entry (values erased first, they may be secrets) and the array. NULL is
 * fine. */
void pp_kv_free(pp_kv *items, size_t n);

#endif
