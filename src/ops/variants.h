/* variants.h — every kernel program (family and build options) that the ops request on a
 * device, for exporting offline binaries (SAKD_CL_BINARY_DIR). */
#ifndef SAKD_OPS_VARIANTS_H
#define SAKD_OPS_VARIANTS_H

#include <stddef.h>

#include "runtime/context.h"

typedef struct sakd_program_variant {
    char family[64];
    char options[96];
} sakd_program_variant;

/* Fills `out` with up to `max` variants and returns how many there are in all: each family of
 * cl/ without options, plus the option sets the ops use on this device (the LIF surrogate,
 * reset and detach combinations for any T, the default LIF unrolled for T = 1, 2, 4, 6, 8, and
 * the reduction width of conv and bn). */
size_t sakd_ops_program_variants(const sakd_ctx *ctx, sakd_program_variant *out, size_t max);

#endif
