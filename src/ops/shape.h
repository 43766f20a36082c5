/* shape.h — shape ops on device tensors: flatten (a view), repeat and mean over time steps of
 * time-major tensors, residual add and the SEW connect functions, forward and backward. */
#ifndef SAKD_OPS_SHAPE_H
#define SAKD_OPS_SHAPE_H

#include "ops/types.h"
#include "runtime/tensor.h"

/* Flatten [N, d1, d2, ...] → [N, d1·d2·…]: NCHW is contiguous, so this is a view of the same
 * buffer (no kernel, no copy); its backward is the same view of the gradient. */
sakd_status sakd_flatten_view(sakd_tensor *view, const sakd_tensor *x, const char *name);

/* Repeat over T (direct encoding): x [B, ...] → y [T·B, ...], y[t·B + b] = x[b]. */
sakd_status sakd_repeat_time_forward(sakd_tensor *y, const sakd_tensor *x, size_t T);
/* WRITES gx [B, ...] = Σ_t gy[t·B + b], summed in order of t. */
sakd_status sakd_repeat_time_backward(sakd_tensor *gx, const sakd_tensor *gy, size_t T);

/* Mean over T (read-out): x [T·B, ...] → y [B, ...] = (1/T)·Σ_t x[t·B + b]. */
sakd_status sakd_mean_time_forward(sakd_tensor *y, const sakd_tensor *x, size_t T);
/* WRITES gx [T·B, ...] = gy[b] / T for every t. */
sakd_status sakd_mean_time_backward(sakd_tensor *gx, const sakd_tensor *gy, size_t T);

/* Residual add y = a + b; all the same shape. */
sakd_status sakd_add_forward(sakd_tensor *y, const sakd_tensor *a, const sakd_tensor *b);
/* WRITES ga = gy and gb = gy. */
sakd_status sakd_add_backward(sakd_tensor *ga, sakd_tensor *gb, const sakd_tensor *gy);

/* y = connect(out, id); y, out, id the same shape. */
sakd_status sakd_sew_forward(sakd_tensor *y, const sakd_tensor *out, const sakd_tensor *id,
                             sakd_sew_connect connect);
/* WRITES g_out and g_id from gy, with out and id from the forward pass:
 * ADD: g_out = gy, g_id = gy; AND: g_out = gy·id, g_id = gy·out;
 * IAND: g_out = -gy·id, g_id = gy·(1 - out). */
sakd_status sakd_sew_backward(sakd_tensor *g_out, sakd_tensor *g_id, const sakd_tensor *out,
                              const sakd_tensor *id, const sakd_tensor *gy,
                              sakd_sew_connect connect);

#endif
