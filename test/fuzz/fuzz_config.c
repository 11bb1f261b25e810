/* fuzz_config: the YAML configuration loader and the seed-format credentials reader on
 * arbitrary bytes. */
#include "fuzz.h"
#include "pp_config.h"
#include "pp_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, size, f);
    fclose(f);
    chmod(path, 0600); /* secrets files others may write are refused before parsing */
}

static void load(const char *path)
{
    char err[1024];
    pp_config *c = pp_config_new_defaults();
    if (pp_config_load_file(c, path, err, sizeof(err)) == 0)
        pp_config_validate(c, err, sizeof(err));
    pp_config_destroy(c);
}

/* Each input is tried twice: as the configuration itself, and as the seed-format
 * credentials file that a fixed configuration names. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64], creds[64], outer[64];
    if (!path[0]) {
        pp_log_init(-7);
        int pid = (int)getpid();
        snprintf(path, sizeof(path), "/tmp/pinpostd-fuzz-config-%d.yaml", pid);
        snprintf(creds, sizeof(creds), "/tmp/pinpostd-fuzz-creds-%d.yaml", pid);
        snprintf(outer, sizeof(outer), "/tmp/pinpostd-fuzz-outer-%d.yaml", pid);
        char text[128];
        int n = snprintf(text, sizeof(text), "source:\n  credentials: %s\n", creds);
        write_file(outer, text, (size_t)n);
    }
    write_file(path, data, size);
    load(path);
    unlink(path);
    write_file(creds, data, size);
    load(outer);
    unlink(creds);
    return 0;
}
