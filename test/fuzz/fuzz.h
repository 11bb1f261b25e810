/* fuzz.h: the libFuzzer entry point every harness defines; replay.c drives it without
 * libFuzzer (gcc builds, `make test`). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
