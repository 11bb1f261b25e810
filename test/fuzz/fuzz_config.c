/* fuzz_config: the YAML configuration loader (and what it reads) on arbitrary bytes. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"
#include "pp_config.h"
#include "pp_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        pp_log_init(-7);
        snprintf(path, sizeof(path), "/tmp/pinpostd-fuzz-config-%d.yaml", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[1024];
    pp_config *c = pp_config_new_defaults();
    if (pp_config_load_file(c, path, err, sizeof(err)) == 0)
        pp_config_validate(c, err, sizeof(err));
    pp_config_destroy(c);
    unlink(path);
    return 0;
}
