/* types.h — the enums of the ops that a configuration names (LIF reset and surrogate, SEW
 * connect), apart from the ops themselves, so that parsing a config needs no OpenCL. */
#ifndef SAKD_OPS_TYPES_H
#define SAKD_OPS_TYPES_H

typedef enum sakd_lif_reset {
    SAKD_LIF_RESET_HARD = 0, /* v = h·(1 - s) (default) */
    SAKD_LIF_RESET_SOFT = 1  /* v = h - V_th·s */
} sakd_lif_reset;

typedef enum sakd_surrogate {
    SAKD_SURROGATE_TRIANGLE = 1, /* max(0, 1 - |u|); α is not used (default) */
    SAKD_SURROGATE_SIGMOID = 2,  /* α·σ(αu)·(1 - σ(αu)), α default 4 */
    SAKD_SURROGATE_ATAN = 3      /* α / (2·(1 + (π/2·α·u)²)), α default 2 */
} sakd_surrogate;

/* SEW-ResNet connect functions (Fang et al. 2021). */
typedef enum sakd_sew_connect {
    SAKD_SEW_ADD = 0, /* y = out + id */
    SAKD_SEW_AND = 1, /* y = out·id */
    SAKD_SEW_IAND = 2 /* y = id·(1 - out) */
} sakd_sew_connect;

/* Default α of a surrogate: 4 (sigmoid), 2 (atan), 1 (triangle, unused). */
float sakd_surrogate_default_alpha(sakd_surrogate surrogate);

#endif
