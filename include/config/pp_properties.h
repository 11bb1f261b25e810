/* pp_properties: reader for Java .properties files (java.util.Properties.load rules):
 * '=', ':' or whitespace separators; '#'/'!' comment lines; backslash line continuations;
 * \t \n \r \f \uXXXX and \<any> escapes; surrounding whitespace ignored; duplicate keys
 * reported in file order (the caller lets the last win). Values are UTF-8. A leading
 * UTF-8 byte order mark is skipped; a NUL character (raw or \u0000) is an error, since
 * keys and values are handed on as C strings. */
#ifndef PP_PROPERTIES_H
#define PP_PROPERTIES_H

#include <stddef.h>

/* Called once per entry with the line the entry starts on. Return 0 to go on, -1 to
 * stop (the callback has then filled errstr). */
typedef int (*pp_properties_cb)(void *opaque, const char *key, const char *value, int line,
                                char *errstr, size_t errstr_size);

/* Parse text[0..len) as the contents of `name`. Returns 0, or -1 with errstr set to
 * "name:line: message". */
int pp_properties_parse(const char *name, const char *text, size_t len, pp_properties_cb cb,
                        void *opaque, char *errstr, size_t errstr_size);

/* Read and parse the file at path. */
int pp_properties_load(const char *path, pp_properties_cb cb, void *opaque, char *errstr,
                       size_t errstr_size);

#endif
