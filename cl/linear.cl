/* linear.cl — the bias parts of the fully connected layer (the products are CLBlast GEMMs). */

/* y[n, o] = b[o] (the GEMM then adds x·W^T with beta = 1).
 * y: [N, OUT]; b: [OUT]; one work-item per element. */
__kernel void linear_bias_fwd(__global float *y, ulong y_off, __global const float *b,
                              ulong b_off, ulong n, ulong out)
{
    ulong g = get_global_id(0);
    if (g >= n * out)
        return;
    y[y_off + g] = b[b_off + g % out];
}

/* gb[o] = Σ_n gy[n, o], n ascending (fixed order); one work-item per output feature o
 * (neighbouring work-items read neighbouring addresses).  gy: [N, OUT]; gb: [OUT], written. */
__kernel void linear_bias_bwd(__global float *gb, ulong gb_off, __global const float *gy,
                              ulong gy_off, ulong n, ulong out)
{
    ulong o = get_global_id(0);
    if (o >= out)
        return;
    float s = 0.0f;
    for (ulong i = 0; i < n; i++)
        s += gy[gy_off + i * out + o];
    gb[gb_off + o] = s;
}
