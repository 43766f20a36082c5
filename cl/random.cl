/* random.cl — counter-based random numbers: tensor fills, out[i] = f(seed, base + i), and
 * dropout masks. */
#include "philox.clh"

/* out[off + i] = lo + (hi - lo) * U(seed, base + i), i < n. */
__kernel void uniform_fill(__global float *out, ulong off, ulong n, ulong seed, ulong base,
                           float lo, float hi)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    out[off + i] = lo + (hi - lo) * sakd_rng_uniform(seed, base + i);
}

/* out[off + i] = mean + std * N(seed, base + i), i < n. */
__kernel void normal_fill(__global float *out, ulong off, ulong n, ulong seed, ulong base,
                          float mean, float std)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    out[off + i] = mean + std * sakd_rng_normal(seed, base + i);
}

/* Raw Philox4x32-10 (for known-answer tests): item j reads counter in[6j..6j+3] and key
 * in[6j+4..6j+5], writes out[4j..4j+3]. */
__kernel void philox_raw(__global uint *out, __global const uint *in, ulong n)
{
    ulong j = get_global_id(0);
    if (j >= n)
        return;
    uint4 c = vload4(0, in + 6 * j);
    uint2 k = vload2(0, in + 6 * j + 4);
    vstore4(philox4x32_10(c, k), j, out);
}

/* Inverted dropout, and its backward (the same mask): y[i] = x[i]·scale where
 * U(seed, base + i mod period) ≥ p, else 0. period = the elements of one time step, so that a
 * spiking layer drops the same neurons at every step. i < n. */
__kernel void dropout_apply(__global float *y, ulong y_off, __global const float *x, ulong x_off,
                            ulong n, ulong period, ulong seed, ulong base, float p, float scale)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    ulong q = i / period, j = i - q * period;
    y[y_off + i] = sakd_rng_uniform(seed, base + j) >= p ? x[x_off + i] * scale : 0.0f;
}
