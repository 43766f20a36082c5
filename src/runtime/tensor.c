/* tensor.c — device tensor allocation, views, transfers, fill and copy. */
#include "runtime/tensor.h"

#include "runtime/profile.h"

#include <stdio.h>
#include <string.h>

static size_t shape_numel(int ndim, const size_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

size_t sakd_tensor_numel(const sakd_tensor *t)
{
    return shape_numel(t->ndim, t->shape);
}

void sakd_tensor_shape_str(const sakd_tensor *t, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %zu" : "%zu", t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static sakd_status check_shape(const char *name, int ndim, const size_t *shape)
{
    if (ndim < 1 || ndim > SAKD_TENSOR_MAX_DIMS)
        return sakd_error(SAKD_ERR_ARG, "tensor '%s': %d dimensions (1 to %d allowed)", name, ndim,
                          SAKD_TENSOR_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            return sakd_error(SAKD_ERR_ARG, "tensor '%s': dimension %d has size 0", name, i);
    return SAKD_OK;
}

static void set_header(sakd_tensor *t, sakd_ctx *ctx, const char *name, int ndim,
                       const size_t *shape)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "tensor");
}

sakd_status sakd_tensor_new(sakd_tensor *t, sakd_ctx *ctx, const char *name, int ndim,
                            const size_t *shape)
{
    memset(t, 0, sizeof *t);
    SAKD_TRY(check_shape(name, ndim, shape));
    set_header(t, ctx, name, ndim, shape);
    char what[160], dims[96];
    sakd_tensor_shape_str(t, dims, sizeof dims);
    snprintf(what, sizeof what, "%s %s", t->name, dims);
    SAKD_TRY(sakd_buffer_new(ctx, what, sakd_tensor_numel(t) * sizeof(float), &t->buf));
    t->owner = 1;
    return SAKD_OK;
}

sakd_status sakd_tensor_view(sakd_tensor *view, const sakd_tensor *base, const char *name,
                             size_t offset, int ndim, const size_t *shape)
{
    SAKD_TRY(check_shape(name, ndim, shape));
    size_t need = offset + shape_numel(ndim, shape);
    if (need > sakd_tensor_numel(base))
        return sakd_error(SAKD_ERR_ARG,
                          "view '%s' of %zu elements at offset %zu does not fit in tensor '%s' of "
                          "%zu elements",
                          name, shape_numel(ndim, shape), offset, base->name,
                          sakd_tensor_numel(base));
    sakd_tensor v;
    set_header(&v, base->ctx, name, ndim, shape);
    v.buf = base->buf;
    v.offset = base->offset + offset;
    *view = v;
    return SAKD_OK;
}

void sakd_tensor_free(sakd_tensor *t)
{
    if (t->owner && t->buf)
        sakd_buffer_free(t->ctx, t->buf, sakd_tensor_numel(t) * sizeof(float));
    memset(t, 0, sizeof *t);
}

sakd_status sakd_tensor_upload(sakd_tensor *t, const float *host)
{
    size_t bytes = sakd_tensor_numel(t) * sizeof(float);
    cl_int err =
        clEnqueueWriteBuffer(t->ctx->queue, t->buf, CL_TRUE, t->offset * sizeof(float), bytes, host,
                             0, NULL, sakd_profile_event(t->ctx, NULL, "transfer"));
    if (err != CL_SUCCESS) {
        char what[200];
        snprintf(what, sizeof what, "uploading tensor '%s' (%zu bytes)", t->name, bytes);
        return sakd_ctx_device_error(t->ctx, err, what);
    }
    return SAKD_OK;
}

sakd_status sakd_tensor_download(const sakd_tensor *t, float *host)
{
    size_t bytes = sakd_tensor_numel(t) * sizeof(float);
    cl_int err =
        clEnqueueReadBuffer(t->ctx->queue, t->buf, CL_TRUE, t->offset * sizeof(float), bytes, host,
                            0, NULL, sakd_profile_event(t->ctx, NULL, "transfer"));
    if (err != CL_SUCCESS) {
        char what[200];
        snprintf(what, sizeof what, "downloading tensor '%s' (%zu bytes)", t->name, bytes);
        return sakd_ctx_device_error(t->ctx, err, what);
    }
    return SAKD_OK;
}

sakd_status sakd_tensor_fill(sakd_tensor *t, float value)
{
    cl_int err =
        clEnqueueFillBuffer(t->ctx->queue, t->buf, &value, sizeof value, t->offset * sizeof(float),
                            sakd_tensor_numel(t) * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "filling tensor '%s' failed with %s", t->name,
                          sakd_cl_strerror(err));
    return SAKD_OK;
}

sakd_status sakd_tensor_copy(sakd_tensor *dst, const sakd_tensor *src)
{
    size_t n = sakd_tensor_numel(src);
    if (n != sakd_tensor_numel(dst))
        return sakd_error(SAKD_ERR_ARG, "copy from '%s' (%zu elements) to '%s' (%zu elements)",
                          src->name, n, dst->name, sakd_tensor_numel(dst));
    cl_int err =
        clEnqueueCopyBuffer(dst->ctx->queue, src->buf, dst->buf, src->offset * sizeof(float),
                            dst->offset * sizeof(float), n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "copying '%s' to '%s' failed with %s", src->name,
                          dst->name, sakd_cl_strerror(err));
    return SAKD_OK;
}

sakd_status sakd_tensor_require(const char *op, const sakd_tensor *t)
{
    if (!t || !t->buf)
        return sakd_error(SAKD_ERR_ARG, "%s: tensor '%s' has no buffer", op,
                          t ? t->name : "(null)");
    return SAKD_OK;
}

sakd_status sakd_tensor_require_same_shape(const char *op, const sakd_tensor *a,
                                           const sakd_tensor *b)
{
    SAKD_TRY(sakd_tensor_require(op, a));
    SAKD_TRY(sakd_tensor_require(op, b));
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->shape[i] == b->shape[i];
    if (!same) {
        char sa[96], sb[96];
        sakd_tensor_shape_str(a, sa, sizeof sa);
        sakd_tensor_shape_str(b, sb, sizeof sb);
        return sakd_error(SAKD_ERR_ARG, "%s: '%s' has shape %s but '%s' has shape %s", op, a->name,
                          sa, b->name, sb);
    }
    return SAKD_OK;
}
