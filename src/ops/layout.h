/* layout.h — conversion of an activation between sakd's layouts (runtime/tensor.h): plain
 * [N, C, H, W] and channel-blocked by 8 or 16, on the host provider (ops/host.h), where oneDNN's
 * convolutions read and write the blocked ones without reorders. */
#ifndef SAKD_OPS_LAYOUT_H
#define SAKD_OPS_LAYOUT_H

#include "runtime/tensor.h"

/* dst = src element for element, each in its own layout: the same 4-D shape, layouts 0, 8 or 16
 * (a block dividing C), on the host provider; a plain copy when the layouts agree. */
sakd_status sakd_layout_convert(sakd_tensor *dst, const sakd_tensor *src);

/* One sample's C·P values from layout l (0, 8, 16) to plain [C, P], and back: the host
 * convolutions' gathers and scatters around their GEMMs, whose operands stay the plain ones. */
void sakd_layout_sample_to_plain(float *dst, const float *src, int l, size_t c, size_t p);
void sakd_layout_sample_from_plain(float *dst, const float *src, int l, size_t c, size_t p);

#endif
