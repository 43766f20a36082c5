/* conv.h — 2-D convolution (zero padding, no groups, optional bias) as im2col + one CLBlast GEMM
 * over the folded batch, forward and backward. */
#ifndef SAKD_OPS_CONV_H
#define SAKD_OPS_CONV_H

#include <stddef.h>

#include "runtime/tensor.h"

/* Layout: for a chunk of nc samples the columns are cols [K, nc·Ho·Wo], K = Cin·kh·kw, column
 * nl·Ho·Wo + oy·Wo + ox. One GEMM W[Cout, K] × cols gives [Cout, nc·Ho·Wo], which a permute
 * kernel writes to NCHW with the bias. Folding the batch into the GEMM's n dimension makes one
 * large GEMM even where Ho·Wo is small (late layers), and makes grad W a single GEMM whose sum
 * over the batch has a fixed order; a per-sample batched GEMM would need a separate reduction
 * over the samples for grad W. The chunk size nc is the largest the workspace holds (all N
 * when it is big enough); results are bit-identical from run to run for a given workspace size
 * (grad W accumulates the chunks in ascending order with GEMM beta = 1). */

/* Stride and zero padding; the kernel size comes from the weight tensor. */
typedef struct sakd_conv2d_params {
    size_t stride_h, stride_w; /* >= 1 */
    size_t pad_h, pad_w;
} sakd_conv2d_params;

/* Output extent (in + 2·pad − k)/stride + 1, or 0 when the kernel does not fit. */
size_t sakd_conv2d_out_size(size_t in, size_t k, size_t stride, size_t pad);

/* Floats of workspace that forward and backward need to process n_chunk samples per GEMM:
 * n_chunk·Ho·Wo·(Cin·kh·kw + Cout). Any workspace of at least n_chunk = 1 works. */
size_t sakd_conv2d_workspace_floats(size_t n_chunk, size_t cin, size_t cout, size_t kh, size_t kw,
                                    size_t ho, size_t wo);

/* out = conv(in, weight) + bias.
 * out:       [N, Cout, Ho, Wo], written
 * workspace: any shape, numel >= sakd_conv2d_workspace_floats(1, ...); contents clobbered
 * in:        [N, Cin, H, W]   (N = T·B for time-major spiking tensors)
 * weight:    [Cout, Cin, kh, kw] (OIHW)
 * bias:      [Cout], or NULL for none */
sakd_status sakd_conv2d_forward(sakd_tensor *out, sakd_tensor *workspace, const sakd_tensor *in,
                                const sakd_tensor *weight, const sakd_tensor *bias,
                                const sakd_conv2d_params *p);

/* Gradients of conv2d, WRITTEN (overwritten, not accumulated):
 * grad_in:     [N, Cin, H, W], or NULL to skip (e.g. the first layer)
 * grad_weight: [Cout, Cin, kh, kw], or NULL to skip (computed elsewhere: a spike-driven layer)
 * grad_bias:   [Cout], or NULL when the layer has no bias (NULL when grad_weight is)
 * workspace:   as for forward; contents clobbered
 * grad_out:    [N, Cout, Ho, Wo]
 * in, weight:  the forward's input and weight */
sakd_status sakd_conv2d_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                 sakd_tensor *grad_bias, sakd_tensor *workspace,
                                 const sakd_tensor *grad_out, const sakd_tensor *in,
                                 const sakd_tensor *weight, const sakd_conv2d_params *p);

/* Activation layouts (runtime/tensor.h): forward and backward take channel-blocked tensors on
 * the host provider only (oneDNN reads and writes them; the im2col route gathers and scatters
 * them per sample, with the plain layout's results bit for bit). sakd_conv2d_native_layouts
 * gives the blocks (8 or 16; 0 for plain) in which a convolution of input [N, C, H, W] and
 * weight [Cout, C, kh, kw] would read its input with no reorder in any pass, and write its
 * output with none in the forward (a backward may still reorder the gradient) on this context:
 * 0 and 0 off the oneDNN route. */
sakd_status sakd_conv2d_native_layouts(sakd_ctx *ctx, const size_t *in_shape,
                                       const size_t *weight_shape, const sakd_conv2d_params *p,
                                       int bias, int *in_blk, int *out_blk);

/* How convolutions run where the GEMM provider is the host BLAS (ops/gemm.h):
 *   "im2col" — im2col and the BLAS (ops/conv_host.h);
 *   "onednn" — every convolution through oneDNN (ops/conv_dnnl.h; built with --with-onednn);
 *   "auto"   — oneDNN for kernels larger than 1×1 when built with it, the BLAS for 1×1 (a plain
 *              GEMM there; oneDNN's layout reorders cost more than they save), else im2col.
 * NULL or "": $SAKD_CONV_PROVIDER, else auto. On the CLBlast provider convolutions always run as
 * im2col + CLBlast GEMMs; "onednn" is refused there. */
sakd_status sakd_conv_provider_set(sakd_ctx *ctx, const char *request);

/* "auto, im2col, onednn". */
const char *sakd_conv_provider_names(void);

/* 1 when some of ctx's convolutions run through oneDNN. */
int sakd_conv_provider_uses_onednn(sakd_ctx *ctx);

/* One line: how ctx's convolutions run and why, e.g. "oneDNN 2.6.3 (avx512_core) for kernels
 * above 1x1, 1x1 as GEMMs [auto]". */
void sakd_conv_provider_describe(sakd_ctx *ctx, char *buf, size_t size);

#endif
