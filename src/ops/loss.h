/* loss.h — classification and distillation losses with their input gradients, and the feature
 * transforms norm and attn (DESIGN §2.5). */
#ifndef SAKD_OPS_LOSS_H
#define SAKD_OPS_LOSS_H

#include "runtime/tensor.h"

/* Every *_forward loss writes its scalar value into `loss`, a 1-element device tensor (reading
 * it back is the caller's choice). Every *_backward writes (does not accumulate) the gradient
 * of `weight` · loss with respect to the student input, so the trainer passes α, β or γ as
 * `weight`. All sums run in a fixed order: results are bit-for-bit repeatable. Shapes are
 * validated before any kernel runs (SAKD_ERR_ARG naming the op and the tensors). */

/* eps of the norm transform (added to the biased variance). */
#define SAKD_FEAT_NORM_EPS 1e-5f
/* Floor of the attention map's norm: A = q / max(‖q‖, eps), as PyTorch F.normalize. A sample
 * whose feature is all zero (‖q‖ = 0) gives A = 0 and the gradient dA / eps · 2F = 0. */
#define SAKD_ATTN_EPS 1e-12f

/* Softmax cross-entropy, mean over the batch: loss = (1/B) Σ_b (logsumexp(z_b) − z_b[y_b]),
 * max-subtracted. loss: [1]; logits: [B, K]; labels: int32 [B] at element `labels_off` of the
 * buffer. When `labels_host` (a host copy of the B labels) is non-NULL, a label outside [0, K)
 * returns SAKD_ERR_ARG naming the sample. Without it the device cannot report: a sample with
 * such a label has a NaN loss (so `loss` is NaN) and a NaN gradient row. */
sakd_status sakd_cross_entropy_forward(sakd_tensor *loss, const sakd_tensor *logits, cl_mem labels,
                                       size_t labels_off, const int *labels_host);
/* dlogits = weight · (softmax(z) − onehot(y)) / B. dlogits, logits: [B, K]. */
sakd_status sakd_cross_entropy_backward(sakd_tensor *dlogits, const sakd_tensor *logits,
                                        cl_mem labels, size_t labels_off, const int *labels_host,
                                        float weight);

/* Softened KL divergence between teacher and student, per row over all the values of a row:
 * loss = tau² · (1/B) Σ_b Σ_i p_t(i)·(log p_t(i) − log p_s(i)), p = softmax(z / tau).
 * Serves both the logit KD (student, teacher: logits [B, K]) and the feature distance `kl`
 * (features [B, C, H, W]: the softmax runs over the C·H·W values of a sample). loss: [1];
 * student, teacher: [B, ...] of equal shape; tau > 0. */
sakd_status sakd_softmax_kl_forward(sakd_tensor *loss, const sakd_tensor *student,
                                    const sakd_tensor *teacher, float tau);
/* dstudent = weight · tau · (p_s − p_t) / B. dstudent: the student's shape. */
sakd_status sakd_softmax_kl_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                                     const sakd_tensor *teacher, float tau, float weight);

/* Mean squared error over all n elements: loss = (1/n) Σ (s − t)². loss: [1]; student,
 * teacher: any equal shapes. */
sakd_status sakd_mse_forward(sakd_tensor *loss, const sakd_tensor *student,
                             const sakd_tensor *teacher);
/* dstudent = weight · 2 (s − t) / n. */
sakd_status sakd_mse_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                              const sakd_tensor *teacher, float weight);

/* Mean absolute error over all n elements: loss = (1/n) Σ |s − t|. */
sakd_status sakd_l1_forward(sakd_tensor *loss, const sakd_tensor *student,
                            const sakd_tensor *teacher);
/* dstudent = weight · sign(s − t) / n, with sign(0) = 0. */
sakd_status sakd_l1_backward(sakd_tensor *dstudent, const sakd_tensor *student,
                             const sakd_tensor *teacher, float weight);

/* Transform `norm`: per-channel normalization over (B, H, W) with batch statistics, no affine:
 * out = (x − mean_c) / sqrt(var_c + SAKD_FEAT_NORM_EPS), var biased. x, out: [B, C, H, W] or
 * [B, C] (then H = W = 1); mean, rstd: [C] (written; rstd is needed by the backward). */
sakd_status sakd_feat_norm_forward(sakd_tensor *out, sakd_tensor *mean, sakd_tensor *rstd,
                                   const sakd_tensor *x);
/* dx = rstd_c · (dout − mean(dout) − out · mean(dout · out)), means over (B, H, W): the batch-norm
 * input gradient without gamma. dx, dout, out: x's shape; rstd: [C] from the forward. */
sakd_status sakd_feat_norm_backward(sakd_tensor *dx, const sakd_tensor *dout,
                                    const sakd_tensor *out, const sakd_tensor *rstd);

/* Transform `attn` (attention transfer): per sample q = vec(Σ_c x_c²), out = q / max(‖q‖₂,
 * SAKD_ATTN_EPS). x: [B, C, H, W] or [B, C]; out: [B, H·W]; norm: [B] (written: ‖q‖₂, needed by
 * the backward). */
sakd_status sakd_attn_forward(sakd_tensor *out, sakd_tensor *norm, const sakd_tensor *x);
/* dx[b, c, j] = 2 x[b, c, j] · dq_j, dq = (dout − out · ⟨out, dout⟩) / ‖q‖ (dout / eps when
 * ‖q‖ ≤ eps). dx: x's shape; dout, out: [B, H·W]; norm: [B] from the forward. */
sakd_status sakd_attn_backward(sakd_tensor *dx, const sakd_tensor *dout, const sakd_tensor *out,
                               const sakd_tensor *norm, const sakd_tensor *x);

#endif
