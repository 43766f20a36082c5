/* bn.cl — batch normalization over [N, C, P] (P = H·W, or 1 for BatchNorm1d): per-channel
 * statistics as fixed-tree work-group sums (deterministic), normalization and its gradient. */
#include "reduce.clh"

/* Chan, Golub and LeVeque's pairwise update: (na, ma, qa) += (nb, mb, qb), for counts n, means
 * m and sums of squared deviations q. */
void stats_merge(float *na, float *ma, float *qa, float nb, float mb, float qb)
{
    float n = *na + nb;
    if (nb == 0.0f || n == 0.0f)
        return;
    float d = mb - *ma, f = nb / n;
    *ma += d * f;
    *qa += qb + d * d * *na * f;
    *na = n;
}

/* The statistics of channel c over its m = N·P values x[n, c, p], by one group of RED_WG
 * work-items in one pass: work-item l sums e = l, l + RED_WG, … in order as deviations from its
 * first value (so the sums do not grow with the channel's offset), giving its count, mean and
 * Σ(x − mean)²; the work-items' triples are merged in a fixed tree (pairs (l, l + s),
 * s = RED_WG/2, …, 1). Work-item 0 returns 1 with the channel's mean and Σ(x − mean)²; the
 * others return 0. */
int channel_stats(__global const float *x, ulong x_off, ulong n, ulong C, ulong P, ulong c,
                  __local float *sn, __local float *smean, __local float *sq, float *mean,
                  float *sqdev)
{
    uint l = get_local_id(0);
    ulong m = n * P;
    uint P32 = (uint)P;
    float k = 0.0f, s = 0.0f, s2 = 0.0f, cnt = 0.0f;
    chan_pos q = chan_start(l, P32);
    if (l < m)
        k = x[x_off + (q.i * C + c) * P + q.p];
    for (ulong e = l; e < m; e += RED_WG, chan_next(&q, P32)) {
        float d = x[x_off + (q.i * C + c) * P + q.p] - k;
        s += d;
        s2 += d * d;
        cnt += 1.0f;
    }
    float mi = cnt > 0.0f ? s / cnt : 0.0f;
    sn[l] = cnt;
    smean[l] = k + mi;
    sq[l] = cnt > 0.0f ? fmax(s2 - s * mi, 0.0f) : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) {
            float na = sn[l], ma = smean[l], qa = sq[l];
            stats_merge(&na, &ma, &qa, sn[l + h], smean[l + h], sq[l + h]);
            sn[l] = na;
            smean[l] = ma;
            sq[l] = qa;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    *mean = smean[0];
    *sqdev = sq[0];
    return l == 0;
}

/* One group of RED_WG work-items per channel c (channel_stats), then
 *   mean = the merged mean,  var = Σ(x − mean)² / m  (biased)
 *   save_mean[c] = mean,  save_invstd[c] = 1 / sqrt(var + eps)
 *   running_mean[c] = (1 − mom)·running_mean[c] + mom·mean
 *   running_var[c]  = (1 − mom)·running_var[c]  + mom·var·m / (m − 1)   (unbiased)
 * x: [N, C, P]; save_*, running_*: [C]. */
__kernel void bn_stats(__global float *save_mean, ulong sm_off, __global float *save_invstd,
                       ulong si_off, __global float *run_mean, ulong rm_off,
                       __global float *run_var, ulong rv_off, __global const float *x, ulong x_off,
                       ulong n, ulong C, ulong P, float momentum, float eps)
{
    __local float sn[RED_WG], smean[RED_WG], sq[RED_WG];
    ulong c = get_group_id(0), m = n * P;
    float mean, sqdev;
    if (channel_stats(x, x_off, n, C, P, c, sn, smean, sq, &mean, &sqdev)) {
        float var = sqdev / (float)m;
        save_mean[sm_off + c] = mean;
        save_invstd[si_off + c] = 1.0f / sqrt(var + eps);
        run_mean[rm_off + c] = (1.0f - momentum) * run_mean[rm_off + c] + momentum * mean;
        run_var[rv_off + c] = (1.0f - momentum) * run_var[rv_off + c] +
                              momentum * var * ((float)m / (float)(m - 1));
    }
}

/* This rank's share of synchronized statistics (ops/bn.c): mean[c] and sqdev[c] = Σ(x − mean)²
 * of channel c over the m = N·P values here (channel_stats), for the host to merge with the
 * other ranks'. x: [N, C, P]; mean, sqdev: [C]. */
__kernel void bn_local_stats(__global float *mean_out, ulong mo_off, __global float *sqdev_out,
                             ulong so_off, __global const float *x, ulong x_off, ulong n, ulong C,
                             ulong P)
{
    __local float sn[RED_WG], smean[RED_WG], sq[RED_WG];
    ulong c = get_group_id(0);
    float mean, sqdev;
    if (channel_stats(x, x_off, n, C, P, c, sn, smean, sq, &mean, &sqdev)) {
        mean_out[mo_off + c] = mean;
        sqdev_out[so_off + c] = sqdev;
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
 * x, y: [N, C, P] as N·C rows of P; mean, invstd, gamma, beta: [C]; work-item (p, row) of a
 * [N·C, P] grid: the channel costs one division per work-item, not the two a flat index needs
 * (integer division does not vectorize on CPUs). */
__kernel void bn_fwd(__global float *y, ulong y_off, __global const float *mean, ulong m_off,
                     __global const float *invstd, ulong s_off, __global const float *x,
                     ulong x_off, __global const float *gamma, ulong g_off,
                     __global const float *beta, ulong b_off, ulong n, ulong C, ulong P)
{
    ulong p = get_global_id(0), r = get_global_id(1);
    if (p >= P || r >= n * C)
        return;
    ulong c = r % C, i = r * P + p;
    float k = invstd[s_off + c] * gamma[g_off + c];
    y[y_off + i] = (x[x_off + i] - mean[m_off + c]) * k + beta[b_off + c];
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

/* Train (batch statistics), x̂ = (x − mean)·invstd, inv_m = 1/m for the m values the statistics
 * came from (N·P here, the whole global batch's when they are synchronized over ranks, with
 * grad_beta and grad_gamma summed over them too):
 *   gx = gamma·invstd·(gy − grad_beta/m − x̂·grad_gamma/m)
 * Eval (running statistics, constants):  gx = gamma·invstd·gy.
 * x, gy, gx: [N, C, P] as N·C rows of P; the rest [C]; work-item (p, row) of a [N·C, P] grid. */
__kernel void bn_bwd(__global float *gx, ulong gx_off, __global const float *grad_gamma,
                     ulong gg_off, __global const float *grad_beta, ulong gb_off,
                     __global const float *mean, ulong m_off, __global const float *invstd,
                     ulong s_off, __global const float *gy, ulong gy_off, __global const float *x,
                     ulong x_off, __global const float *gamma, ulong g_off, ulong n, ulong C,
                     ulong P, int train, float inv_m)
{
    ulong p = get_global_id(0), r = get_global_id(1);
    if (p >= P || r >= n * C)
        return;
    ulong c = r % C, i = r * P + p;
    float is = invstd[s_off + c], k = gamma[g_off + c] * is, mu = mean[m_off + c];
    float g = gy[gy_off + i];
    if (train)
        g = g - grad_beta[gb_off + c] * inv_m -
            (x[x_off + i] - mu) * is * grad_gamma[gg_off + c] * inv_m;
    gx[gx_off + i] = k * g;
}
