/* loss.c — host launchers for cl/loss.cl: shape checks, the fixed-order two-stage sums and the
 * gradient scales. */
#include "ops/loss.h"

#include <math.h>
#include <stdio.h>

#include "runtime/program.h"

/* Most chunks the first stage of an element sum uses; the chunking depends on n only, so the
 * summation order (and the result) is the same on every device. */
#define LOSS_MAX_CHUNKS 1024

static sakd_status check_scalar(const char *op, const sakd_tensor *loss)
{
    return sakd_tensor_require_numel(op, "loss", loss, 1);
}

static sakd_status check_tau(const char *op, float tau)
{
    if (!(tau > 0.0f) || isinf(tau))
        return sakd_error(SAKD_ERR_ARG, "%s: temperature %g must be positive and finite", op,
                          (double)tau);
    return SAKD_OK;
}

/* Feature layout [B, C, H, W] or [B, C] as (B, C, HW). */
static sakd_status feat_dims(const char *op, const char *role, const sakd_tensor *x, cl_ulong *B,
                             cl_ulong *C, cl_ulong *HW)
{
    SAKD_TRY(sakd_tensor_require(op, role, x));
    if (x->ndim != 2 && x->ndim != 4) {
        char s[96];
        sakd_tensor_shape_str(x, s, sizeof s);
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' has shape %s, expected [B, C, H, W] or [B, C]",
                          op, role, x->name, s);
    }
    *B = x->shape[0];
    *C = x->shape[1];
    *HW = x->ndim == 4 ? (cl_ulong)(x->shape[2] * x->shape[3]) : 1;
    if (*B == 0 || *C == 0 || *HW == 0)
        return sakd_error(SAKD_ERR_ARG, "%s: %s '%s' is empty", op, role, x->name);
    return SAKD_OK;
}

/* loss[0] = scale · Σ part[0..m), in order; releases `part` (after the queued kernels). */
static sakd_status sum_final(sakd_tensor *loss, cl_mem part, size_t part_bytes, cl_ulong m,
                             float scale)
{
    cl_kernel k;
    sakd_status st = sakd_kernel_get(loss->ctx, "loss", NULL, "sum_final", &k);
    if (st == SAKD_OK) {
        cl_ulong lo = loss->offset;
        cl_int take_sqrt = 0;
        st = SAKD_LAUNCH_1D(loss->ctx, k, 1, SAKD_ARG(loss->buf), SAKD_ARG(lo), SAKD_ARG(part),
                            SAKD_ARG(m), SAKD_ARG(scale), SAKD_ARG(take_sqrt));
    }
    sakd_buffer_free(loss->ctx, part, part_bytes);
    return st;
}

/* Checks labels_host (when given) against [0, K). */
static sakd_status check_labels(const char *op, const int *labels_host, size_t B, size_t K)
{
    if (!labels_host)
        return SAKD_OK;
    for (size_t b = 0; b < B; b++)
        if (labels_host[b] < 0 || (size_t)labels_host[b] >= K)
            return sakd_error(SAKD_ERR_ARG, "%s: label %d of sample %zu is outside [0, %zu)", op,
                              labels_host[b], b, K);
    return SAKD_OK;
}

static sakd_status check_logits(const char *op, const sakd_tensor *logits, cl_mem labels)
{
    SAKD_TRY(sakd_tensor_require(op, "logits", logits));
    if (!labels)
        return sakd_error(SAKD_ERR_ARG, "%s: labels are missing (NULL buffer)", op);
    if (logits->ndim != 2 || logits->shape[0] == 0 || logits->shape[1] == 0) {
        char s[96];
        sakd_tensor_shape_str(logits, s, sizeof s);
        return sakd_error(SAKD_ERR_ARG, "%s: logits '%s' has shape %s, expected [B, K]", op,
                          logits->name, s);
    }
    return SAKD_OK;
}

sakd_status sakd_cross_entropy_forward(sakd_tensor *loss, const sakd_tensor *logits, cl_mem labels,
                                       size_t labels_off, const int *labels_host)
{
    const char *op = "cross_entropy_forward";
    SAKD_TRY(check_scalar(op, loss));
    SAKD_TRY(check_logits(op, logits, labels));
    cl_ulong B = logits->shape[0], K = logits->shape[1];
    SAKD_TRY(check_labels(op, labels_host, B, K));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(loss->ctx, "loss", NULL, "ce_fwd", &k));
    cl_mem rows;
    size_t bytes = B * sizeof(float);
    SAKD_TRY(sakd_buffer_new(loss->ctx, "cross-entropy row losses", bytes, &rows));
    cl_ulong zo = logits->offset, lo = labels_off;
    sakd_status st =
        SAKD_LAUNCH_1D(loss->ctx, k, B, SAKD_ARG(rows), SAKD_ARG(logits->buf), SAKD_ARG(zo),
                       SAKD_ARG(labels), SAKD_ARG(lo), SAKD_ARG(B), SAKD_ARG(K));
    if (st != SAKD_OK) {
        sakd_buffer_free(loss->ctx, rows, bytes);
        return st;
    }
    return sum_final(loss, rows, bytes, B, (float)(1.0 / (double)B));
}

sakd_status sakd_cross_entropy_backward(sakd_tensor *dlogits, const sakd_tensor *logits,
                                        cl_mem labels, size_t labels_off, const int *labels_host,
                                        float weight)
{
    const char *op = "cross_entropy_backward";
    SAKD_TRY(sakd_tensor_require(op, "dlogits", dlogits));
    SAKD_TRY(check_logits(op, logits, labels));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dlogits", dlogits, "logits", logits));
    cl_ulong B = logits->shape[0], K = logits->shape[1];
    SAKD_TRY(check_labels(op, labels_host, B, K));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(dlogits->ctx, "loss", NULL, "ce_bwd", &k));
    cl_ulong go = dlogits->offset, zo = logits->offset, lo = labels_off;
    float scale = (float)((double)weight / (double)B);
    return SAKD_LAUNCH_1D(dlogits->ctx, k, B, SAKD_ARG(dlogits->buf), SAKD_ARG(go),
                          SAKD_ARG(logits->buf), SAKD_ARG(zo), SAKD_ARG(labels), SAKD_ARG(lo),
                          SAKD_ARG(B), SAKD_ARG(K), SAKD_ARG(scale));
}

/* Student and teacher of equal shape [B, ...]: B rows of K values. */
static sakd_status check_pair_rows(const char *op, const sakd_tensor *s, const sakd_tensor *t,
                                   cl_ulong *B, cl_ulong *K)
{
    SAKD_TRY(sakd_tensor_require_same_shape(op, "teacher", t, "student", s));
    if (s->ndim < 2 || sakd_tensor_numel(s) == 0) {
        char sh[96];
        sakd_tensor_shape_str(s, sh, sizeof sh);
        return sakd_error(SAKD_ERR_ARG,
                          "%s: student '%s' has shape %s, expected [B, ...] (2+ dims)", op, s->name,
                          sh);
    }
    *B = s->shape[0];
    *K = sakd_tensor_numel(s) / s->shape[0];
    return SAKD_OK;
}

sakd_status sakd_softmax_kl_forward(sakd_tensor *loss, const sakd_tensor *student,
                                    const sakd_tensor *teacher, float tau)
{
    const char *op = "softmax_kl_forward";
    cl_ulong B, K;
    SAKD_TRY(check_scalar(op, loss));
    SAKD_TRY(check_pair_rows(op, student, teacher, &B, &K));
    SAKD_TRY(check_tau(op, tau));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(loss->ctx, "loss", NULL, "softmax_kl_fwd", &k));
    cl_mem rows;
    size_t bytes = B * sizeof(float);
    SAKD_TRY(sakd_buffer_new(loss->ctx, "softmax-KL row losses", bytes, &rows));
    cl_ulong so = student->offset, to = teacher->offset;
    sakd_status st = SAKD_LAUNCH_1D(loss->ctx, k, B, SAKD_ARG(rows), SAKD_ARG(student->buf),
                                    SAKD_ARG(so), SAKD_ARG(teacher->buf), SAKD_ARG(to), SAKD_ARG(B),
                                    SAKD_ARG(K), SAKD_ARG(tau));
    if (st != SAKD_OK) {
        sakd_buffer_free(loss->ctx, rows, bytes);
        return st;
    }
    return sum_final(loss, rows, bytes, B, (float)(1.0 / (double)B));
}

sakd_status sakd_softmax_kl_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                                     const sakd_tensor *teacher, float tau, float weight)
{
    const char *op = "softmax_kl_backward";
    cl_ulong B, K;
    SAKD_TRY(sakd_tensor_require(op, "dstudent", dstudent));
    SAKD_TRY(check_pair_rows(op, student, teacher, &B, &K));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dstudent", dstudent, "student", student));
    SAKD_TRY(check_tau(op, tau));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(dstudent->ctx, "loss", NULL, "softmax_kl_bwd", &k));
    cl_ulong go = dstudent->offset, so = student->offset, to = teacher->offset;
    float scale = (float)((double)weight * (double)tau / (double)B);
    return SAKD_LAUNCH_1D(dstudent->ctx, k, B, SAKD_ARG(dstudent->buf), SAKD_ARG(go),
                          SAKD_ARG(student->buf), SAKD_ARG(so), SAKD_ARG(teacher->buf),
                          SAKD_ARG(to), SAKD_ARG(B), SAKD_ARG(K), SAKD_ARG(tau), SAKD_ARG(scale));
}

static sakd_status dist_forward(const char *op, sakd_tensor *loss, const sakd_tensor *s,
                                const sakd_tensor *t, cl_int absolute)
{
    SAKD_TRY(check_scalar(op, loss));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "teacher", t, "student", s));
    cl_ulong n = sakd_tensor_numel(s);
    if (n == 0)
        return sakd_error(SAKD_ERR_ARG, "%s: student '%s' is empty", op, s->name);
    cl_ulong G = n < LOSS_MAX_CHUNKS ? n : LOSS_MAX_CHUNKS;
    cl_ulong chunk = (n + G - 1) / G;
    G = (n + chunk - 1) / chunk;
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(loss->ctx, "loss", NULL, "dist_fwd", &k));
    cl_mem part;
    size_t bytes = G * sizeof(float);
    SAKD_TRY(sakd_buffer_new(loss->ctx, "distance partial sums", bytes, &part));
    cl_ulong so = s->offset, to = t->offset;
    sakd_status st = SAKD_LAUNCH_1D(loss->ctx, k, G, SAKD_ARG(part), SAKD_ARG(s->buf), SAKD_ARG(so),
                                    SAKD_ARG(t->buf), SAKD_ARG(to), SAKD_ARG(n), SAKD_ARG(chunk),
                                    SAKD_ARG(G), SAKD_ARG(absolute));
    if (st != SAKD_OK) {
        sakd_buffer_free(loss->ctx, part, bytes);
        return st;
    }
    return sum_final(loss, part, bytes, G, (float)(1.0 / (double)n));
}

static sakd_status dist_backward(const char *op, sakd_tensor *ds, const sakd_tensor *s,
                                 const sakd_tensor *t, float weight, cl_int absolute)
{
    SAKD_TRY(sakd_tensor_require(op, "dstudent", ds));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "teacher", t, "student", s));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dstudent", ds, "student", s));
    cl_ulong n = sakd_tensor_numel(s);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ds->ctx, "loss", NULL, "dist_bwd", &k));
    cl_ulong go = ds->offset, so = s->offset, to = t->offset;
    float scale = (float)((absolute ? 1.0 : 2.0) * (double)weight / (double)n);
    return SAKD_LAUNCH_1D(ds->ctx, k, n, SAKD_ARG(ds->buf), SAKD_ARG(go), SAKD_ARG(s->buf),
                          SAKD_ARG(so), SAKD_ARG(t->buf), SAKD_ARG(to), SAKD_ARG(n),
                          SAKD_ARG(scale), SAKD_ARG(absolute));
}

sakd_status sakd_mse_forward(sakd_tensor *loss, const sakd_tensor *student,
                             const sakd_tensor *teacher)
{
    return dist_forward("mse_forward", loss, student, teacher, 0);
}

sakd_status sakd_mse_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                              const sakd_tensor *teacher, float weight)
{
    return dist_backward("mse_backward", dstudent, student, teacher, weight, 0);
}

sakd_status sakd_l1_forward(sakd_tensor *loss, const sakd_tensor *student,
                            const sakd_tensor *teacher)
{
    return dist_forward("l1_forward", loss, student, teacher, 1);
}

sakd_status sakd_l1_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                             const sakd_tensor *teacher, float weight)
{
    return dist_backward("l1_backward", dstudent, student, teacher, weight, 1);
}

sakd_status sakd_feat_norm_forward(sakd_tensor *out, sakd_tensor *mean, sakd_tensor *rstd,
                                   const sakd_tensor *x)
{
    const char *op = "feat_norm_forward";
    cl_ulong B, C, HW;
    SAKD_TRY(sakd_tensor_require(op, "out", out));
    SAKD_TRY(feat_dims(op, "x", x, &B, &C, &HW));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "out", out, "x", x));
    SAKD_TRY(sakd_tensor_require_numel(op, "mean", mean, C));
    SAKD_TRY(sakd_tensor_require_numel(op, "rstd", rstd, C));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(out->ctx, "loss", NULL, "feat_norm_fwd", &k));
    cl_ulong yo = out->offset, mo = mean->offset, ro = rstd->offset, xo = x->offset;
    float eps = SAKD_FEAT_NORM_EPS;
    return SAKD_LAUNCH_1D(out->ctx, k, C, SAKD_ARG(out->buf), SAKD_ARG(yo), SAKD_ARG(mean->buf),
                          SAKD_ARG(mo), SAKD_ARG(rstd->buf), SAKD_ARG(ro), SAKD_ARG(x->buf),
                          SAKD_ARG(xo), SAKD_ARG(B), SAKD_ARG(C), SAKD_ARG(HW), SAKD_ARG(eps));
}

sakd_status sakd_feat_norm_backward(sakd_tensor *dx, const sakd_tensor *dout,
                                    const sakd_tensor *out, const sakd_tensor *rstd)
{
    const char *op = "feat_norm_backward";
    cl_ulong B, C, HW;
    SAKD_TRY(sakd_tensor_require(op, "dx", dx));
    SAKD_TRY(sakd_tensor_require(op, "dout", dout));
    SAKD_TRY(feat_dims(op, "out", out, &B, &C, &HW));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dout", dout, "out", out));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dx", dx, "out", out));
    SAKD_TRY(sakd_tensor_require_numel(op, "rstd", rstd, C));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(dx->ctx, "loss", NULL, "feat_norm_bwd", &k));
    cl_ulong xo = dx->offset, go = dout->offset, yo = out->offset, ro = rstd->offset;
    return SAKD_LAUNCH_1D(dx->ctx, k, C, SAKD_ARG(dx->buf), SAKD_ARG(xo), SAKD_ARG(dout->buf),
                          SAKD_ARG(go), SAKD_ARG(out->buf), SAKD_ARG(yo), SAKD_ARG(rstd->buf),
                          SAKD_ARG(ro), SAKD_ARG(B), SAKD_ARG(C), SAKD_ARG(HW));
}

/* An attention map of x: [B, H·W]. */
static sakd_status check_attn_map(const char *op, const char *role, const sakd_tensor *a,
                                  cl_ulong B, cl_ulong HW)
{
    return sakd_tensor_require_shape(op, role, a, 2, (size_t[]){B, HW});
}

sakd_status sakd_attn_forward(sakd_tensor *out, sakd_tensor *norm, const sakd_tensor *x)
{
    const char *op = "attn_forward";
    cl_ulong B, C, HW;
    SAKD_TRY(feat_dims(op, "x", x, &B, &C, &HW));
    SAKD_TRY(check_attn_map(op, "out", out, B, HW));
    SAKD_TRY(sakd_tensor_require_numel(op, "norm", norm, B));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(out->ctx, "loss", NULL, "attn_fwd", &k));
    cl_ulong ao = out->offset, no = norm->offset, xo = x->offset;
    float eps = SAKD_ATTN_EPS;
    return SAKD_LAUNCH_1D(out->ctx, k, B, SAKD_ARG(out->buf), SAKD_ARG(ao), SAKD_ARG(norm->buf),
                          SAKD_ARG(no), SAKD_ARG(x->buf), SAKD_ARG(xo), SAKD_ARG(B), SAKD_ARG(C),
                          SAKD_ARG(HW), SAKD_ARG(eps));
}

sakd_status sakd_attn_backward(sakd_tensor *dx, const sakd_tensor *dout, const sakd_tensor *out,
                               const sakd_tensor *norm, const sakd_tensor *x)
{
    const char *op = "attn_backward";
    cl_ulong B, C, HW;
    SAKD_TRY(sakd_tensor_require(op, "dx", dx));
    SAKD_TRY(feat_dims(op, "x", x, &B, &C, &HW));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "dx", dx, "x", x));
    SAKD_TRY(check_attn_map(op, "dout", dout, B, HW));
    SAKD_TRY(check_attn_map(op, "out", out, B, HW));
    SAKD_TRY(sakd_tensor_require_numel(op, "norm", norm, B));
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(dx->ctx, "loss", NULL, "attn_bwd", &k));
    cl_ulong fo = dx->offset, go = dout->offset, ao = out->offset, no = norm->offset,
             xo = x->offset;
    float eps = SAKD_ATTN_EPS;
    return SAKD_LAUNCH_1D(dx->ctx, k, B, SAKD_ARG(dx->buf), SAKD_ARG(fo), SAKD_ARG(dout->buf),
                          SAKD_ARG(go), SAKD_ARG(out->buf), SAKD_ARG(ao), SAKD_ARG(norm->buf),
                          SAKD_ARG(no), SAKD_ARG(x->buf), SAKD_ARG(xo), SAKD_ARG(B), SAKD_ARG(C),
                          SAKD_ARG(HW), SAKD_ARG(eps));
}
