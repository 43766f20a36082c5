/* optim.c — host launchers for cl/optim.cl. */
#include "ops/optim.h"

#include <math.h>

#include "ops/elementwise.h"
#include "runtime/program.h"

/* Most chunks the first stage of the norm uses; the chunking depends on n only, so the
 * summation order (and the result) is the same on every device. */
#define OPTIM_MAX_CHUNKS 1024

sakd_status sakd_sgd_step(sakd_tensor *params, sakd_tensor *momentum_buf, const sakd_tensor *grads,
                          float lr, float momentum, float weight_decay, int nesterov)
{
    const char *op = "sgd_step";
    SAKD_TRY(sakd_tensor_require(op, "params", params));
    SAKD_TRY(sakd_tensor_require_same_numel(op, "grads", grads, "params", params));
    if (momentum != 0.0f) {
        SAKD_TRY(sakd_tensor_require_same_numel(op, "momentum", momentum_buf, "params", params));
    } else if (nesterov) {
        return sakd_error(SAKD_ERR_ARG, "%s: Nesterov momentum needs momentum > 0", op);
    }
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(params->ctx, "optim", NULL, "sgd_step", &k));
    cl_ulong n = sakd_tensor_numel(params), po = params->offset, go = grads->offset;
    /* With momentum 0 the kernel never touches buf: pass the params buffer in its place. */
    cl_mem buf = momentum != 0.0f ? momentum_buf->buf : params->buf;
    cl_ulong bo = momentum != 0.0f ? momentum_buf->offset : 0;
    cl_int nest = nesterov != 0;
    return SAKD_LAUNCH_1D(params->ctx, k, n, SAKD_ARG(params->buf), SAKD_ARG(po),
                          SAKD_ARG(grads->buf), SAKD_ARG(go), SAKD_ARG(buf), SAKD_ARG(bo),
                          SAKD_ARG(n), SAKD_ARG(lr), SAKD_ARG(momentum), SAKD_ARG(weight_decay),
                          SAKD_ARG(nest));
}

sakd_status sakd_adamw_step(sakd_tensor *params, sakd_tensor *m, sakd_tensor *v,
                            const sakd_tensor *grads, float lr, float beta1, float beta2, float eps,
                            float weight_decay, long step)
{
    const char *op = "adamw_step";
    SAKD_TRY(sakd_tensor_require(op, "params", params));
    SAKD_TRY(sakd_tensor_require(op, "grads", grads));
    SAKD_TRY(sakd_tensor_require(op, "m", m));
    SAKD_TRY(sakd_tensor_require(op, "v", v));
    SAKD_TRY(sakd_tensor_require_same_numel(op, "grads", grads, "params", params));
    SAKD_TRY(sakd_tensor_require_same_numel(op, "m", m, "params", params));
    SAKD_TRY(sakd_tensor_require_same_numel(op, "v", v, "params", params));
    if (step < 1)
        return sakd_error(SAKD_ERR_ARG, "%s: step %ld must be 1 or more", op, step);
    if (!(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f))
        return sakd_error(SAKD_ERR_ARG, "%s: betas (%g, %g) must lie in [0, 1)", op, (double)beta1,
                          (double)beta2);
    /* Bias corrections in double, as PyTorch computes them in Python floats. */
    double bc1 = 1.0 - pow((double)beta1, (double)step);
    double bc2 = 1.0 - pow((double)beta2, (double)step);
    float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(params->ctx, "optim", NULL, "adamw_step", &k));
    cl_ulong n = sakd_tensor_numel(params), po = params->offset, go = grads->offset, mo = m->offset,
             vo = v->offset;
    return SAKD_LAUNCH_1D(params->ctx, k, n, SAKD_ARG(params->buf), SAKD_ARG(po),
                          SAKD_ARG(grads->buf), SAKD_ARG(go), SAKD_ARG(m->buf), SAKD_ARG(mo),
                          SAKD_ARG(v->buf), SAKD_ARG(vo), SAKD_ARG(n), SAKD_ARG(lr),
                          SAKD_ARG(beta1), SAKD_ARG(beta2), SAKD_ARG(eps), SAKD_ARG(weight_decay),
                          SAKD_ARG(step_size), SAKD_ARG(bc2_sqrt));
}

sakd_status sakd_grad_zero(sakd_tensor *grads)
{
    SAKD_TRY(sakd_tensor_require("grad_zero", "grads", grads));
    return sakd_tensor_fill(grads, 0.0f);
}

sakd_status sakd_grad_norm(sakd_tensor *norm, const sakd_tensor *grads)
{
    const char *op = "grad_norm";
    SAKD_TRY(sakd_tensor_require(op, "norm", norm));
    SAKD_TRY(sakd_tensor_require(op, "grads", grads));
    SAKD_TRY(sakd_tensor_require_numel(op, "norm", norm, 1));
    cl_ulong n = sakd_tensor_numel(grads);
    if (n == 0)
        return sakd_tensor_fill(norm, 0.0f);
    cl_ulong G = n < OPTIM_MAX_CHUNKS ? n : OPTIM_MAX_CHUNKS;
    cl_ulong chunk = (n + G - 1) / G;
    G = (n + chunk - 1) / chunk;
    cl_kernel kp, kf;
    SAKD_TRY(sakd_kernel_get(norm->ctx, "optim", NULL, "sumsq_partial", &kp));
    SAKD_TRY(sakd_kernel_get(norm->ctx, "optim", NULL, "sum_final", &kf));
    cl_mem part;
    size_t bytes = G * sizeof(float);
    SAKD_TRY(sakd_buffer_new(norm->ctx, "gradient-norm partial sums", bytes, &part));
    cl_ulong go = grads->offset, no = norm->offset;
    float one = 1.0f;
    cl_int take_sqrt = 1;
    sakd_status st = SAKD_LAUNCH_1D(norm->ctx, kp, G, SAKD_ARG(part), SAKD_ARG(grads->buf),
                                    SAKD_ARG(go), SAKD_ARG(n), SAKD_ARG(chunk), SAKD_ARG(G));
    if (st == SAKD_OK)
        st = SAKD_LAUNCH_1D(norm->ctx, kf, 1, SAKD_ARG(norm->buf), SAKD_ARG(no), SAKD_ARG(part),
                            SAKD_ARG(G), SAKD_ARG(one), SAKD_ARG(take_sqrt));
    sakd_buffer_free(norm->ctx, part, bytes);
    return st;
}

sakd_status sakd_grad_scale(sakd_tensor *grads, float factor)
{
    SAKD_TRY(sakd_tensor_require("grad_scale", "grads", grads));
    return sakd_scale(grads, factor);
}

sakd_status sakd_grad_clip(sakd_tensor *grads, const sakd_tensor *norm, float max_norm)
{
    const char *op = "grad_clip";
    SAKD_TRY(sakd_tensor_require(op, "grads", grads));
    SAKD_TRY(sakd_tensor_require_numel(op, "norm", norm, 1));
    if (!(max_norm > 0.0f))
        return sakd_error(SAKD_ERR_ARG, "%s: max_norm %g must be positive", op, (double)max_norm);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(grads->ctx, "optim", NULL, "grad_clip", &k));
    cl_ulong n = sakd_tensor_numel(grads), go = grads->offset, no = norm->offset;
    return SAKD_LAUNCH_1D(grads->ctx, k, n, SAKD_ARG(grads->buf), SAKD_ARG(go), SAKD_ARG(norm->buf),
                          SAKD_ARG(no), SAKD_ARG(n), SAKD_ARG(max_norm));
}
