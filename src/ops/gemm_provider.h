/* gemm_provider.h — what a GEMM provider implements; gemm.c chooses one per context and
 * dispatches every call to it (gemm_clblast.c: any OpenCL device; gemm_host.c: the host BLAS on
 * a CPU device that shares host memory). */
#ifndef SAKD_OPS_GEMM_PROVIDER_H
#define SAKD_OPS_GEMM_PROVIDER_H

#include "ops/gemm.h"

/* One call of sakd_gemm (batch 0) or sakd_gemm_batched (batch >= 1), dimensions checked. */
typedef struct sakd_gemm_call {
    int trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    sakd_mat a, b, c;
    size_t stride_a, stride_b, stride_c; /* elements between matrices of a batch */
    size_t batch;
} sakd_gemm_call;

struct sakd_gemm_provider {
    const char *name; /* "clblast", "host" */
    sakd_status (*run)(sakd_ctx *ctx, const sakd_gemm_call *call);
};

extern const struct sakd_gemm_provider sakd_gemm_provider_clblast;
extern const struct sakd_gemm_provider sakd_gemm_provider_host;

/* SAKD_OK when the host provider can serve ctx: a CPU device with host-unified memory whose
 * mapped buffers alias its storage (checked once on a small buffer), and a host BLAS that
 * loads. Otherwise an error that says why. */
sakd_status sakd_gemm_host_check(sakd_ctx *ctx);

/* Counts ctx among the contexts CLBlast runs on, once; when the last of them is freed CLBlast's
 * program cache is cleared (gemm_clblast.c). Called before any CLBlast routine uses ctx. */
sakd_status sakd_clblast_attach(sakd_ctx *ctx);

#endif
