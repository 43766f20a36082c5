/* optim.cl — optimizer steps (SGD with momentum, AdamW), gradient norm and clipping on flat
 * float buffers addressed by (buffer, offset). */
#include "reduce.clh"

/* SGD, PyTorch semantics (dampening 0): d = g + wd·p; when mu != 0: buf = mu·buf + d and
 * d = nesterov ? d + mu·buf : buf; p = p − lr·d. p, g, buf: [n]. */
__kernel void sgd_step(__global float *p, ulong p_off, __global const float *g, ulong g_off,
                       __global float *buf, ulong buf_off, ulong n, float lr, float mu, float wd,
                       int nesterov)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float pi = p[p_off + i];
    float d = g[g_off + i] + wd * pi;
    if (mu != 0.0f) {
        float bi = mu * buf[buf_off + i] + d;
        buf[buf_off + i] = bi;
        d = nesterov ? d + mu * bi : bi;
    }
    p[p_off + i] = pi - lr * d;
}

/* AdamW, PyTorch semantics: p = p·(1 − lr·wd); m = m + (1 − b1)(g − m);
 * v = b2·v + (1 − b2)·g²; p = p − step_size · m / (sqrt(v) / bc2_sqrt + eps) with
 * step_size = lr / (1 − b1^t), bc2_sqrt = sqrt(1 − b2^t). p, g, m, v: [n]. */
__kernel void adamw_step(__global float *p, ulong p_off, __global const float *g, ulong g_off,
                         __global float *m, ulong m_off, __global float *v, ulong v_off, ulong n,
                         float lr, float b1, float b2, float eps, float wd, float step_size,
                         float bc2_sqrt)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float gi = g[g_off + i];
    float pi = p[p_off + i] * (1.0f - lr * wd);
    float mi = m[m_off + i];
    mi = mi + (1.0f - b1) * (gi - mi);
    float vi = b2 * v[v_off + i] + (1.0f - b2) * gi * gi;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] = pi - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
}

/* Partial sums of squares over fixed chunks: part[k] = Σ_{i in chunk k} g_i², chunk k covering
 * [k·chunk, min(n, (k+1)·chunk)). g: [n]; part: [G]. */
__kernel void sumsq_partial(__global float *part, __global const float *g, ulong g_off, ulong n,
                            ulong chunk, ulong G)
{
    ulong k = get_global_id(0);
    if (k >= G)
        return;
    ulong lo = k * chunk, hi = min(n, lo + chunk);
    float acc = 0.0f;
    for (ulong i = lo; i < hi; i++)
        acc += g[g_off + i] * g[g_off + i];
    part[k] = acc;
}

/* Clipping, PyTorch clip_grad_norm_: coef = max_norm / (norm + 1e-6); g = g · coef when
 * coef < 1. g: [n]; norm: [1]. */
__kernel void grad_clip(__global float *g, ulong g_off, __global const float *norm,
                        ulong norm_off, ulong n, float max_norm)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float coef = max_norm / (norm[norm_off] + 1e-6f);
    if (coef < 1.0f)
        g[g_off + i] *= coef;
}
