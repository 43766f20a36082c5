/* activation.h — ReLU forward and backward on device tensors (the ANN twin's `act`). */
#ifndef SAKD_OPS_ACTIVATION_H
#define SAKD_OPS_ACTIVATION_H

#include "runtime/tensor.h"

/* y = max(x, 0); x, y: same shape (any). y may be x (in place). */
sakd_status sakd_relu_forward(sakd_tensor *y, const sakd_tensor *x);

/* gx = gy · (x > 0); x is the forward input; WRITES gx (gx may be gy). All the same shape. */
sakd_status sakd_relu_backward(sakd_tensor *gx, const sakd_tensor *x, const sakd_tensor *gy);

#endif
