/* conv_spike.cl — spike-driven convolution (ops/conv_spike.h) on a device: the active lists of a
 * spike tensor, the weight gradient summed over them, and a forward pass that adds the weights
 * of the inputs that fired (no multiplications). Every sum is a gather in a fixed order: no
 * float atomics, deterministic. Flat indices are split as q = i / d, r = i − q·d (pool.cl says
 * why). */

/* One work-item per (n, c) row of x [N, C, H, W] (rows = N·C): list[row·H·W + k] = h·65536 + w
 * of the row's k-th non-zero input in order, count[row] = their number; bad[0] |= 1 when a value
 * is neither 0 nor `value` (the spike's value: 1, or a dropout's scale; an integer atomic: the
 * only shared write). */
__kernel void spike_list(__global uint *list, __global uint *count, __global int *bad,
                         __global const float *x, ulong x_off, ulong rows, uint H, uint W,
                         float value)
{
    ulong r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + x_off + r * H * W;
    __global uint *lr = list + r * H * W;
    uint k = 0;
    int wrong = 0;
    for (uint h = 0; h < H; h++)
        for (uint w = 0; w < W; w++) {
            float v = xr[h * W + w];
            if (v != 0.0f) {
                wrong |= v != value;
                lr[k++] = (h << 16) | w;
            }
        }
    count[r] = k;
    if (wrong)
        atomic_or(bad, 1);
}

/* partial[i] = the number of non-zero values among x[i·chunk .. min((i+1)·chunk, n)): the
 * density of a spike tensor, summed on the host (a fixed order: deterministic). */
__kernel void spike_count(__global uint *partial, __global const float *x, ulong x_off, ulong n,
                          uint chunk)
{
    ulong i = get_global_id(0), from = i * chunk;
    if (from >= n)
        return;
    ulong to = from + chunk < n ? from + chunk : n;
    __global const float *xi = x + x_off;
    uint k = 0;
    for (ulong j = from; j < to; j++)
        k += xi[j] != 0.0f;
    partial[i] = k;
}

/* gw[m, c, kh, kw] = value · Σ_n Σ over the active (h, w) of row (n, c) of gy[n, m, ho, wo],
 * where ho·sh = h + ph − kh and wo·sw = w + pw − kw fall inside the output. One work-item per
 * weight (M·C·KH·KW); its work is the channel's active inputs: the synaptic operations. */
__kernel void spike_conv_wgrad(__global float *gw, ulong gw_off, __global const uint *list,
                               __global const uint *count, __global const float *gy, ulong gy_off,
                               uint N, uint C, uint H, uint W, uint M, uint KH, uint KW, uint HO,
                               uint WO, uint sh, uint sw, uint ph, uint pw, float value)
{
    ulong i = get_global_id(0), total = (ulong)M * C * KH * KW;
    if (i >= total)
        return;
    ulong q = i / KW, q2 = q / KH, m = q2 / C;
    int kw = (int)(i - q * KW), kh = (int)(q - q2 * KH);
    uint c = (uint)(q2 - m * C);
    float g = 0.0f;
    for (uint n = 0; n < N; n++) {
        ulong row = (ulong)n * C + c;
        __global const uint *l = list + row * H * W;
        __global const float *gyn = gy + gy_off + ((ulong)n * M + m) * HO * WO;
        uint cnt = count[row];
        for (uint k = 0; k < cnt; k++) {
            uint e = l[k];
            int a = (int)(e >> 16) + (int)ph - kh, b = (int)(e & 0xffffu) + (int)pw - kw;
            if (a < 0 || b < 0)
                continue;
            uint ho = (uint)a / sh, wo = (uint)b / sw;
            if (ho * sh != (uint)a || wo * sw != (uint)b || ho >= HO || wo >= WO)
                continue;
            g += gyn[ho * WO + wo];
        }
    }
    gw[gw_off + i] = value * g;
}

/* y[n, m, ho, wo] = bias[m] + value · Σ over c, kh, kw with x[n, c, ho·sh − ph + kh,
 * wo·sw − pw + kw] ≠ 0 of w[m, c, kh, kw] (the input a spike of `value`). One work-item per
 * output (N·M·HO·WO). */
__kernel void spike_conv_fwd(__global float *y, ulong y_off, __global const float *x, ulong x_off,
                             __global const float *w, ulong w_off, __global const float *bias,
                             ulong b_off, int has_bias, uint N, uint C, uint H, uint W, uint M,
                             uint KH, uint KW, uint HO, uint WO, uint sh, uint sw, uint ph, uint pw,
                             float value)
{
    ulong i = get_global_id(0), total = (ulong)N * M * HO * WO;
    if (i >= total)
        return;
    ulong q = i / WO, q2 = q / HO, n = q2 / M;
    int wo = (int)(i - q * WO), ho = (int)(q - q2 * HO);
    ulong m = q2 - n * M;
    float acc = 0.0f;
    for (uint c = 0; c < C; c++) {
        __global const float *xc = x + x_off + ((ulong)n * C + c) * H * W;
        __global const float *wc = w + w_off + (m * C + c) * KH * KW;
        for (uint kh = 0; kh < KH; kh++) {
            int h = ho * (int)sh - (int)ph + (int)kh;
            if (h < 0 || h >= (int)H)
                continue;
            for (uint kw = 0; kw < KW; kw++) {
                int v = wo * (int)sw - (int)pw + (int)kw;
                if (v >= 0 && v < (int)W && xc[h * W + v] != 0.0f)
                    acc += wc[kh * KW + kw];
            }
        }
    }
    y[y_off + i] = (has_bias ? bias[b_off + m] : 0.0f) + value * acc;
}
