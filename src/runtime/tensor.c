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

static void dims_str(int ndim, const size_t *dims, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %zu" : "%zu", dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

void sakd_tensor_shape_str(const sakd_tensor *t, char *buf, size_t size)
{
    dims_str(t->ndim, t->shape, buf, size);
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
    v.layout = base->layout; /* the region keeps its layout; ops check what they read */
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

sakd_status sakd_tensor_require(const char *op, const char *role, const sakd_tensor *t)
{
    if (!t)
        return sakd_error(SAKD_ERR_ARG, "%s: %s is missing (NULL tensor)", op, role);
    if (!t->buf)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' is missing (no buffer)", op, role, t->name);
    return SAKD_OK;
}

static int has_shape(const sakd_tensor *t, int ndim, const size_t *dims)
{
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == dims[i];
    return same;
}

sakd_status sakd_tensor_require_shape(const char *op, const char *role, const sakd_tensor *t,
                                      int ndim, const size_t *dims)
{
    SAKD_TRY(sakd_tensor_require(op, role, t));
    if (has_shape(t, ndim, dims))
        return SAKD_OK;
    char have[96], want[96];
    sakd_tensor_shape_str(t, have, sizeof have);
    dims_str(ndim, dims, want, sizeof want);
    return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected %s", op, role, t->name,
                      have, want);
}

sakd_status sakd_tensor_require_numel(const char *op, const char *role, const sakd_tensor *t,
                                      size_t n)
{
    SAKD_TRY(sakd_tensor_require(op, role, t));
    if (sakd_tensor_numel(t) == n)
        return SAKD_OK;
    return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has %zu elements, expected %zu", op, role, t->name,
                      sakd_tensor_numel(t), n);
}

sakd_status sakd_tensor_require_same_shape(const char *op, const char *role, const sakd_tensor *t,
                                           const char *ref_role, const sakd_tensor *ref)
{
    SAKD_TRY(sakd_tensor_require(op, role, t));
    SAKD_TRY(sakd_tensor_require(op, ref_role, ref));
    if (has_shape(t, ref->ndim, ref->shape))
        return SAKD_OK;
    char have[96], want[96];
    sakd_tensor_shape_str(t, have, sizeof have);
    sakd_tensor_shape_str(ref, want, sizeof want);
    return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected %s (that of %s '%s')", op,
                      role, t->name, have, want, ref_role, ref->name);
}

sakd_status sakd_tensor_require_same_numel(const char *op, const char *role, const sakd_tensor *t,
                                           const char *ref_role, const sakd_tensor *ref)
{
    SAKD_TRY(sakd_tensor_require(op, role, t));
    SAKD_TRY(sakd_tensor_require(op, ref_role, ref));
    size_t have = sakd_tensor_numel(t), want = sakd_tensor_numel(ref);
    if (have == want)
        return SAKD_OK;
    return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has %zu elements, expected %zu (those of %s '%s')",
                      op, role, t->name, have, want, ref_role, ref->name);
}
