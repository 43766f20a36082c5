/* lif.cl — multi-step LIF neuron (DESIGN.md §2.1) on time-major [T·B, ...] tensors, forward and
 * BPTT backward; one work-item per neuron loops over T. Options fixed at build time so that the
 * loop has no branch on them:
 *   -DSURROGATE=1|2|3   triangle | sigmoid | atan surrogate g(u)
 *   -DRESET_SOFT=0|1    hard reset v = h·(1-s) | soft reset v = h - V_th·s
 *   -DDETACH_RESET=0|1  the reset term's gradient is kept | detached
 *   -DLIF_T=T           the loop over T fully unrolled (T ≤ SAKD_LIF_UNROLL_MAX); 0: T from the
 *                       kernel argument. A CPU implementation (PoCL) vectorizes a kernel across
 *                       its work-items only where the kernel has no inner loop: unrolled, LIF
 *                       runs 7x faster there (results/bench/NOTES.md), with the same operations
 *                       in the same order, so the same bits. */

#ifndef SURROGATE
#define SURROGATE 1
#endif
#ifndef RESET_SOFT
#define RESET_SOFT 0
#endif
#ifndef DETACH_RESET
#define DETACH_RESET 0
#endif
#ifndef LIF_T
#define LIF_T 0
#endif
#if LIF_T > 0
#define LIF_STEPS LIF_T
#else
#define LIF_STEPS T
#endif

#define LIF_HALF_PI 1.57079632679489662f

/* Surrogate gradient g(u), u = h - V_th:
 *   1: triangle  max(0, 1 - |u|)            (α unused)
 *   2: sigmoid   α·σ(αu)·(1 - σ(αu))
 *   3: atan      α / (2·(1 + (π/2·α·u)²)) */
inline float lif_surrogate(float u, float alpha)
{
#if SURROGATE == 1
    return fmax(0.0f, 1.0f - fabs(u));
#elif SURROGATE == 2
    /* σ(z)·(1 - σ(z)) = e / (1 + e)² with e = exp(-|z|): no cancellation in 1 - σ. */
    float e = exp(-fabs(alpha * u));
    return alpha * e / ((1.0f + e) * (1.0f + e));
#elif SURROGATE == 3
    float a = LIF_HALF_PI * alpha * u;
    return alpha / (2.0f * (1.0f + a * a));
#else
#error "SURROGATE must be 1 (triangle), 2 (sigmoid) or 3 (atan)"
#endif
}

/* For each neuron i < n (n = B·C·H·W, one time step) and t = 0 … T-1, v[-1] = 0:
 *   h[t] = λ·v[t-1] + x[t];  s[t] = (h[t] - V_th >= 0);
 *   v[t] = h[t]·(1 - s[t]) (hard) or h[t] - V_th·s[t] (soft).
 * Element (t, i) sits at t·n + i in every buffer. */
__kernel void lif_fwd(__global float *s, ulong s_off,         /* [T·B, ...] spikes 0/1 */
                      __global float *h, ulong h_off,         /* [T·B, ...] h before reset */
                      __global uchar *rec, ulong rec_off,     /* [T·B·N] spikes as bytes */
                      __global const float *x, ulong x_off,   /* [T·B, ...] input current */
                      ulong n, uint T, float decay, float vth)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float v = 0.0f;
#if LIF_T > 0
#pragma unroll
#endif
    for (uint t = 0; t < LIF_STEPS; t++) {
        ulong j = (ulong)t * n + i;
        float ht = decay * v + x[x_off + j];
        float st = ht - vth >= 0.0f ? 1.0f : 0.0f;
#if RESET_SOFT
        v = ht - vth * st;
#else
        v = ht * (1.0f - st);
#endif
        s[s_off + j] = st;
        h[h_off + j] = ht;
        rec[rec_off + j] = (uchar)st;
    }
}

/* BPTT for t = T-1 … 0 with gh[T] = 0, u = h - V_th:
 *   gv = λ·gh[t+1];
 *   dv/dh = (1 - s) - h·g(u) (hard), (1 - s) (hard, detached),
 *           1 - V_th·g(u) (soft), 1 (soft, detached);
 *   gh[t] = gs[t]·g(u) + gv·dv/dh;  gx[t] = gh[t].
 * A gh below FLT_MIN in magnitude (subnormal) is flushed to 0: over long T the carried gradient
 * decays by λ per step into subnormals, which are numerically nothing (< 1.2e-38 against
 * gradients of order 1e-3) but make every later GEMM that reads them several times slower on
 * CPUs (5.4× for the Open Neuromorphic layer at n = 2048, T = 500: results/bench/NOTES.md).
 * gx may be the same buffer region as gs (each element is read before it is written). */
__kernel void lif_bwd(__global float *gx, ulong gx_off,         /* [T·B, ...] grad of input */
                      __global const float *h, ulong h_off,     /* [T·B, ...] from lif_fwd */
                      __global const uchar *rec, ulong rec_off, /* [T·B·N] spikes from lif_fwd */
                      __global const float *gs, ulong gs_off,   /* [T·B, ...] grad of spikes */
                      ulong n, uint T, float decay, float vth, float alpha)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float gh = 0.0f;
#if LIF_T > 0
#pragma unroll
#endif
    for (uint t = LIF_STEPS; t-- > 0;) {
        ulong j = (ulong)t * n + i;
        float ht = h[h_off + j];
        float g = lif_surrogate(ht - vth, alpha);
#if RESET_SOFT && DETACH_RESET
        float dvdh = 1.0f;
#elif RESET_SOFT
        float dvdh = 1.0f - vth * g;
#elif DETACH_RESET
        float dvdh = 1.0f - (float)rec[rec_off + j];
#else
        float dvdh = (1.0f - (float)rec[rec_off + j]) - ht * g;
#endif
        gh = gs[gs_off + j] * g + (decay * gh) * dvdh;
        if (fabs(gh) < FLT_MIN)
            gh = 0.0f;
        gx[gx_off + j] = gh;
    }
}
