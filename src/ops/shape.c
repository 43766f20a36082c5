/* shape.c — host launchers for cl/shape.cl and the flatten view. */
#include "ops/shape.h"

#include "runtime/program.h"

/* big [T·B, ...] and small [B, ...]: same trailing dimensions, big rows = T · small rows. */
static sakd_status check_time(const char *op, const char *big_role, const sakd_tensor *big,
                              const char *small_role, const sakd_tensor *small, size_t T)
{
    SAKD_TRY(sakd_tensor_require(op, big_role, big));
    SAKD_TRY(sakd_tensor_require(op, small_role, small));
    int ok = T >= 1 && T <= 0xffffffffu && big->ndim == small->ndim &&
             big->shape[0] == T * small->shape[0];
    for (int i = 1; ok && i < big->ndim; i++)
        ok = big->shape[i] == small->shape[i];
    if (!ok) {
        char sa[96], sb[96];
        sakd_tensor_shape_str(big, sa, sizeof sa);
        sakd_tensor_shape_str(small, sb, sizeof sb);
        return sakd_error(SAKD_ERR_ARG,
                          "%s: %s '%s' has shape %s, expected [T·B, ...] with T = %zu for %s "
                          "'%s' %s [B, ...]",
                          op, big_role, big->name, sa, T, small_role, small->name, sb);
    }
    return SAKD_OK;
}

sakd_status sakd_flatten_view(sakd_tensor *view, const sakd_tensor *x, const char *name)
{
    SAKD_TRY(sakd_tensor_require("flatten", "input", x));
    size_t shape[2] = {x->shape[0], sakd_tensor_numel(x) / x->shape[0]};
    return sakd_tensor_view(view, x, name, 0, 2, shape);
}

sakd_status sakd_repeat_time_forward(sakd_tensor *y, const sakd_tensor *x, size_t T)
{
    SAKD_TRY(check_time("repeat_time_forward", "output", y, "input", x, T));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "shape", NULL, "repeat_time_fwd", &k));
    cl_ulong yo = y->offset, xo = x->offset, m = sakd_tensor_numel(x);
    cl_uint t = (cl_uint)T;
    return SAKD_LAUNCH_ROWS(x->ctx, k, (size_t)m, T, SAKD_ARG(y->buf), SAKD_ARG(yo),
                            SAKD_ARG(x->buf), SAKD_ARG(xo), SAKD_ARG(m), SAKD_ARG(t));
}

sakd_status sakd_repeat_time_backward(sakd_tensor *gx, const sakd_tensor *gy, size_t T)
{
    SAKD_TRY(check_time("repeat_time_backward", "grad_out", gy, "grad_in", gx, T));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(gx->ctx, "shape", NULL, "repeat_time_bwd", &k));
    cl_ulong xo = gx->offset, yo = gy->offset, m = sakd_tensor_numel(gx);
    cl_uint t = (cl_uint)T;
    return SAKD_LAUNCH_1D(gx->ctx, k, (size_t)m, SAKD_ARG(gx->buf), SAKD_ARG(xo), SAKD_ARG(gy->buf),
                          SAKD_ARG(yo), SAKD_ARG(m), SAKD_ARG(t));
}

sakd_status sakd_mean_time_forward(sakd_tensor *y, const sakd_tensor *x, size_t T)
{
    SAKD_TRY(check_time("mean_time_forward", "input", x, "output", y, T));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(x->ctx, "shape", NULL, "mean_time_fwd", &k));
    cl_ulong yo = y->offset, xo = x->offset, m = sakd_tensor_numel(y);
    cl_uint t = (cl_uint)T;
    return SAKD_LAUNCH_1D(x->ctx, k, (size_t)m, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(m), SAKD_ARG(t));
}

sakd_status sakd_mean_time_backward(sakd_tensor *gx, const sakd_tensor *gy, size_t T)
{
    SAKD_TRY(check_time("mean_time_backward", "grad_in", gx, "grad_out", gy, T));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(gx->ctx, "shape", NULL, "mean_time_bwd", &k));
    cl_ulong xo = gx->offset, yo = gy->offset, m = sakd_tensor_numel(gy);
    cl_uint t = (cl_uint)T;
    return SAKD_LAUNCH_ROWS(gx->ctx, k, (size_t)m, T, SAKD_ARG(gx->buf), SAKD_ARG(xo),
                            SAKD_ARG(gy->buf), SAKD_ARG(yo), SAKD_ARG(m), SAKD_ARG(t));
}

/* The roles of the operands of a binary op in messages: "a" and "b" of add, "block output" and
 * "shortcut" of a SEW connection. */
typedef struct operand_roles {
    const char *a, *b, *grad_a, *grad_b;
} operand_roles;

static const operand_roles ADD_ROLES = {"a", "b", "grad_a", "grad_b"};
static const operand_roles SEW_ROLES = {"block output", "shortcut", "grad_block", "grad_shortcut"};

/* y = f(a, b) element-wise through kernel `name` of cl/shape.cl. */
static sakd_status binary_fwd(const char *op, const char *name, const operand_roles *r,
                              sakd_tensor *y, const sakd_tensor *a, const sakd_tensor *b)
{
    SAKD_TRY(sakd_tensor_require_same_shape(op, "output", y, r->a, a));
    SAKD_TRY(sakd_tensor_require_same_shape(op, r->b, b, r->a, a));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(y->ctx, "shape", NULL, name, &k));
    cl_ulong yo = y->offset, ao = a->offset, bo = b->offset, n = sakd_tensor_numel(y);
    return SAKD_LAUNCH_1D(y->ctx, k, (size_t)n, SAKD_ARG(y->buf), SAKD_ARG(yo), SAKD_ARG(a->buf),
                          SAKD_ARG(ao), SAKD_ARG(b->buf), SAKD_ARG(bo), SAKD_ARG(n));
}

sakd_status sakd_add_forward(sakd_tensor *y, const sakd_tensor *a, const sakd_tensor *b)
{
    return binary_fwd("add_forward", "add_fwd", &ADD_ROLES, y, a, b);
}

static sakd_status add_bwd(const char *op, const operand_roles *r, sakd_tensor *ga, sakd_tensor *gb,
                           const sakd_tensor *gy)
{
    SAKD_TRY(sakd_tensor_require_same_shape(op, r->grad_a, ga, "grad_out", gy));
    SAKD_TRY(sakd_tensor_require_same_shape(op, r->grad_b, gb, "grad_out", gy));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(gy->ctx, "shape", NULL, "add_bwd", &k));
    cl_ulong ao = ga->offset, bo = gb->offset, yo = gy->offset, n = sakd_tensor_numel(gy);
    return SAKD_LAUNCH_1D(gy->ctx, k, (size_t)n, SAKD_ARG(ga->buf), SAKD_ARG(ao), SAKD_ARG(gb->buf),
                          SAKD_ARG(bo), SAKD_ARG(gy->buf), SAKD_ARG(yo), SAKD_ARG(n));
}

sakd_status sakd_add_backward(sakd_tensor *ga, sakd_tensor *gb, const sakd_tensor *gy)
{
    return add_bwd("add_backward", &ADD_ROLES, ga, gb, gy);
}

sakd_status sakd_sew_forward(sakd_tensor *y, const sakd_tensor *out, const sakd_tensor *id,
                             sakd_sew_connect connect)
{
    switch (connect) {
    case SAKD_SEW_ADD: return binary_fwd("sew_forward", "add_fwd", &SEW_ROLES, y, out, id);
    case SAKD_SEW_AND: return binary_fwd("sew_forward", "sew_and_fwd", &SEW_ROLES, y, out, id);
    case SAKD_SEW_IAND: return binary_fwd("sew_forward", "sew_iand_fwd", &SEW_ROLES, y, out, id);
    }
    return sakd_error(SAKD_ERR_ARG, "sew_forward: unknown connect function %d", (int)connect);
}

sakd_status sakd_sew_backward(sakd_tensor *g_out, sakd_tensor *g_id, const sakd_tensor *out,
                              const sakd_tensor *id, const sakd_tensor *gy,
                              sakd_sew_connect connect)
{
    const char *op = "sew_backward", *name;
    switch (connect) {
    case SAKD_SEW_ADD: return add_bwd(op, &SEW_ROLES, g_out, g_id, gy);
    case SAKD_SEW_AND: name = "sew_and_bwd"; break;
    case SAKD_SEW_IAND: name = "sew_iand_bwd"; break;
    default: return sakd_error(SAKD_ERR_ARG, "%s: unknown connect function %d", op, (int)connect);
    }
    SAKD_TRY(sakd_tensor_require_same_shape(op, SEW_ROLES.grad_a, g_out, "grad_out", gy));
    SAKD_TRY(sakd_tensor_require_same_shape(op, SEW_ROLES.grad_b, g_id, "grad_out", gy));
    SAKD_TRY(sakd_tensor_require_same_shape(op, SEW_ROLES.a, out, "grad_out", gy));
    SAKD_TRY(sakd_tensor_require_same_shape(op, SEW_ROLES.b, id, "grad_out", gy));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(gy->ctx, "shape", NULL, name, &k));
    cl_ulong go = g_out->offset, gio = g_id->offset, oo = out->offset, io = id->offset,
             yo = gy->offset, n = sakd_tensor_numel(gy);
    return SAKD_LAUNCH_1D(gy->ctx, k, (size_t)n, SAKD_ARG(g_out->buf), SAKD_ARG(go),
                          SAKD_ARG(g_id->buf), SAKD_ARG(gio), SAKD_ARG(out->buf), SAKD_ARG(oo),
                          SAKD_ARG(id->buf), SAKD_ARG(io), SAKD_ARG(gy->buf), SAKD_ARG(yo),
                          SAKD_ARG(n));
}
