/* activation.cl — ReLU forward and backward (the ANN twin's activation). */

/* y[i] = max(x[i], 0) (NaN propagates), i < n. */
__kernel void relu_fwd(__global float *y, ulong y_off,       /* [N, ...] */
                       __global const float *x, ulong x_off, /* [N, ...] */
                       ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float v = x[x_off + i];
    y[y_off + i] = v < 0.0f ? 0.0f : v;
}

/* gx[i] = gy[i] if x[i] > 0 else 0 (the gradient at 0 is 0, as in PyTorch), i < n. */
__kernel void relu_bwd(__global float *gx, ulong gx_off,      /* [N, ...] */
                       __global const float *x, ulong x_off,   /* [N, ...] forward input */
                       __global const float *gy, ulong gy_off, /* [N, ...] */
                       ulong n)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    gx[gx_off + i] = x[x_off + i] > 0.0f ? gy[gy_off + i] : 0.0f;
}
