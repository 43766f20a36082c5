/* activation.c — host launchers for cl/activation.cl. */
#include "ops/activation.h"

#include "runtime/program.h"

static sakd_status has_buf(const char *op, const sakd_tensor *t)
{
    if (!t || !t->buf)
        return sakd_error(SAKD_ERR_ARG, "%s: tensor '%s' has no buffer", op,
                          t ? t->name : "(null)");
    return SAKD_OK;
}

/* Checks a and b exist and have the same shape; names the op and both tensors otherwise. */
static sakd_status same_shape(const char *op, const sakd_tensor *a, const sakd_tensor *b)
{
    SAKD_TRY(has_buf(op, a));
    SAKD_TRY(has_buf(op, b));
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

sakd_status sakd_relu_forward(sakd_tensor *y, const sakd_tensor *x)
{
    SAKD_TRY(same_shape("relu_forward", y, x));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "activation", NULL, "relu_fwd", &k));
    cl_ulong yo = y->offset, xo = x->offset, n = sakd_tensor_numel(x);
    return sakd_launch_1d(
        x->ctx, k, (size_t)n, 5,
        (sakd_arg[]){SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(x->buf), SAKD_ARG(xo), SAKD_ARG(n)});
}

sakd_status sakd_relu_backward(sakd_tensor *gx, const sakd_tensor *x, const sakd_tensor *gy)
{
    SAKD_TRY(same_shape("relu_backward", gx, gy));
    SAKD_TRY(same_shape("relu_backward", x, gy));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "activation", NULL, "relu_bwd", &k));
    cl_ulong go = gx->offset, xo = x->offset, yo = gy->offset, n = sakd_tensor_numel(x);
    return sakd_launch_1d(x->ctx, k, (size_t)n, 7,
                          (sakd_arg[]){SAKD_ARG(gx->buf), SAKD_ARG(go), SAKD_ARG(x->buf),
                                       SAKD_ARG(xo), SAKD_ARG(gy->buf), SAKD_ARG(yo), SAKD_ARG(n)});
}
