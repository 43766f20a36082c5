/* activation.c — host launchers for cl/activation.cl. */
#include "ops/activation.h"

#include "runtime/program.h"

sakd_status sakd_relu_forward(sakd_tensor *y, const sakd_tensor *x)
{
    SAKD_TRY(sakd_tensor_require_same_shape("relu_forward", "output", y, "input", x));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "activation", NULL, "relu_fwd", &k));
    cl_ulong yo = y->offset, xo = x->offset, n = sakd_tensor_numel(x);
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)n, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(n));
}

sakd_status sakd_relu_backward(sakd_tensor *gx, const sakd_tensor *x, const sakd_tensor *gy)
{
    SAKD_TRY(sakd_tensor_require_same_shape("relu_backward", "grad_in", gx, "grad_out", gy));
    SAKD_TRY(sakd_tensor_require_same_shape("relu_backward", "input", x, "grad_out", gy));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "activation", NULL, "relu_bwd", &k));
    cl_ulong go = gx->offset, xo = x->offset, yo = gy->offset, n = sakd_tensor_numel(x);
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)n, SAKD_ARG(gx->buf), SAKD_ARG(go), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(gy->buf), SAKD_ARG(yo), SAKD_ARG(n));
}
