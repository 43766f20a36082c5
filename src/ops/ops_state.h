/* ops_state.h — what src/ops keeps per context: the GEMM provider and why it was chosen, the
 * host provider's zero-copy check, GEMM recording and CLBlast tuning, the convolution route and
 * oneDNN's primitives. The runtime holds it as an opaque pointer (sakd_ctx.ops) and knows
 * nothing of it; it is created on first use and freed by a release hook of the context. */
#ifndef SAKD_OPS_OPS_STATE_H
#define SAKD_OPS_OPS_STATE_H

#include "runtime/context.h"

struct sakd_gemm_log;      /* ops/gemm_tuning.h */
struct sakd_gemm_tuning;   /* ops/gemm_tuning.h */
struct sakd_gemm_provider; /* ops/gemm_provider.h */
struct sakd_conv_dnnl;     /* ops/conv_dnnl.c */

typedef struct sakd_ops_state {
    /* The GEMM provider (NULL until chosen, ops/gemm.c) and why it was chosen; whether the host
     * provider's zero-copy check ran (0 no, 1 passed, -1 failed) and its message. */
    const struct sakd_gemm_provider *gemm_provider;
    char gemm_provider_why[256];
    int host_checked;
    char host_check_msg[256];
    /* The last GEMM queued, as sakd_ctx_last_work names it. */
    char last_gemm[112];
    /* GEMM calls being recorded for tuning (ops/gemm_tuning.h), else NULL. */
    struct sakd_gemm_log *gemm_log;
    /* CLBlast: whether it ran on this context; its tuning (0 = not looked for yet, 1 = looked
     * for), the file applied, the tuning (NULL: CLBlast's defaults) and which of its parameter
     * sets CLBlast holds now (-1 the general one, else a call class's own set). */
    int clblast_used;
    int gemm_tuning_checked;
    char *gemm_tuning_file;
    struct sakd_gemm_tuning *gemm_tuning;
    int gemm_active_set;
    /* How convolutions run on the host provider (ops/conv.c: 0 = not chosen yet), and why;
     * oneDNN's engine and primitives (ops/conv_dnnl.c). */
    int conv_route;
    char conv_route_why[128];
    struct sakd_conv_dnnl *conv_dnnl;
    /* Convolutions that read spikes (ops/spike_route.h): the mode (0 = not chosen yet), and
     * under auto the crossover file and its shapes' keys and densities. */
    int spike_mode;
    char spike_file[1024];
    size_t spike_n;
    char (*spike_keys)[64];
    double *spike_density;
} sakd_ops_state;

/* ctx's ops state in *out, created (zeroed) on first use. */
sakd_status sakd_ops_state_get(sakd_ctx *ctx, sakd_ops_state **out);

/* ctx's ops state, or NULL while none has been created (for readers that need no state). */
sakd_ops_state *sakd_ops_state_peek(const sakd_ctx *ctx);

#endif
