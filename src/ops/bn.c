/* bn.c — host launchers of batch normalization (cl/bn.cl). */
#include "ops/bn.h"

#include "ops/bn_host.h"
#include "ops/host.h"
#include "ops/reduce.h"
#include "runtime/program.h"

/* N, C and P (the product of the dimensions after C) of the input. */
static sakd_status bn_sizes(const char *op, const sakd_tensor *in, size_t *n, size_t *c, size_t *p)
{
    SAKD_TRY(sakd_tensor_require(op, "input", in));
    char s[96];
    sakd_tensor_shape_str(in, s, sizeof s);
    if (in->ndim < 2 || in->ndim > 4 || in->shape[0] == 0 || in->shape[1] == 0)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s' has shape %s, expected [N, C], [N, C, L] "
                          "or [N, C, H, W]",
                          op, in->name, s);
    *n = in->shape[0];
    *c = in->shape[1];
    *p = sakd_tensor_numel(in) / (*n * *c);
    return SAKD_OK;
}

sakd_status sakd_batchnorm_forward(sakd_tensor *out, sakd_tensor *save_mean,
                                   sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                   sakd_tensor *running_var, const sakd_tensor *in,
                                   const sakd_tensor *gamma, const sakd_tensor *beta, int train,
                                   float momentum, float eps)
{
    const char *op = "batchnorm_forward";
    size_t n, c, p;
    SAKD_TRY(bn_sizes(op, in, &n, &c, &p));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "output", out, "input", in));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_mean", save_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_invstd", save_invstd, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "running_mean", running_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "running_var", running_var, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "gamma", gamma, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "beta", beta, 1, &c));
    if (train && n * p < 2)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s' has 1 value per channel; training needs more than 1", op,
                          in->name);
    if (!(eps > 0.0f))
        return sakd_error(SAKD_ERR_ARG, "%s: eps %g must be positive", op, (double)eps);
    sakd_ctx *ctx = in->ctx;
    if (sakd_host_active(ctx))
        return sakd_batchnorm_host_forward(out, save_mean, save_invstd, running_mean, running_var,
                                           in, gamma, beta, train, momentum, eps, n, c, p);
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_ulong smo = save_mean->offset, sio = save_invstd->offset, rmo = running_mean->offset,
             rvo = running_var->offset, xo = in->offset;
    if (train) {
        cl_kernel k;
        SAKD_TRY(sakd_reduce_kernel(ctx, "bn", "bn_stats", &ro, &k));
        SAKD_TRY(SAKD_LAUNCH_GROUPS(
            ctx, k, c, ro.wg, SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
            SAKD_ARG(sio), SAKD_ARG(running_mean->buf), SAKD_ARG(rmo), SAKD_ARG(running_var->buf),
            SAKD_ARG(rvo), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ULONG(n), SAKD_ULONG(c),
            SAKD_ULONG(p), SAKD_ARG(momentum), SAKD_ARG(eps)));
    } else {
        cl_kernel k;
        SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_eval_stats", &k));
        SAKD_TRY(SAKD_LAUNCH_1D(
            ctx, k, c, SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
            SAKD_ARG(sio), SAKD_ARG(running_mean->buf), SAKD_ARG(rmo), SAKD_ARG(running_var->buf),
            SAKD_ARG(rvo), SAKD_ULONG(c), SAKD_ARG(eps)));
    }
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_fwd", &k));
    cl_ulong yo = out->offset, go = gamma->offset, bo = beta->offset;
    return SAKD_LAUNCH_ROWS(ctx, k, p, n * c, SAKD_ARG(out->buf), SAKD_ARG(yo),
                            SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
                            SAKD_ARG(sio), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ARG(gamma->buf),
                            SAKD_ARG(go), SAKD_ARG(beta->buf), SAKD_ARG(bo), SAKD_ULONG(n),
                            SAKD_ULONG(c), SAKD_ULONG(p));
}

sakd_status sakd_batchnorm_backward(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                    sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                    const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                    const sakd_tensor *in, const sakd_tensor *gamma, int train)
{
    const char *op = "batchnorm_backward";
    size_t n, c, p;
    SAKD_TRY(bn_sizes(op, in, &n, &c, &p));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "grad_out", grad_out, "input", in));
    if (grad_in)
        SAKD_TRY(sakd_tensor_require_same_shape(op, "grad_in", grad_in, "input", in));
    SAKD_TRY(sakd_tensor_require_shape(op, "grad_gamma", grad_gamma, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "grad_beta", grad_beta, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_mean", save_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_invstd", save_invstd, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "gamma", gamma, 1, &c));
    sakd_ctx *ctx = in->ctx;
    if (sakd_host_active(ctx))
        return sakd_batchnorm_host_backward(grad_in, grad_gamma, grad_beta, save_mean, save_invstd,
                                            grad_out, in, gamma, train, n, c, p);
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_kernel kr;
    SAKD_TRY(sakd_reduce_kernel(ctx, "bn", "bn_bwd_reduce", &ro, &kr));
    cl_ulong ggo = grad_gamma->offset, gbo = grad_beta->offset, smo = save_mean->offset,
             sio = save_invstd->offset, gyo = grad_out->offset, xo = in->offset;
    SAKD_TRY(SAKD_LAUNCH_GROUPS(ctx, kr, c, ro.wg, SAKD_ARG(grad_gamma->buf), SAKD_ARG(ggo),
                                SAKD_ARG(grad_beta->buf), SAKD_ARG(gbo), SAKD_ARG(save_mean->buf),
                                SAKD_ARG(smo), SAKD_ARG(save_invstd->buf), SAKD_ARG(sio),
                                SAKD_ARG(grad_out->buf), SAKD_ARG(gyo), SAKD_ARG(in->buf),
                                SAKD_ARG(xo), SAKD_ULONG(n), SAKD_ULONG(c), SAKD_ULONG(p)));
    if (!grad_in)
        return SAKD_OK;
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_bwd", &k));
    cl_ulong gxo = grad_in->offset, go = gamma->offset;
    return SAKD_LAUNCH_ROWS(
        ctx, k, p, n * c, SAKD_ARG(grad_in->buf), SAKD_ARG(gxo), SAKD_ARG(grad_gamma->buf),
        SAKD_ARG(ggo), SAKD_ARG(grad_beta->buf), SAKD_ARG(gbo), SAKD_ARG(save_mean->buf),
        SAKD_ARG(smo), SAKD_ARG(save_invstd->buf), SAKD_ARG(sio), SAKD_ARG(grad_out->buf),
        SAKD_ARG(gyo), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ARG(gamma->buf), SAKD_ARG(go),
        SAKD_ULONG(n), SAKD_ULONG(c), SAKD_ULONG(p), SAKD_INT(train != 0));
}
