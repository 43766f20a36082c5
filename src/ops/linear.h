/* linear.h — fully connected layer y = x·W^T + b (PyTorch layout) through CLBlast, forward and
 * backward. */
#ifndef SAKD_OPS_LINEAR_H
#define SAKD_OPS_LINEAR_H

#include "runtime/tensor.h"

/* y = x·W^T + b. The trailing dimensions of x and y are flattened: x [N, ...] with
 * in = numel / N, y [N, ...] with out = numel / N.
 * out:    [N, out], written
 * in:     [N, in]
 * weight: [out, in]
 * bias:   [out], or NULL for none */
sakd_status sakd_linear_forward(sakd_tensor *out, const sakd_tensor *in, const sakd_tensor *weight,
                                const sakd_tensor *bias);

/* Gradients, WRITTEN (overwritten, not accumulated):
 * grad_in:     [N, in], or NULL to skip
 * grad_weight: [out, in], or NULL to skip = grad_out^T · in
 * grad_bias:   [out], or NULL   = Σ_n grad_out[n, :], n ascending
 * grad_out:    [N, out]
 * in, weight:  the forward's input and weight */
sakd_status sakd_linear_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                 sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                 const sakd_tensor *in, const sakd_tensor *weight);

#endif
