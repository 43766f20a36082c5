/* optim.h — optimizer steps (SGD with momentum, AdamW), gradient zeroing, the global gradient
 * norm and clipping, on flat float buffers addressed by (buffer, offset). */
#ifndef SAKD_OPS_OPTIM_H
#define SAKD_OPS_OPTIM_H

#include "runtime/tensor.h"

/* One SGD step, PyTorch semantics with dampening 0, in place on params and momentum_buf:
 * d = grads + wd·p; when momentum != 0: buf = momentum·buf + d, d = nesterov ? d + momentum·buf
 * : buf; p −= lr·d. params, grads, momentum_buf: [n] (any shapes of n elements). momentum_buf
 * must be zeroed before the first step: PyTorch sets buf = d on its first step, which equals
 * momentum·0 + d exactly. It may be NULL when momentum == 0. */
sakd_status sakd_sgd_step(sakd_tensor *params, sakd_tensor *momentum_buf, const sakd_tensor *grads,
                          float lr, float momentum, float weight_decay, int nesterov);

/* One AdamW step, PyTorch semantics (decoupled weight decay, bias correction), in place on
 * params, m and v: p −= lr·wd·p; m = b1·m + (1 − b1)·g; v = b2·v + (1 − b2)·g²;
 * p −= lr/(1 − b1^t) · m / (sqrt(v)/sqrt(1 − b2^t) + eps). `step` is t, counted from 1 by the
 * caller. params, m, v, grads: [n]; m and v zeroed before step 1. */
sakd_status sakd_adamw_step(sakd_tensor *params, sakd_tensor *m, sakd_tensor *v,
                            const sakd_tensor *grads, float lr, float beta1, float beta2, float eps,
                            float weight_decay, long step);

/* grads = 0. */
sakd_status sakd_grad_zero(sakd_tensor *grads);

/* norm[0] = sqrt(Σ grads²), summed in a fixed order (fixed chunks depending on n only, then
 * the chunk sums in order): repeatable bit for bit. norm: [1]; grads: [n]. */
sakd_status sakd_grad_norm(sakd_tensor *norm, const sakd_tensor *grads);

/* grads *= factor. */
sakd_status sakd_grad_scale(sakd_tensor *grads, float factor);

/* Clipping on the device from a norm computed by sakd_grad_norm, as PyTorch
 * clip_grad_norm_: coef = max_norm / (norm + 1e-6); grads *= coef when coef < 1.
 * grads: [n]; norm: [1]. */
sakd_status sakd_grad_clip(sakd_tensor *grads, const sakd_tensor *norm, float max_norm);

#endif
