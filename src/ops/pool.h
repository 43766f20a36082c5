/* pool.h — 2-D average / max pooling, adaptive and global average pooling on NCHW tensors,
 * forward and backward. Flattening [N, C, H, W] → [N, C·H·W] needs no kernel: see
 * sakd_flatten_view. */
#ifndef SAKD_OPS_POOL_H
#define SAKD_OPS_POOL_H

#include <stdint.h>

#include "runtime/tensor.h"

/* A pooling window: k×k cells, stride, zero padding on every side (2·pad ≤ k, as PyTorch
 * requires). No ceil mode: out = (in + 2·pad - k) / stride + 1. */
typedef struct sakd_pool2d {
    size_t k, stride, pad;
} sakd_pool2d;

/* Output size along one dimension, 0 when the window does not fit. */
size_t sakd_pool_out_size(size_t in, sakd_pool2d pool);

/* Argmax of each max-pool window: int32 position ih·W + iw inside its input plane. */
typedef struct sakd_pool_index {
    sakd_ctx *ctx;
    cl_mem buf;    /* int32 [N, C, OH, OW] */
    size_t offset; /* in int32 elements */
    size_t n;      /* elements */
    int owner;     /* 1 when the index allocated buf */
} sakd_pool_index;

sakd_status sakd_pool_index_new(sakd_pool_index *idx, sakd_ctx *ctx, const char *name, size_t n);
void sakd_pool_index_free(sakd_pool_index *idx);
sakd_status sakd_pool_index_download(const sakd_pool_index *idx, int32_t *host);

/* Average pooling, count_include_pad (PyTorch's default): y = (1/k²)·Σ window, padding = 0.
 * x: [N, C, H, W], y: [N, C, OH, OW]. */
sakd_status sakd_avgpool_forward(sakd_tensor *y, const sakd_tensor *x, sakd_pool2d pool);
/* WRITES gx [N, C, H, W] from gy [N, C, OH, OW]. */
sakd_status sakd_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy, sakd_pool2d pool);

/* Max pooling (padding never wins); writes y [N, C, OH, OW] and the argmax idx (n = numel(y)).
 * Ties pick the first cell in row-major order. */
sakd_status sakd_maxpool_forward(sakd_tensor *y, sakd_pool_index *idx, const sakd_tensor *x,
                                 sakd_pool2d pool);
/* WRITES gx [N, C, H, W]: each cell gathers gy of the windows whose argmax it is (no atomics;
 * deterministic). */
sakd_status sakd_maxpool_backward(sakd_tensor *gx, const sakd_pool_index *idx,
                                  const sakd_tensor *gy, sakd_pool2d pool);

/* Adaptive average pooling (PyTorch's AdaptiveAvgPool2d) to the output's OH×OW: output row oh
 * averages input rows [⌊oh·H/OH⌋, ⌈(oh+1)·H/OH⌉), and likewise columns. Bins may overlap, and
 * where H < OH one input cell fills several outputs (torchvision's VGG pools a 1×1 map to 7×7).
 * x: [N, C, H, W], y: [N, C, OH, OW], any OH, OW ≥ 1. */
sakd_status sakd_adaptive_avgpool_forward(sakd_tensor *y, const sakd_tensor *x);
/* WRITES gx [N, C, H, W]: each cell gathers gy / |bin| over the bins holding it. */
sakd_status sakd_adaptive_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy);

/* Global average pooling: x [N, C, H, W] → y [N, C], y = mean over H·W. */
sakd_status sakd_global_avgpool_forward(sakd_tensor *y, const sakd_tensor *x);
/* WRITES gx [N, C, H, W] = gy [N, C] / (H·W). */
sakd_status sakd_global_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy);

#endif
