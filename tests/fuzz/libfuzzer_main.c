/* libfuzzer_main.c — the libFuzzer harness of one target, chosen at build time with
 * -DSAKD_FUZZ_TARGET='"config"' (make fuzz builds one binary per target with clang). */
#include <stdlib.h>

#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sakd_fuzz_target *t;
    if (!t && !(t = sakd_fuzz_find(SAKD_FUZZ_TARGET)))
        abort();
    return t->run(data, size);
}
