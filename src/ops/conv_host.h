/* conv_host.h — 2-D convolution on the host provider (ops/host.h): per sample, im2col into a
 * thread's own cache-sized buffer and a single-threaded BLAS GEMM, samples split over the
 * host threads in fixed ranges. Same contract as sakd_conv2d_forward / _backward (conv.h). */
#ifndef SAKD_OPS_CONV_HOST_H
#define SAKD_OPS_CONV_HOST_H

#include "ops/conv.h"

/* Sizes of one convolution. */
typedef struct sakd_conv_host_geom {
    size_t n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, ho, wo;
} sakd_conv_host_geom;

sakd_status sakd_conv2d_host_forward(sakd_tensor *out, const sakd_tensor *in,
                                     const sakd_tensor *weight, const sakd_tensor *bias,
                                     const sakd_conv_host_geom *g);

sakd_status sakd_conv2d_host_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                      sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                      const sakd_tensor *in, const sakd_tensor *weight,
                                      const sakd_conv_host_geom *g);

/* Counts `batch` GEMMs C[m, n] = op(A)[m, k]·op(B)[k, n] (ta, tb: transposed) in ctx's GEMM
 * record, where the benchmarks keep one (ops/gemm_tuning.h): the per-sample GEMMs of a host
 * convolution, or those a direct convolution replaces. For counting FLOPs only: the entry has
 * no strides, so it is not a call CLBlast could replay (`sakd tune` records with CLBlast). */
void sakd_conv_host_record(sakd_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                           size_t batch);

#endif
