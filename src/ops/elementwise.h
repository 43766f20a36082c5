/* elementwise.h — element-wise arithmetic on device tensors. */
#ifndef SAKD_OPS_ELEMENTWISE_H
#define SAKD_OPS_ELEMENTWISE_H

#include "runtime/tensor.h"

/* y = a * x + b * y; x and y have the same number of elements. */
sakd_status sakd_axpby(sakd_tensor *y, const sakd_tensor *x, float a, float b);

/* y = a * y. */
sakd_status sakd_scale(sakd_tensor *y, float a);

#endif
