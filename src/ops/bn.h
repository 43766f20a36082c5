/* bn.h — batch normalization (PyTorch BatchNorm1d/2d semantics, DESIGN §2.3), forward and
 * backward, with deterministic per-channel statistics. */
#ifndef SAKD_OPS_BN_H
#define SAKD_OPS_BN_H

#include "runtime/tensor.h"

#define SAKD_BN_MOMENTUM 0.1f /* running = (1 − momentum)·running + momentum·batch */
#define SAKD_BN_EPS 1e-5f

/* Shapes: in/out [N, C, H, W] (BatchNorm2d), [N, C] or [N, C, L] (BatchNorm1d); statistics are
 * per channel over the other dimensions (m = numel / C values; N = T·B for spiking tensors).
 *
 * Train (train != 0): normalizes with the batch mean and biased variance and updates
 * running_mean/running_var in place with the unbiased variance (m/(m−1)); m must be > 1.
 * Eval (train == 0): normalizes with running_mean/running_var, which are only read.
 * Either way y = (x − mean)·invstd·gamma + beta, invstd = 1/sqrt(var + eps), and the mean and
 * invstd used are saved for backward.
 * out:                       [N, C, ...], written
 * save_mean, save_invstd:    [C], written
 * running_mean, running_var: [C]
 * in:                        [N, C, ...]
 * gamma, beta:               [C] (affine weight and bias) */
sakd_status sakd_batchnorm_forward(sakd_tensor *out, sakd_tensor *save_mean,
                                   sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                   sakd_tensor *running_var, const sakd_tensor *in,
                                   const sakd_tensor *gamma, const sakd_tensor *beta, int train,
                                   float momentum, float eps);

/* Gradients, WRITTEN (overwritten, not accumulated); `train` as in the forward call:
 *   grad_beta  = Σ gy,  grad_gamma = Σ gy·x̂,  x̂ = (x − mean)·invstd
 *   train: grad_in = gamma·invstd·(gy − grad_beta/m − x̂·grad_gamma/m)
 *   eval:  grad_in = gamma·invstd·gy
 * grad_in:                 [N, C, ...], or NULL to skip
 * grad_gamma, grad_beta:   [C]
 * save_mean, save_invstd:  [C], from the forward call
 * grad_out, in:            [N, C, ...]
 * gamma:                   [C] */
sakd_status sakd_batchnorm_backward(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                    sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                    const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                    const sakd_tensor *in, const sakd_tensor *gamma, int train);

#endif
