/* gemm.h — row-major single-precision GEMM behind one interface, served by a provider chosen per
 * context: CLBlast (any OpenCL device) or the host BLAS (a CPU device sharing host memory). */
#ifndef SAKD_OPS_GEMM_H
#define SAKD_OPS_GEMM_H

#include <stddef.h>

#include "runtime/context.h"

/* A matrix operand: a buffer, an element offset and a leading dimension
 * (row-major: elements between the starts of consecutive rows). */
typedef struct sakd_mat {
    cl_mem buf;
    size_t offset;
    size_t ld;
} sakd_mat;

/* C[m, n] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T by trans_*.
 * op(A) is [m, k], op(B) is [k, n]. m, n or k of 0 is a no-op when beta
 * is 1; otherwise k must be at least 1. */
sakd_status sakd_gemm(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                      float alpha, sakd_mat a, sakd_mat b, float beta, sakd_mat c);

/* `batch` independent GEMMs; matrix i of X starts stride_x elements after
 * matrix i - 1. */
sakd_status sakd_gemm_batched(sakd_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                              float alpha, sakd_mat a, size_t stride_a, sakd_mat b, size_t stride_b,
                              float beta, sakd_mat c, size_t stride_c, size_t batch);

/* Chooses ctx's GEMM provider: "clblast", "host" or "auto" (the host BLAS when sakd was built
 * with one and ctx's device is a CPU whose buffers are host memory, else CLBlast). NULL or ""
 * reads $SAKD_GEMM_PROVIDER, else auto. Without a call the first GEMM chooses as for NULL.
 * "host" where it cannot serve is an error that says why; auto never fails. */
sakd_status sakd_gemm_provider_set(sakd_ctx *ctx, const char *request);

/* "auto, clblast, host", for messages and help. */
const char *sakd_gemm_provider_names(void);

/* "clblast" or "host" (choosing now if not yet chosen). */
const char *sakd_gemm_provider_name(sakd_ctx *ctx);

/* One line for headers and provenance: the provider, its library, kernels and threads or its
 * tuning, and why it was chosen. */
void sakd_gemm_provider_describe(sakd_ctx *ctx, char *buf, size_t size);

/* The CLBlast version sakd was built against, e.g. "1.5.3". */
const char *sakd_clblast_version(void);

/* Name of a CLBlast status code, e.g. "CLBlastInvalidLeadDimA". */
const char *sakd_clblast_strerror(int status);

#endif
