/* linear.c — host launchers of the fully connected layer: CLBlast GEMMs plus cl/linear.cl for
 * the bias. */
#include "ops/linear.h"

#include "ops/gemm.h"
#include "runtime/program.h"

/* Rows (shape[0]) and columns (the rest flattened) of t; expects rows = want_rows (unless
 * want_rows is 0) and cols = want_cols (unless 0). */
static sakd_status matrix(const char *op, const char *role, const sakd_tensor *t, size_t want_rows,
                          size_t want_cols, size_t *rows, size_t *cols)
{
    SAKD_TRY(sakd_tensor_require(op, role, t));
    char s[96];
    sakd_tensor_shape_str(t, s, sizeof s);
    if (t->ndim < 1 || t->shape[0] == 0)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected [N, features]", op,
                          role, t->name, s);
    size_t r = t->shape[0], c = sakd_tensor_numel(t) / r;
    if ((want_rows && r != want_rows) || (want_cols && c != want_cols))
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected %zu x %zu", op, role,
                          t->name, s, want_rows ? want_rows : r, want_cols ? want_cols : c);
    *rows = r;
    *cols = c;
    return SAKD_OK;
}

/* N, in and out from in and weight, checked against each other. */
static sakd_status linear_sizes(const char *op, const sakd_tensor *in, const sakd_tensor *weight,
                                size_t *n, size_t *nin, size_t *nout)
{
    SAKD_TRY(sakd_tensor_require(op, "input", in));
    SAKD_TRY(sakd_tensor_require(op, "weight", weight));
    char s[96];
    sakd_tensor_shape_str(weight, s, sizeof s);
    if (weight->ndim != 2)
        return sakd_error(SAKD_ERR_ARG, "%s: weight '%s' has shape %s, expected [out, in]", op,
                          weight->name, s);
    *nout = weight->shape[0];
    return matrix(op, "input", in, 0, weight->shape[1], n, nin);
}

sakd_status sakd_linear_forward(sakd_tensor *out, const sakd_tensor *in, const sakd_tensor *weight,
                                const sakd_tensor *bias)
{
    const char *op = "linear_forward";
    size_t n, nin, nout, r, c;
    SAKD_TRY(linear_sizes(op, in, weight, &n, &nin, &nout));
    SAKD_TRY(matrix(op, "output", out, n, nout, &r, &c));
    if (bias)
        SAKD_TRY(matrix(op, "bias", bias, nout, 1, &r, &c));
    sakd_ctx *ctx = in->ctx;
    if (bias) {
        cl_kernel k;
        SAKD_TRY(sakd_kernel_get(ctx, "linear", NULL, "linear_bias_fwd", &k));
        cl_ulong yo = out->offset, bo = bias->offset;
        SAKD_TRY(SAKD_LAUNCH_1D(ctx, k, n * nout, SAKD_ARG(out->buf), SAKD_ARG(yo),
                                SAKD_ARG(bias->buf), SAKD_ARG(bo), SAKD_ULONG(n),
                                SAKD_ULONG(nout)));
    }
    /* y[N, out] = x[N, in] · W[out, in]^T (+ y holding the bias) */
    return sakd_gemm(ctx, 0, 1, n, nout, nin, 1.0f, (sakd_mat){in->buf, in->offset, nin},
                     (sakd_mat){weight->buf, weight->offset, nin}, bias ? 1.0f : 0.0f,
                     (sakd_mat){out->buf, out->offset, nout});
}

sakd_status sakd_linear_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                 sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                 const sakd_tensor *in, const sakd_tensor *weight)
{
    const char *op = "linear_backward";
    size_t n, nin, nout, r, c;
    SAKD_TRY(linear_sizes(op, in, weight, &n, &nin, &nout));
    SAKD_TRY(matrix(op, "grad_out", grad_out, n, nout, &r, &c));
    if (grad_weight)
        SAKD_TRY(
            sakd_tensor_require_shape(op, "grad_weight", grad_weight, 2, (size_t[]){nout, nin}));
    if (grad_in)
        SAKD_TRY(matrix(op, "grad_in", grad_in, n, nin, &r, &c));
    if (grad_bias)
        SAKD_TRY(matrix(op, "grad_bias", grad_bias, nout, 1, &r, &c));
    sakd_ctx *ctx = in->ctx;
    sakd_mat gy = {grad_out->buf, grad_out->offset, nout};
    /* grad W[out, in] = gy[N, out]^T · x[N, in] */
    if (grad_weight)
        SAKD_TRY(sakd_gemm(ctx, 1, 0, nout, nin, n, 1.0f, gy, (sakd_mat){in->buf, in->offset, nin},
                           0.0f, (sakd_mat){grad_weight->buf, grad_weight->offset, nin}));
    /* grad x[N, in] = gy[N, out] · W[out, in] */
    if (grad_in)
        SAKD_TRY(sakd_gemm(ctx, 0, 0, n, nin, nout, 1.0f, gy,
                           (sakd_mat){weight->buf, weight->offset, nin}, 0.0f,
                           (sakd_mat){grad_in->buf, grad_in->offset, nin}));
    if (grad_bias) {
        cl_kernel k;
        SAKD_TRY(sakd_kernel_get(ctx, "linear", NULL, "linear_bias_bwd", &k));
        cl_ulong gbo = grad_bias->offset, gyo = grad_out->offset;
        SAKD_TRY(SAKD_LAUNCH_1D(ctx, k, nout, SAKD_ARG(grad_bias->buf), SAKD_ARG(gbo),
                                SAKD_ARG(grad_out->buf), SAKD_ARG(gyo), SAKD_ULONG(n),
                                SAKD_ULONG(nout)));
    }
    return SAKD_OK;
}
