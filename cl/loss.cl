/* loss.cl — distillation and classification losses with their input gradients, and the
 * feature transforms norm and attn. Every reduction runs in a fixed order (one work-item per
 * row, chunk or channel, then sum_final), so results are bit-for-bit repeatable. */
#include "reduce.clh"

/* Row statistics of u = z / tau over K values: *mx = max u, returns lse = mx + log Σ exp(u−mx),
 * so log softmax(u)_i = u_i − lse. */
static float row_lse(__global const float *z, ulong K, float inv_tau)
{
    float mx = -INFINITY;
    for (ulong i = 0; i < K; i++)
        mx = fmax(mx, z[i] * inv_tau);
    float s = 0.0f;
    for (ulong i = 0; i < K; i++)
        s += exp(z[i] * inv_tau - mx);
    return mx + log(s);
}

/* Cross-entropy per row: rowloss[b] = logsumexp(z_b) − z_b[label_b]; NaN when the label is
 * outside [0, K). z: [B, K]; labels: int32 [B]; rowloss: [B]. */
__kernel void ce_fwd(__global float *rowloss, __global const float *z, ulong z_off,
                     __global const int *labels, ulong labels_off, ulong B, ulong K)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *row = z + z_off + b * K;
    int y = labels[labels_off + b];
    if (y < 0 || (ulong)y >= K) {
        rowloss[b] = NAN;
        return;
    }
    rowloss[b] = row_lse(row, K, 1.0f) - row[y];
}

/* dz[b, i] = scale · (softmax(z_b)_i − [i == label_b]), scale = weight / B; the whole row is NaN
 * when the label is outside [0, K). dz, z: [B, K]; labels: int32 [B]. */
__kernel void ce_bwd(__global float *dz, ulong dz_off, __global const float *z, ulong z_off,
                     __global const int *labels, ulong labels_off, ulong B, ulong K, float scale)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *row = z + z_off + b * K;
    __global float *out = dz + dz_off + b * K;
    int y = labels[labels_off + b];
    if (y < 0 || (ulong)y >= K) {
        for (ulong i = 0; i < K; i++)
            out[i] = NAN;
        return;
    }
    float lse = row_lse(row, K, 1.0f);
    for (ulong i = 0; i < K; i++)
        out[i] = scale * (exp(row[i] - lse) - (i == (ulong)y ? 1.0f : 0.0f));
}

/* Softened KL per row: rowloss[b] = tau² · Σ_i p_t(i)·(log p_t(i) − log p_s(i)),
 * p = softmax(z / tau) over the K values of row b. s, t: [B, K]; rowloss: [B]. */
__kernel void softmax_kl_fwd(__global float *rowloss, __global const float *s, ulong s_off,
                             __global const float *t, ulong t_off, ulong B, ulong K, float tau)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *sr = s + s_off + b * K, *tr = t + t_off + b * K;
    float inv = 1.0f / tau;
    float ls = row_lse(sr, K, inv), lt = row_lse(tr, K, inv);
    float acc = 0.0f;
    for (ulong i = 0; i < K; i++) {
        float logpt = tr[i] * inv - lt, logps = sr[i] * inv - ls;
        acc += exp(logpt) * (logpt - logps);
    }
    rowloss[b] = tau * tau * acc;
}

/* ds[b, i] = scale · (p_s(i) − p_t(i)), scale = weight · tau / B. ds, s, t: [B, K]. */
__kernel void softmax_kl_bwd(__global float *ds, ulong ds_off, __global const float *s,
                             ulong s_off, __global const float *t, ulong t_off, ulong B, ulong K,
                             float tau, float scale)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *sr = s + s_off + b * K, *tr = t + t_off + b * K;
    __global float *out = ds + ds_off + b * K;
    float inv = 1.0f / tau;
    float ls = row_lse(sr, K, inv), lt = row_lse(tr, K, inv);
    for (ulong i = 0; i < K; i++)
        out[i] = scale * (exp(sr[i] * inv - ls) - exp(tr[i] * inv - lt));
}

/* Partial sums of a distance over fixed chunks: part[g] = Σ_{i in chunk g} f(s_i − t_i),
 * f = d² when absolute == 0, |d| otherwise; chunk g covers [g·chunk, min(n, (g+1)·chunk)).
 * s, t: [n]; part: [G]. */
__kernel void dist_fwd(__global float *part, __global const float *s, ulong s_off,
                       __global const float *t, ulong t_off, ulong n, ulong chunk, ulong G,
                       int absolute)
{
    ulong g = get_global_id(0);
    if (g >= G)
        return;
    ulong lo = g * chunk, hi = min(n, lo + chunk);
    float acc = 0.0f;
    for (ulong i = lo; i < hi; i++) {
        float d = s[s_off + i] - t[t_off + i];
        acc += absolute ? fabs(d) : d * d;
    }
    part[g] = acc;
}

/* ds_i = scale · (s_i − t_i) (mse, scale = 2·weight/n) or scale · sign(s_i − t_i) with
 * sign(0) = 0 (l1, scale = weight/n). ds, s, t: [n]. */
__kernel void dist_bwd(__global float *ds, ulong ds_off, __global const float *s, ulong s_off,
                       __global const float *t, ulong t_off, ulong n, float scale, int absolute)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float d = s[s_off + i] - t[t_off + i];
    float g = absolute ? (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f)) : d;
    ds[ds_off + i] = scale * g;
}

/* Per-channel normalization with batch statistics, one work-item per channel c:
 * mean_c = Σ x / N, var_c = Σ (x − mean_c)² / N (biased), N = B·HW,
 * rstd_c = 1 / sqrt(var_c + eps), y = (x − mean_c) · rstd_c.
 * x, y: [B, C, HW]; mean, rstd: [C]. */
__kernel void feat_norm_fwd(__global float *y, ulong y_off, __global float *mean, ulong mean_off,
                            __global float *rstd, ulong rstd_off, __global const float *x,
                            ulong x_off, ulong B, ulong C, ulong HW, float eps)
{
    ulong c = get_global_id(0);
    if (c >= C)
        return;
    float n = (float)(B * HW);
    float s = 0.0f;
    for (ulong b = 0; b < B; b++)
        for (ulong j = 0; j < HW; j++)
            s += x[x_off + (b * C + c) * HW + j];
    float mu = s / n;
    float v = 0.0f;
    for (ulong b = 0; b < B; b++)
        for (ulong j = 0; j < HW; j++) {
            float d = x[x_off + (b * C + c) * HW + j] - mu;
            v += d * d;
        }
    float r = 1.0f / sqrt(v / n + eps);
    for (ulong b = 0; b < B; b++)
        for (ulong j = 0; j < HW; j++) {
            ulong k = (b * C + c) * HW + j;
            y[y_off + k] = (x[x_off + k] - mu) * r;
        }
    mean[mean_off + c] = mu;
    rstd[rstd_off + c] = r;
}

/* Input gradient of feat_norm, one work-item per channel:
 * dx = rstd_c · (dy − mean(dy) − y · mean(dy·y)), means over the N = B·HW values of channel c.
 * dx, dy, y: [B, C, HW]; rstd: [C]. */
__kernel void feat_norm_bwd(__global float *dx, ulong dx_off, __global const float *dy,
                            ulong dy_off, __global const float *y, ulong y_off,
                            __global const float *rstd, ulong rstd_off, ulong B, ulong C,
                            ulong HW)
{
    ulong c = get_global_id(0);
    if (c >= C)
        return;
    float n = (float)(B * HW);
    float sd = 0.0f, sdy = 0.0f;
    for (ulong b = 0; b < B; b++)
        for (ulong j = 0; j < HW; j++) {
            ulong k = (b * C + c) * HW + j;
            sd += dy[dy_off + k];
            sdy += dy[dy_off + k] * y[y_off + k];
        }
    float md = sd / n, mdy = sdy / n, r = rstd[rstd_off + c];
    for (ulong b = 0; b < B; b++)
        for (ulong j = 0; j < HW; j++) {
            ulong k = (b * C + c) * HW + j;
            dx[dx_off + k] = r * (dy[dy_off + k] - md - y[y_off + k] * mdy);
        }
}

/* Attention map, one work-item per sample b: q_j = Σ_c F[b, c, j]², norm_b = ‖q‖₂,
 * A[b, j] = q_j / max(norm_b, eps). f: [B, C, HW]; a: [B, HW]; norm: [B]. */
__kernel void attn_fwd(__global float *a, ulong a_off, __global float *norm, ulong norm_off,
                       __global const float *f, ulong f_off, ulong B, ulong C, ulong HW,
                       float eps)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global float *ar = a + a_off + b * HW;
    __global const float *fr = f + f_off + b * C * HW;
    float ss = 0.0f;
    for (ulong j = 0; j < HW; j++) {
        float q = 0.0f;
        for (ulong c = 0; c < C; c++)
            q += fr[c * HW + j] * fr[c * HW + j];
        ar[j] = q;
        ss += q * q;
    }
    float nrm = sqrt(ss), inv = 1.0f / fmax(nrm, eps);
    for (ulong j = 0; j < HW; j++)
        ar[j] *= inv;
    norm[norm_off + b] = nrm;
}

/* Input gradient of attn, one work-item per sample: with d = max(norm_b, eps),
 * dq_j = (dA_j − A_j · Σ_k A_k dA_k) / d when norm_b > eps, else dA_j / eps;
 * dF[b, c, j] = 2 · F[b, c, j] · dq_j. df, f: [B, C, HW]; da, a: [B, HW]; norm: [B]. */
__kernel void attn_bwd(__global float *df, ulong df_off, __global const float *da, ulong da_off,
                       __global const float *a, ulong a_off, __global const float *norm,
                       ulong norm_off, __global const float *f, ulong f_off, ulong B, ulong C,
                       ulong HW, float eps)
{
    ulong b = get_global_id(0);
    if (b >= B)
        return;
    __global const float *dar = da + da_off + b * HW, *ar = a + a_off + b * HW;
    __global const float *fr = f + f_off + b * C * HW;
    __global float *dfr = df + df_off + b * C * HW;
    float nrm = norm[norm_off + b];
    int regular = nrm > eps;
    float dot = 0.0f;
    if (regular)
        for (ulong j = 0; j < HW; j++)
            dot += ar[j] * dar[j];
    float inv = 1.0f / fmax(nrm, eps);
    for (ulong j = 0; j < HW; j++) {
        float dq = (dar[j] - (regular ? ar[j] * dot : 0.0f)) * inv;
        for (ulong c = 0; c < C; c++)
            dfr[c * HW + j] = 2.0f * fr[c * HW + j] * dq;
    }
}
