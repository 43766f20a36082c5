/* bn.cl — batch normalization over [N, C, P] (P = H·W, or 1 for BatchNorm1d): per-channel
 * statistics as fixed-tree work-group sums (deterministic), normalization and its gradient. */
#include "reduce.clh"

/* The channel of element i of a [N, C, P] tensor of `total` elements, in 32-bit arithmetic when
 * the tensor allows it (a 64-bit division costs several times more on CPUs). */
ulong channel_of(ulong i, ulong total, ulong C, ulong P)
{
    if (total <= 0xffffffffUL)
        return ((uint)i / (uint)P) % (uint)C;
    return (i / P) % C;
}

/* One group of RED_WG work-items per channel c; m = N·P values x[n, c, p]. Two passes:
 *   mean = Σx / m,  var = Σ(x − mean)² / m  (biased)
 *   save_mean[c] = mean,  save_invstd[c] = 1 / sqrt(var + eps)
 *   running_mean[c] = (1 − mom)·running_mean[c] + mom·mean
 *   running_var[c]  = (1 − mom)·running_var[c]  + mom·var·m / (m − 1)   (unbiased)
 * x: [N, C, P]; save_*, running_*: [C]. Work-item l sums e = l, l + RED_WG, … in order. */
__kernel void bn_stats(__global float *save_mean, ulong sm_off, __global float *save_invstd,
                       ulong si_off, __global float *run_mean, ulong rm_off,
                       __global float *run_var, ulong rv_off, __global const float *x, ulong x_off,
                       ulong n, ulong C, ulong P, float momentum, float eps)
{
    __local float scratch[RED_WG];
    ulong c = get_group_id(0), m = n * P;
    uint P32 = (uint)P;
    float s = 0.0f;
    chan_pos q = chan_start(get_local_id(0), P32);
    for (ulong e = get_local_id(0); e < m; e += RED_WG, chan_next(&q, P32))
        s += x[x_off + (q.i * C + c) * P + q.p];
    float mean = wg_sum(scratch, s) / (float)m;
    s = 0.0f;
    q = chan_start(get_local_id(0), P32);
    for (ulong e = get_local_id(0); e < m; e += RED_WG, chan_next(&q, P32)) {
        float d = x[x_off + (q.i * C + c) * P + q.p] - mean;
        s += d * d;
    }
    float var = wg_sum(scratch, s) / (float)m;
    if (get_local_id(0) == 0) {
        save_mean[sm_off + c] = mean;
        save_invstd[si_off + c] = 1.0f / sqrt(var + eps);
        run_mean[rm_off + c] = (1.0f - momentum) * run_mean[rm_off + c] + momentum * mean;
        run_var[rv_off + c] = (1.0f - momentum) * run_var[rv_off + c] +
                              momentum * var * ((float)m / (float)(m - 1));
    }
}

/* Eval mode: save_mean[c] = running_mean[c], save_invstd[c] = 1 / sqrt(running_var[c] + eps).
 * All [C]; one work-item per channel. */
__kernel void bn_eval_stats(__global float *save_mean, ulong sm_off, __global float *save_invstd,
                            ulong si_off, __global const float *run_mean, ulong rm_off,
                            __global const float *run_var, ulong rv_off, ulong C, float eps)
{
    ulong c = get_global_id(0);
    if (c >= C)
        return;
    save_mean[sm_off + c] = run_mean[rm_off + c];
    save_invstd[si_off + c] = 1.0f / sqrt(run_var[rv_off + c] + eps);
}

/* y = (x − mean[c])·invstd[c]·gamma[c] + beta[c].
 * x, y: [N, C, P]; mean, invstd, gamma, beta: [C]; one work-item per element. */
__kernel void bn_fwd(__global float *y, ulong y_off, __global const float *mean, ulong m_off,
                     __global const float *invstd, ulong s_off, __global const float *x,
                     ulong x_off, __global const float *gamma, ulong g_off,
                     __global const float *beta, ulong b_off, ulong total, ulong C, ulong P)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong c = channel_of(i, total, C, P);
    y[y_off + i] = (x[x_off + i] - mean[m_off + c]) * invstd[s_off + c] * gamma[g_off + c] +
                   beta[b_off + c];
}

/* One group of RED_WG work-items per channel c, over its m = N·P values:
 *   grad_beta[c]  = Σ gy
 *   grad_gamma[c] = invstd[c]·Σ gy·(x − mean[c])      (= Σ gy·x̂)
 * x, gy: [N, C, P]; the rest [C], written. */
__kernel void bn_bwd_reduce(__global float *grad_gamma, ulong gg_off, __global float *grad_beta,
                            ulong gb_off, __global const float *mean, ulong m_off,
                            __global const float *invstd, ulong s_off, __global const float *gy,
                            ulong gy_off, __global const float *x, ulong x_off, ulong n, ulong C,
                            ulong P)
{
    __local float scratch[RED_WG];
    ulong c = get_group_id(0), m = n * P;
    float mu = mean[m_off + c];
    float sb = 0.0f, sg = 0.0f;
    uint P32 = (uint)P;
    chan_pos q = chan_start(get_local_id(0), P32);
    for (ulong e = get_local_id(0); e < m; e += RED_WG, chan_next(&q, P32)) {
        ulong j = (q.i * C + c) * P + q.p;
        float g = gy[gy_off + j];
        sb += g;
        sg += g * (x[x_off + j] - mu);
    }
    sb = wg_sum(scratch, sb);
    sg = wg_sum(scratch, sg);
    if (get_local_id(0) == 0) {
        grad_beta[gb_off + c] = sb;
        grad_gamma[gg_off + c] = sg * invstd[s_off + c];
    }
}

/* Train (batch statistics), m = N·P, x̂ = (x − mean)·invstd:
 *   gx = gamma·invstd·(gy − grad_beta/m − x̂·grad_gamma/m)
 * Eval (running statistics, constants):  gx = gamma·invstd·gy.
 * x, gy, gx: [N, C, P]; the rest [C]; one work-item per element. */
__kernel void bn_bwd(__global float *gx, ulong gx_off, __global const float *grad_gamma,
                     ulong gg_off, __global const float *grad_beta, ulong gb_off,
                     __global const float *mean, ulong m_off, __global const float *invstd,
                     ulong s_off, __global const float *gy, ulong gy_off,
                     __global const float *x, ulong x_off, __global const float *gamma,
                     ulong g_off, ulong total, ulong C, ulong P, int train)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    ulong c = channel_of(i, total, C, P);
    float k = gamma[g_off + c] * invstd[s_off + c];
    float g = gy[gy_off + i];
    if (train) {
        float inv_m = 1.0f / (float)(total / C);
        float xhat = (x[x_off + i] - mean[m_off + c]) * invstd[s_off + c];
        g = g - grad_beta[gb_off + c] * inv_m - xhat * grad_gamma[gg_off + c] * inv_m;
    }
    gx[gx_off + i] = k * g;
}
