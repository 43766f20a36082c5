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
    char name[64];                      /* for messages */
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

/* SAKD_ERR_ARG naming `op` and the tensor when t is NULL or has no buffer. */
sakd_status sakd_tensor_require(const char *op, const sakd_tensor *t);

/* As sakd_tensor_require for both, and SAKD_ERR_ARG naming `op`, both tensors and their
 * shapes when the shapes differ. */
sakd_status sakd_tensor_require_same_shape(const char *op, const sakd_tensor *a,
                                           const sakd_tensor *b);

/* "[2, 3, 4]" for messages. */
void sakd_tensor_shape_str(const sakd_tensor *t, char *buf, size_t size);

#endif
