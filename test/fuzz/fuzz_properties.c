/* fuzz_properties: the Java .properties reader and the JAAS parser on arbitrary bytes. */
#include "fuzz.h"
#include "pp_kprops.h"
#include "pp_properties.h"

#include <string.h>

static int on_jaas(void *opaque, const char *key, const char *value, char *err, size_t n)
{
    (void)opaque;
    (void)err;
    (void)n;
    return (int)(strlen(key) + strlen(value)) < 0;
}

static int on_entry(void *opaque, const char *key, const char *value, int line, char *err, size_t n)
{
    char module[128], jerr[256];
    (void)opaque;
    (void)key;
    (void)line;
    (void)err;
    (void)n;
    pp_kprops_parse_jaas(value, module, sizeof(module), on_jaas, NULL, jerr, sizeof(jerr));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    pp_properties_parse("fuzz.properties", (const char *)data, size, on_entry, NULL, err,
                        sizeof(err));
    return 0;
}
