/* conv_dnnl.h — 2-D convolution through oneDNN on the host provider (ops/host.h): sakd's NCHW
 * activations and OIHW weights are reordered to the layouts oneDNN's primitive prefers, the
 * primitive runs, and the result is reordered back, all inside the call. Same contract as
 * sakd_conv2d_forward / _backward (conv.h). Built only with oneDNN (configure --with-onednn);
 * otherwise every entry point answers SAKD_ERR_NOT_FOUND. oneDNN is loaded at run time. */
#ifndef SAKD_OPS_CONV_DNNL_H
#define SAKD_OPS_CONV_DNNL_H

#include "ops/conv_host.h"

/* 1 when sakd was built with oneDNN. */
int sakd_conv_dnnl_built(void);

/* Loads oneDNN (once per process; dlopen, so that OpenMP's settings can be chosen before it
 * initializes). SAKD_ERR_NOT_FOUND, saying why, when not built with it or it does not load. */
sakd_status sakd_conv_dnnl_load(void);

/* "oneDNN 2.6.3 (avx512_core)"-style line for headers; "oneDNN (not built)" without it. */
void sakd_conv_dnnl_describe(char *buf, size_t size);

/* The channel-blocked layouts (runtime/tensor.h: 8 or 16; 0 for none) in which this shape's
 * primitives read their input and write their output (and read and write the gradients of
 * both) with no reorder: an activation kept in that layout saves the reorder per pass. Either
 * layout, plain or blocked, is accepted by the calls below (blocked ones where the block
 * divides the channels); one oneDNN does not use natively costs a reorder, as plain ones do. */
sakd_status sakd_conv2d_dnnl_native(sakd_ctx *ctx, const sakd_conv_host_geom *g, int bias,
                                    int *in_blk, int *out_blk);

sakd_status sakd_conv2d_dnnl_forward(sakd_tensor *out, const sakd_tensor *in,
                                     const sakd_tensor *weight, const sakd_tensor *bias,
                                     const sakd_conv_host_geom *g);

sakd_status sakd_conv2d_dnnl_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                      sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                      const sakd_tensor *in, const sakd_tensor *weight,
                                      const sakd_conv_host_geom *g);

#endif
