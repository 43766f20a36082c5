/* dropout.c — host launcher for cl/random.cl's dropout_apply. */
#include "ops/dropout.h"

#include "runtime/program.h"

sakd_status sakd_dropout_apply(sakd_tensor *y, const sakd_tensor *x, float p, uint64_t seed,
                               uint64_t base, size_t period)
{
    const char *op = "dropout";
    SAKD_TRY(sakd_tensor_require(op, "output", y));
    SAKD_TRY(sakd_tensor_require_same_numel(op, "output", y, "input", x));
    size_t n = sakd_tensor_numel(x);
    if (!(p >= 0.0f && p < 1.0f))
        return sakd_error(SAKD_ERR_ARG, "%s: probability %g of '%s' is outside [0, 1)", op,
                          (double)p, x->name);
    if (period == 0 || n % period != 0)
        return sakd_error(SAKD_ERR_ARG, "%s: period %zu does not divide the %zu elements of '%s'",
                          op, period, n, x->name);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "random", NULL, "dropout_apply", &k));
    return SAKD_LAUNCH_1D(x->ctx, k, n, SAKD_ARG(y->buf), SAKD_ULONG(y->offset), SAKD_ARG(x->buf),
                          SAKD_ULONG(x->offset), SAKD_ULONG(n), SAKD_ULONG(period),
                          SAKD_ULONG(seed), SAKD_ULONG(base), SAKD_FLOAT(p),
                          SAKD_FLOAT(1.0f / (1.0f - p)));
}
