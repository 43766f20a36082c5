/* elementwise.c — host launchers for cl/elementwise.cl. */
#include "ops/elementwise.h"

#include "runtime/program.h"

sakd_status sakd_axpby(sakd_tensor *y, const sakd_tensor *x, float a, float b)
{
    SAKD_TRY(sakd_tensor_require("axpby", "y", y));
    SAKD_TRY(sakd_tensor_require_same_numel("axpby", "x", x, "y", y));
    cl_ulong n = sakd_tensor_numel(y);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(y->ctx, "elementwise", NULL, "axpby", &k));
    cl_ulong yo = y->offset, xo = x->offset;
    return SAKD_LAUNCH_1D(y->ctx, k, (size_t)n, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(n), SAKD_ARG(a), SAKD_ARG(b));
}

sakd_status sakd_scale(sakd_tensor *y, float a)
{
    SAKD_TRY(sakd_tensor_require("scale", "y", y));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(y->ctx, "elementwise", NULL, "scale", &k));
    cl_ulong yo = y->offset, n = sakd_tensor_numel(y);
    return SAKD_LAUNCH_1D(y->ctx, k, (size_t)n, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(n),
                          SAKD_ARG(a));
}
