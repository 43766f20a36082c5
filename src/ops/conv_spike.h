/* conv_spike.h — spike-driven 2-D convolution on the host: the forward pass and the weight
 * gradient of a convolution whose input is a spike tensor (every value 0 or 1), touching only
 * the inputs that fired. Each active input (n, c, h, w) adds, for every kernel tap (kh, kw) that
 * maps it onto an output position (ho, wo), the row W[:, c, kh, kw] of C_out weights to the
 * output there (forward), or the output gradient there to that row of the weight gradient: one
 * contiguous vector of C_out floats per active input and tap, in channels-last accumulators.
 * The work is the synaptic operations (active inputs × taps × C_out) instead of the dense
 * multiply-accumulates. Host memory only (plain arrays); results equal the dense convolution's
 * up to float summation order, and are the same for any thread count. */
#ifndef SAKD_OPS_CONV_SPIKE_H
#define SAKD_OPS_CONV_SPIKE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"
#include "runtime/status.h"
#include "runtime/tensor.h"

/* The shape of one convolution: in [N, C, H, W], weight [M, C, KH, KW], out [N, M, Ho, Wo]. */
typedef struct sakd_spike_conv_shape {
    size_t n, c, h, w;         /* input */
    size_t m, kh, kw;          /* output channels, kernel */
    size_t stride_h, stride_w; /* >= 1 */
    size_t pad_h, pad_w;       /* zero padding */
    size_t ho, wo;             /* output extent (sakd_conv2d_out_size) */
} sakd_spike_conv_shape;

/* The active set of a spike tensor [N, C, H, W], in the two orders the passes read it:
 * per pixel, a bitmask of the channels that fired there (mask[((n·H + h)·W + w)·words + q],
 * bit b of word q: channel 64·q + b), which the forward pass gathers over; and per (sample,
 * channel), the positions (h << 16) | w of its spikes in ascending order, pos[chan[n·C + c] …
 * chan[n·C + c + 1]), which the weight gradient sums over. Bytes per image: C·H·W/8 for the
 * masks and 4 per spike, beside the 4 per input of the dense tensor. */
typedef struct sakd_spike_set {
    uint64_t *mask;
    uint32_t *pos;
    size_t *chan; /* [N·C + 1] */
    size_t n, c, h, w, words, active;
    size_t cap_mask, cap_pos, cap_chan;
} sakd_spike_set;

/* The number of non-zero values among x[0 .. n), counted in blocks in order; stops after the
 * first block that brings it to stop_at or more (then the value returned is at least stop_at;
 * SIZE_MAX: count all). */
size_t sakd_spike_count(const float *x, size_t n, size_t stop_at);

/* Builds the active set of x [N, C, H, W] (host floats; H, W <= 65535), reusing s's arrays,
 * with `threads` host threads (<= 0: sakd's count). The spikes have `value` (1, or the scale of
 * an inverted dropout after the LIF layer); refuses, naming the first offending element, any
 * other value but 0: a spike-driven layer adds weights, it does not multiply. The passes below
 * sum as if every spike were 1: the caller scales by `value`. */
sakd_status sakd_spike_set_build(sakd_spike_set *s, const float *x, float value, size_t n, size_t c,
                                 size_t h, size_t w, int threads);

/* Bytes s holds (its arrays' capacity). */
size_t sakd_spike_set_bytes(const sakd_spike_set *s);
void sakd_spike_set_free(sakd_spike_set *s);

/* out[N, M, Ho, Wo] = conv(x, weight) (+ bias[M] when non-NULL) with x given by its active set.
 * weight [M, C, KH, KW] (OIHW). Uses `threads` host threads (<= 0: sakd's count). */
sakd_status sakd_spike_conv_forward(float *out, const sakd_spike_set *x, const float *weight,
                                    const float *bias, const sakd_spike_conv_shape *s, int threads);

/* grad_weight[M, C, KH, KW] = Σ over the active inputs of grad_out at the outputs they reach
 * (written, not accumulated); grad_bias[M] (when non-NULL) = Σ of grad_out over samples and
 * positions. grad_out [N, M, Ho, Wo]. */
sakd_status sakd_spike_conv_grad_weight(float *grad_weight, float *grad_bias,
                                        const sakd_spike_set *x, const float *grad_out,
                                        const sakd_spike_conv_shape *s, int threads);

/* The synaptic operations the last two calls perform on x: Σ over active inputs of the taps
 * that reach an output, times M (one forward; the weight gradient does as many additions). */
double sakd_spike_conv_ops(const sakd_spike_set *x, const sakd_spike_conv_shape *s);

/* The same on an OpenCL device (cl/conv_spike.cl), on tensors, for spikes of `value`:
 * out [N, M, Ho, Wo] = bias + value · (the weights of the inputs that fired, added; one
 *     work-item per output; no multiplications in the sum);
 * grad_weight [M, C, KH, KW] = value · the sums over the active inputs' lists (built per (n, c)
 *     row on the device; one work-item per weight, its work the channel's active inputs).
 * in [N, C, H, W] must hold only 0 and `value`: the gradient refuses another value (its lists
 * note it); bias may be NULL. Results are deterministic (gathers in a fixed order). */
sakd_status sakd_spike_conv_forward_device(sakd_tensor *out, const sakd_tensor *in, float value,
                                           const sakd_tensor *weight, const sakd_tensor *bias,
                                           const sakd_conv2d_params *p);
sakd_status sakd_spike_conv_grad_weight_device(sakd_tensor *grad_weight, const sakd_tensor *in,
                                               float value, const sakd_tensor *grad_out,
                                               const sakd_conv2d_params *p);

/* *fired = the number of non-zero values of `in` (any shape), counted on its device (blocks of
 * 1024 per work-item, summed on the host: deterministic). The density the auto choice of a
 * spike-fed layer on a device reads (ops/spike_route.h). */
sakd_status sakd_spike_count_device(const sakd_tensor *in, size_t *fired);

#endif
