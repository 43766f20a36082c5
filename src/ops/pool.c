/* pool.c — host launchers for cl/pool.cl: shape checks and argmax index buffers. */
#include "ops/pool.h"

#include <string.h>

#include "runtime/program.h"

size_t sakd_pool_out_size(size_t in, sakd_pool2d pool)
{
    if (pool.k == 0 || pool.stride == 0 || in + 2 * pool.pad < pool.k)
        return 0;
    return (in + 2 * pool.pad - pool.k) / pool.stride + 1;
}

sakd_status sakd_pool_index_new(sakd_pool_index *idx, sakd_ctx *ctx, const char *name, size_t n)
{
    memset(idx, 0, sizeof *idx);
    if (n == 0)
        return sakd_error(SAKD_ERR_ARG, "pool index '%s': 0 elements", name ? name : "");
    SAKD_TRY(sakd_buffer_new(ctx, name ? name : "pool index", n * sizeof(cl_int), &idx->buf));
    idx->ctx = ctx;
    idx->n = n;
    idx->owner = 1;
    return SAKD_OK;
}

void sakd_pool_index_free(sakd_pool_index *idx)
{
    if (idx->owner && idx->buf)
        sakd_buffer_free(idx->ctx, idx->buf, idx->n * sizeof(cl_int));
    memset(idx, 0, sizeof *idx);
}

sakd_status sakd_pool_index_download(const sakd_pool_index *idx, int32_t *host)
{
    cl_int err =
        clEnqueueReadBuffer(idx->ctx->queue, idx->buf, CL_TRUE, idx->offset * sizeof(cl_int),
                            idx->n * sizeof(cl_int), host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return sakd_ctx_device_error(idx->ctx, err, "downloading pooling indices");
    return SAKD_OK;
}

/* x [N, C, H, W] and y [N, C, OH, OW] must agree with the window. */
static sakd_status check_pool(const char *op, const char *x_role, const sakd_tensor *x,
                              const char *y_role, const sakd_tensor *y, sakd_pool2d pool)
{
    SAKD_TRY(sakd_tensor_require(op, x_role, x));
    SAKD_TRY(sakd_tensor_require(op, y_role, y));
    if (pool.k == 0 || pool.stride == 0 || 2 * pool.pad > pool.k)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: window k %zu stride %zu pad %zu (need k, stride ≥ 1, 2·pad ≤ k)", op,
                          pool.k, pool.stride, pool.pad);
    char sx[96];
    sakd_tensor_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected [N, C, H, W]", op,
                          x_role, x->name, sx);
    size_t oh = sakd_pool_out_size(x->shape[2], pool), ow = sakd_pool_out_size(x->shape[3], pool);
    if (oh == 0 || ow == 0)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: %s '%s' has shape %s, too small for the window k %zu stride %zu "
                          "pad %zu",
                          op, x_role, x->name, sx, pool.k, pool.stride, pool.pad);
    SAKD_TRY(
        sakd_tensor_require_shape(op, y_role, y, 4, (size_t[]){x->shape[0], x->shape[1], oh, ow}));
    if (x->shape[2] * x->shape[3] > 0x7fffffff)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has planes too large for int32 indices", op,
                          x_role, x->name);
    return SAKD_OK;
}

/* The argmax index (not a tensor) holds an element per element of y. */
static sakd_status check_index(const char *op, const sakd_pool_index *idx, const char *y_role,
                               const sakd_tensor *y)
{
    if (!idx || !idx->buf)
        return sakd_error(SAKD_ERR_ARG, "%s: argmax index is missing (%s)", op,
                          idx ? "no buffer" : "NULL index");
    if (idx->n != sakd_tensor_numel(y))
        return sakd_error(SAKD_ERR_ARG,
                          "%s: argmax index has %zu elements, expected %zu (those of %s '%s')", op,
                          idx->n, sakd_tensor_numel(y), y_role, y->name);
    return SAKD_OK;
}

/* Launches a pool kernel: (out, [idx], in) buffers, then the common sizes. */
static sakd_status launch_pool(const char *name, const sakd_tensor *out, const sakd_pool_index *idx,
                               const sakd_tensor *in, const sakd_tensor *x, const sakd_tensor *y,
                               sakd_pool2d pool)
{
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "pool", NULL, name, &k));
    cl_ulong oo = out->offset, io = in->offset, total = sakd_tensor_numel(out);
    cl_ulong xo = idx ? idx->offset : 0;
    cl_uint H = (cl_uint)x->shape[2], W = (cl_uint)x->shape[3], OH = (cl_uint)y->shape[2],
            OW = (cl_uint)y->shape[3], kk = (cl_uint)pool.k, s = (cl_uint)pool.stride,
            p = (cl_uint)pool.pad;
    if (idx)
        return SAKD_LAUNCH_1D(x->ctx, k, (size_t)total, SAKD_ARG(out->buf), SAKD_ARG(oo),
                              SAKD_ARG(idx->buf), SAKD_ARG(xo), SAKD_ARG(in->buf), SAKD_ARG(io),
                              SAKD_ARG(total), SAKD_ARG(H), SAKD_ARG(W), SAKD_ARG(OH), SAKD_ARG(OW),
                              SAKD_ARG(kk), SAKD_ARG(s), SAKD_ARG(p));
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)total, SAKD_ARG(out->buf), SAKD_ARG(oo),
                          SAKD_ARG(in->buf), SAKD_ARG(io), SAKD_ARG(total), SAKD_ARG(H),
                          SAKD_ARG(W), SAKD_ARG(OH), SAKD_ARG(OW), SAKD_ARG(kk), SAKD_ARG(s),
                          SAKD_ARG(p));
}

sakd_status sakd_avgpool_forward(sakd_tensor *y, const sakd_tensor *x, sakd_pool2d pool)
{
    SAKD_TRY(check_pool("avgpool_forward", "input", x, "output", y, pool));
    return launch_pool("avgpool_fwd", y, NULL, x, x, y, pool);
}

sakd_status sakd_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy, sakd_pool2d pool)
{
    SAKD_TRY(check_pool("avgpool_backward", "grad_in", gx, "grad_out", gy, pool));
    return launch_pool("avgpool_bwd", gx, NULL, gy, gx, gy, pool);
}

sakd_status sakd_maxpool_forward(sakd_tensor *y, sakd_pool_index *idx, const sakd_tensor *x,
                                 sakd_pool2d pool)
{
    SAKD_TRY(check_pool("maxpool_forward", "input", x, "output", y, pool));
    SAKD_TRY(check_index("maxpool_forward", idx, "output", y));
    return launch_pool("maxpool_fwd", y, idx, x, x, y, pool);
}

sakd_status sakd_maxpool_backward(sakd_tensor *gx, const sakd_pool_index *idx,
                                  const sakd_tensor *gy, sakd_pool2d pool)
{
    SAKD_TRY(check_pool("maxpool_backward", "grad_in", gx, "grad_out", gy, pool));
    SAKD_TRY(check_index("maxpool_backward", idx, "grad_out", gy));
    return launch_pool("maxpool_bwd", gx, idx, gy, gx, gy, pool);
}

/* x [N, C, H, W], y [N, C]. */
static sakd_status check_gap(const char *op, const char *x_role, const sakd_tensor *x,
                             const char *y_role, const sakd_tensor *y)
{
    SAKD_TRY(sakd_tensor_require(op, x_role, x));
    SAKD_TRY(sakd_tensor_require(op, y_role, y));
    if (x->ndim != 4) {
        char sx[96];
        sakd_tensor_shape_str(x, sx, sizeof sx);
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected [N, C, H, W]", op,
                          x_role, x->name, sx);
    }
    return sakd_tensor_require_shape(op, y_role, y, 2, x->shape);
}

sakd_status sakd_global_avgpool_forward(sakd_tensor *y, const sakd_tensor *x)
{
    SAKD_TRY(check_gap("global_avgpool_forward", "input", x, "output", y));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "pool", NULL, "gap_fwd", &k));
    cl_ulong yo = y->offset, xo = x->offset, nc = sakd_tensor_numel(y),
             hw = x->shape[2] * x->shape[3];
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)nc, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(nc), SAKD_ARG(hw));
}

sakd_status sakd_global_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy)
{
    SAKD_TRY(check_gap("global_avgpool_backward", "grad_in", gx, "grad_out", gy));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(gx->ctx, "pool", NULL, "gap_bwd", &k));
    cl_ulong xo = gx->offset, yo = gy->offset, total = sakd_tensor_numel(gx),
             hw = gx->shape[2] * gx->shape[3];
    return SAKD_LAUNCH_1D(gx->ctx, k, (size_t)total, SAKD_ARG(gx->buf), SAKD_ARG(xo),
                          SAKD_ARG(gy->buf), SAKD_ARG(yo), SAKD_ARG(total), SAKD_ARG(hw));
}

/* x [N, C, H, W] and y [N, C, OH, OW] with the same N and C, every extent at least 1. */
static sakd_status check_adaptive(const char *op, const char *x_role, const sakd_tensor *x,
                                  const char *y_role, const sakd_tensor *y)
{
    SAKD_TRY(sakd_tensor_require(op, x_role, x));
    SAKD_TRY(sakd_tensor_require(op, y_role, y));
    const sakd_tensor *t[2] = {x, y};
    const char *role[2] = {x_role, y_role};
    for (int i = 0; i < 2; i++)
        if (t[i]->ndim != 4) {
            char s[96];
            sakd_tensor_shape_str(t[i], s, sizeof s);
            return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected [N, C, H, W]", op,
                              role[i], t[i]->name, s);
        }
    return sakd_tensor_require_shape(
        op, y_role, y, 4, (size_t[]){x->shape[0], x->shape[1], y->shape[2], y->shape[3]});
}

static sakd_status launch_adaptive(const char *name, const sakd_tensor *out, const sakd_tensor *in,
                                   const sakd_tensor *x, const sakd_tensor *y)
{
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "pool", NULL, name, &k));
    cl_ulong oo = out->offset, io = in->offset, total = sakd_tensor_numel(out);
    cl_uint H = (cl_uint)x->shape[2], W = (cl_uint)x->shape[3], OH = (cl_uint)y->shape[2],
            OW = (cl_uint)y->shape[3];
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)total, SAKD_ARG(out->buf), SAKD_ARG(oo),
                          SAKD_ARG(in->buf), SAKD_ARG(io), SAKD_ARG(total), SAKD_ARG(H),
                          SAKD_ARG(W), SAKD_ARG(OH), SAKD_ARG(OW));
}

sakd_status sakd_adaptive_avgpool_forward(sakd_tensor *y, const sakd_tensor *x)
{
    SAKD_TRY(check_adaptive("adaptive_avgpool_forward", "input", x, "output", y));
    return launch_adaptive("adaptive_avgpool_fwd", y, x, x, y);
}

sakd_status sakd_adaptive_avgpool_backward(sakd_tensor *gx, const sakd_tensor *gy)
{
    SAKD_TRY(check_adaptive("adaptive_avgpool_backward", "grad_in", gx, "grad_out", gy));
    return launch_adaptive("adaptive_avgpool_bwd", gx, gy, gx, gy);
}
