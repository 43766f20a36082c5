/* pool.cl — 2-D average and max pooling (kernel k, stride s, zero padding p) adaptive and global
 * average pooling on NCHW tensors, forward and backward. Backward kernels gather (one work-item per
 * input element, fixed loop order): no atomics, deterministic. A flat index is split as
 * q = i / d, r = i − q·d, never as i / d and i % d: oclgrind 21.10 (make check-oclgrind) stops at
 * the `freeze` LLVM puts in front of a division and remainder of the same operands. */

/* The output rows (or columns) whose window [o·s - p, o·s - p + k) covers input row i:
 * ceil((i + p - k + 1) / s) ≤ o ≤ floor((i + p) / s), clipped to [0, out). */
inline void pool_cover(long i, long k, long s, long p, long out, long *lo, long *hi)
{
    long a = i + p - k + 1;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    long b = (i + p) / s;
    *hi = b < out - 1 ? b : out - 1;
}

/* y[nc, oh, ow] = (1/k²)·Σ_{kh,kw} x[nc, oh·s-p+kh, ow·s-p+kw], padded cells counting as 0
 * (count_include_pad). One work-item per output element, i < NC·OH·OW. */
__kernel void avgpool_fwd(__global float *y, ulong y_off,       /* [N, C, OH, OW] */
                          __global const float *x, ulong x_off, /* [N, C, H, W] */
                          ulong total, uint H, uint W, uint OH, uint OW, uint k, uint s, uint p)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / OW, nc = q / OH;
    long oh = (long)(q - nc * OH), ow = (long)(i - q * OW);
    __global const float *xp = x + x_off + nc * H * W;
    long h0 = oh * s - p, w0 = ow * s - p;
    float sum = 0.0f;
    for (long ih = h0; ih < h0 + (long)k; ih++) {
        if (ih < 0 || ih >= (long)H)
            continue;
        for (long iw = w0; iw < w0 + (long)k; iw++)
            if (iw >= 0 && iw < (long)W)
                sum += xp[ih * W + iw];
    }
    y[y_off + i] = sum / (float)(k * k);
}

/* gx[nc, ih, iw] = (1/k²)·Σ over windows (oh, ow) covering (ih, iw) of gy[nc, oh, ow].
 * One work-item per input element, i < NC·H·W. */
__kernel void avgpool_bwd(__global float *gx, ulong gx_off,      /* [N, C, H, W] */
                          __global const float *gy, ulong gy_off, /* [N, C, OH, OW] */
                          ulong total, uint H, uint W, uint OH, uint OW, uint k, uint s, uint p)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / W, nc = q / H;
    long ih = (long)(q - nc * H), iw = (long)(i - q * W);
    long oh0, oh1, ow0, ow1;
    pool_cover(ih, k, s, p, OH, &oh0, &oh1);
    pool_cover(iw, k, s, p, OW, &ow0, &ow1);
    __global const float *gp = gy + gy_off + nc * OH * OW;
    float sum = 0.0f;
    for (long oh = oh0; oh <= oh1; oh++)
        for (long ow = ow0; ow <= ow1; ow++)
            sum += gp[oh * OW + ow];
    gx[gx_off + i] = sum / (float)(k * k);
}

/* y[nc, oh, ow] = max over the window's cells inside the input (padding never wins);
 * idx[nc, oh, ow] = ih·W + iw of the first maximum in row-major order (NaN wins, as in
 * PyTorch). One work-item per output element. */
__kernel void maxpool_fwd(__global float *y, ulong y_off,       /* [N, C, OH, OW] */
                          __global int *idx, ulong idx_off,     /* [N, C, OH, OW] int32 */
                          __global const float *x, ulong x_off, /* [N, C, H, W] */
                          ulong total, uint H, uint W, uint OH, uint OW, uint k, uint s, uint p)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / OW, nc = q / OH;
    long oh = (long)(q - nc * OH), ow = (long)(i - q * OW);
    __global const float *xp = x + x_off + nc * H * W;
    long h0 = oh * s - p, w0 = ow * s - p;
    float best = -INFINITY;
    int bi = -1;
    for (long ih = h0; ih < h0 + (long)k; ih++) {
        if (ih < 0 || ih >= (long)H)
            continue;
        for (long iw = w0; iw < w0 + (long)k; iw++) {
            if (iw < 0 || iw >= (long)W)
                continue;
            float v = xp[ih * W + iw];
            if (bi < 0 || v > best || isnan(v)) {
                best = v;
                bi = (int)(ih * W + iw);
            }
        }
    }
    y[y_off + i] = best;
    idx[idx_off + i] = bi;
}

/* gx[nc, ih, iw] = Σ over windows (oh, ow) covering (ih, iw) whose idx is ih·W + iw of
 * gy[nc, oh, ow]; windows visited in row-major order. One work-item per input element. */
__kernel void maxpool_bwd(__global float *gx, ulong gx_off,       /* [N, C, H, W] */
                          __global const int *idx, ulong idx_off, /* [N, C, OH, OW] */
                          __global const float *gy, ulong gy_off, /* [N, C, OH, OW] */
                          ulong total, uint H, uint W, uint OH, uint OW, uint k, uint s, uint p)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / W, nc = q / H;
    long ih = (long)(q - nc * H), iw = (long)(i - q * W);
    int me = (int)(ih * W + iw);
    long oh0, oh1, ow0, ow1;
    pool_cover(ih, k, s, p, OH, &oh0, &oh1);
    pool_cover(iw, k, s, p, OW, &ow0, &ow1);
    ulong base = nc * OH * OW;
    float sum = 0.0f;
    for (long oh = oh0; oh <= oh1; oh++)
        for (long ow = ow0; ow <= ow1; ow++) {
            ulong o = base + (ulong)(oh * OW + ow);
            if (idx[idx_off + o] == me)
                sum += gy[gy_off + o];
        }
    gx[gx_off + i] = sum;
}

/* y[nc] = (1/HW)·Σ_{j<HW} x[nc, j], summed in order. One work-item per (n, c), i < NC. */
__kernel void gap_fwd(__global float *y, ulong y_off,       /* [N, C] */
                      __global const float *x, ulong x_off, /* [N, C, H, W] */
                      ulong nc, ulong hw)
{
    ulong i = get_global_id(0);
    if (i >= nc)
        return;
    __global const float *xp = x + x_off + i * hw;
    float sum = 0.0f;
    for (ulong j = 0; j < hw; j++)
        sum += xp[j];
    y[y_off + i] = sum / (float)hw;
}

/* gx[nc, j] = gy[nc] / HW. One work-item per input element, i < NC·HW. */
__kernel void gap_bwd(__global float *gx, ulong gx_off,      /* [N, C, H, W] */
                      __global const float *gy, ulong gy_off, /* [N, C] */
                      ulong total, ulong hw)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    gx[gx_off + i] = gy[gy_off + i / hw] / (float)hw;
}

/* Adaptive average pooling to OH×OW (PyTorch's AdaptiveAvgPool2d): output cell o averages
 * input rows [floor(o·H/OH), ceil((o+1)·H/OH)), and likewise columns. Bins may overlap (H not a
 * multiple of OH) and may repeat one input cell (H < OH: a 1×1 map broadcast to 7×7). */
inline long adaptive_lo(long o, long in, long out)
{
    return (o * in) / out;
}

inline long adaptive_hi(long o, long in, long out)
{
    return ((o + 1) * in + out - 1) / out;
}

/* One work-item per output element, i < NC·OH·OW; the bin summed in row-major order. */
__kernel void adaptive_avgpool_fwd(__global float *y, ulong y_off,       /* [N, C, OH, OW] */
                                   __global const float *x, ulong x_off, /* [N, C, H, W] */
                                   ulong total, uint H, uint W, uint OH, uint OW)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / OW, nc = q / OH;
    long oh = (long)(q - nc * OH), ow = (long)(i - q * OW);
    long h0 = adaptive_lo(oh, H, OH), h1 = adaptive_hi(oh, H, OH);
    long w0 = adaptive_lo(ow, W, OW), w1 = adaptive_hi(ow, W, OW);
    __global const float *xp = x + x_off + nc * H * W;
    float sum = 0.0f;
    for (long ih = h0; ih < h1; ih++)
        for (long iw = w0; iw < w1; iw++)
            sum += xp[ih * W + iw];
    y[y_off + i] = sum / (float)((h1 - h0) * (w1 - w0));
}

/* gx[nc, ih, iw] = Σ over the bins (oh, ow) holding (ih, iw) of gy[nc, oh, ow] / |bin|, bins
 * visited in row-major order. One work-item per input element, i < NC·H·W. */
__kernel void adaptive_avgpool_bwd(__global float *gx, ulong gx_off,      /* [N, C, H, W] */
                                   __global const float *gy, ulong gy_off, /* [N, C, OH, OW] */
                                   ulong total, uint H, uint W, uint OH, uint OW)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong q = i / W, nc = q / H;
    long ih = (long)(q - nc * H), iw = (long)(i - q * W);
    __global const float *gp = gy + gy_off + nc * OH * OW;
    float sum = 0.0f;
    for (long oh = 0; oh < (long)OH; oh++) {
        long h0 = adaptive_lo(oh, H, OH), h1 = adaptive_hi(oh, H, OH);
        if (ih < h0 || ih >= h1)
            continue;
        for (long ow = 0; ow < (long)OW; ow++) {
            long w0 = adaptive_lo(ow, W, OW), w1 = adaptive_hi(ow, W, OW);
            if (iw >= w0 && iw < w1)
                sum += gp[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));
        }
    }
    gx[gx_off + i] = sum;
}
