/* tensor.h — float32 tensors of up to 5 dimensions on a device: a cl_mem, an element offset
 * and a shape. */
#ifndef SAKD_RUNTIME_TENSOR_H
#define SAKD_RUNTIME_TENSOR_H

#include <stddef.h>

#include "runtime/context.h"

#define SAKD_TENSOR_MAX_DIMS 5

typedef struct sakd_tensor {
    sakd_ctx *ctx;
    cl_mem buf;    /* the buffer; shared with the base tensor for a view */
    size_t offset; /* in elements (float32) from the start of buf */
    int ndim;
    size_t shape[SAKD_TENSOR_MAX_DIMS]; /* row-major, e.g. [T*B, C, H, W] */
    int owner;                          /* 1 when this tensor allocated buf */
    /* 0: stored row-major as the shape reads. B (8 or 16): a 4-D [N, C, H, W] tensor stored
     * channel-blocked, [N, C/B, H, W, B] (oneDNN's nChw8c / nChw16c; C a multiple of B), so
     * that element (n, c, h, w) sits at ((n·C/B + c/B)·H·W + h·W + w)·B + c mod B. Each sample
     * stays contiguous, so slicing the first dimension and element-wise ops are unchanged;
     * an op that reads channels or positions says which layouts it takes. */
    int layout;
    char name[64]; /* for messages */
} sakd_tensor;

/* Number of elements (product of the shape). */
size_t sakd_tensor_numel(const sakd_tensor *t);

/* Allocates a tensor of `ndim` dimensions. The contents are undefined. */
sakd_status sakd_tensor_new(sakd_tensor *t, sakd_ctx *ctx, const char *name, int ndim,
                            const size_t *shape);

/* A view into `base` starting `offset` elements after base's own offset;
 * it must fit inside base. The view does not own the buffer. */
sakd_status sakd_tensor_view(sakd_tensor *view, const sakd_tensor *base, const char *name,
                             size_t offset, int ndim, const size_t *shape);

/* Frees the buffer if the tensor owns it; safe on a zeroed tensor. */
void sakd_tensor_free(sakd_tensor *t);

/* Blocking copies between host memory (numel floats) and the tensor. */
sakd_status sakd_tensor_upload(sakd_tensor *t, const float *host);
sakd_status sakd_tensor_download(const sakd_tensor *t, float *host);

/* Sets every element to `value`. */
sakd_status sakd_tensor_fill(sakd_tensor *t, float value);

/* Copies src into dst; they must have the same number of elements. */
sakd_status sakd_tensor_copy(sakd_tensor *dst, const sakd_tensor *src);

/* The argument checks of an op. Each returns SAKD_ERR_ARG with one message format,
 *   "<op>: <role> '<name>' <problem>"      e.g. "conv2d_forward: bias 'fc.b' has shape [5],
 *                                            expected [4]"
 *   "<op>: <role> is missing (NULL tensor)" for a NULL tensor,
 * where `role` says what the tensor is to the op ("input", "grad_out", "running_mean"). */

/* t is present: not NULL and with a buffer. */
sakd_status sakd_tensor_require(const char *op, const char *role, const sakd_tensor *t);

/* t is present with exactly the shape dims[0..ndim). */
sakd_status sakd_tensor_require_shape(const char *op, const char *role, const sakd_tensor *t,
                                      int ndim, const size_t *dims);

/* t is present with n elements (any shape). */
sakd_status sakd_tensor_require_numel(const char *op, const char *role, const sakd_tensor *t,
                                      size_t n);

/* t and ref are present and t has ref's shape. */
sakd_status sakd_tensor_require_same_shape(const char *op, const char *role, const sakd_tensor *t,
                                           const char *ref_role, const sakd_tensor *ref);

/* t and ref are present and t has as many elements as ref (any shapes). */
sakd_status sakd_tensor_require_same_numel(const char *op, const char *role, const sakd_tensor *t,
                                           const char *ref_role, const sakd_tensor *ref);

/* "[2, 3, 4]" for messages. */
void sakd_tensor_shape_str(const sakd_tensor *t, char *buf, size_t size);

#endif
