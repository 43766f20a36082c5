/* conv_host.c — convolution on the host provider: per sample cols[K, P] = im2col(x[n]) in a
 * thread's buffer (none for 1x1 stride-1 unpadded convs, whose input already is [K, P]), then
 *   forward        y[n][Cout, P]  = W[Cout, K] · cols (+ bias)
 *   weight grad    dW_t[Cout, K] += gy[n][Cout, P] · cols^T   (per thread, summed in thread order)
 *   data grad      gcols[K, P]    = W^T · gy[n],  gx[n] = col2im(gcols)
 * except that stride-1 backwards take both gradients from one im2col of gy (backward_as_conv_part).
 * Samples are split over the threads in fixed contiguous ranges and every sum runs in a fixed
 * order, so results are the same run after run for a given thread count. Channel-blocked
 * activations (runtime/tensor.h) are read by im2col and written by col2im where they lie, and
 * otherwise gathered into plain samples before the GEMMs and scattered back after them, per
 * sample in the thread's buffers: the GEMMs see the plain operands, so the results are the
 * plain layout's bit for bit. */
#include "ops/conv_host.h"
#include "ops/ops_state.h"

#include <stdlib.h>
#include <string.h>

#include "ops/blas_host.h"
#include "ops/gemm_tuning.h"
#include "ops/host.h"
#include "ops/layout.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static int direct_cols(const sakd_conv_host_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* The output columns [lo, hi) of a row whose input column ox·sw + off lies inside [0, w). */
static void valid_cols(long off, size_t sw, size_t w, size_t wo, size_t *lo, size_t *hi)
{
    long first = off >= 0 ? 0 : (-off + (long)sw - 1) / (long)sw;
    long last = (long)w - 1 - off < 0 ? -1 : ((long)w - 1 - off) / (long)sw; /* inclusive */
    if (last >= (long)wo)
        last = (long)wo - 1;
    *lo = (size_t)(first < (long)wo ? first : (long)wo);
    *hi = last + 1 > (long)*lo ? (size_t)(last + 1) : *lo;
}

/* Channel ci's H x W plane of one sample in layout l (0, 8, 16): its first value and the
 * distance between neighbouring values of the plane (1 plain, the block size blocked). */
static size_t plane_at(int l, size_t ci, size_t hw, size_t *step)
{
    size_t b = l ? (size_t)l : 1;
    *step = b;
    return (ci / b) * hw * b + ci % b;
}

/* cols[K, P] of one sample x[Cin, H, W] in layout l; row (ci, i, j), column oy·Wo + ox. A
 * blocked sample is read where it lies: the columns are the plain layout's, copied value for
 * value. */
static void im2col(float *cols, const float *x, int l, const sakd_conv_host_geom *g)
{
    size_t P = g->ho * g->wo, hw = g->h * g->w, e;
    for (size_t ci = 0; ci < g->cin; ci++)
        for (size_t i = 0; i < g->kh; i++)
            for (size_t j = 0; j < g->kw; j++) {
                float *row = cols + ((ci * g->kh + i) * g->kw + j) * P;
                const float *xc = x + plane_at(l, ci, hw, &e);
                for (size_t oy = 0; oy < g->ho; oy++) {
                    float *dst = row + oy * g->wo;
                    long iy = (long)(oy * g->sh + i) - (long)g->ph;
                    if (iy < 0 || iy >= (long)g->h) {
                        memset(dst, 0, g->wo * sizeof *dst);
                        continue;
                    }
                    const float *src = xc + (size_t)iy * g->w * e;
                    long off = (long)j - (long)g->pw;
                    size_t lo, hi;
                    valid_cols(off, g->sw, g->w, g->wo, &lo, &hi);
                    memset(dst, 0, lo * sizeof *dst);
                    if (g->sw == 1 && e == 1)
                        memcpy(dst + lo, src + (long)lo + off, (hi - lo) * sizeof *dst);
                    else
                        for (size_t ox = lo; ox < hi; ox++)
                            dst[ox] = src[((long)(ox * g->sw) + off) * (long)e];
                    memset(dst + hi, 0, (g->wo - hi) * sizeof *dst);
                }
            }
}

/* gx[Cin, H, W] (layout l) = col2im(gcols[K, P]): each input element the sum of the columns
 * that read it, added in row order (ci, i, j) then column order — for each element the same
 * additions in the same order in either layout. */
static void col2im(float *gx, const float *gcols, int l, const sakd_conv_host_geom *g)
{
    size_t P = g->ho * g->wo, hw = g->h * g->w, e;
    memset(gx, 0, g->cin * hw * sizeof *gx);
    for (size_t ci = 0; ci < g->cin; ci++)
        for (size_t i = 0; i < g->kh; i++)
            for (size_t j = 0; j < g->kw; j++) {
                const float *row = gcols + ((ci * g->kh + i) * g->kw + j) * P;
                float *xc = gx + plane_at(l, ci, hw, &e);
                for (size_t oy = 0; oy < g->ho; oy++) {
                    long iy = (long)(oy * g->sh + i) - (long)g->ph;
                    if (iy < 0 || iy >= (long)g->h)
                        continue;
                    float *dst = xc + (size_t)iy * g->w * e;
                    const float *src = row + oy * g->wo;
                    long off = (long)j - (long)g->pw;
                    size_t lo, hi;
                    valid_cols(off, g->sw, g->w, g->wo, &lo, &hi);
                    if (g->sw == 1 && e == 1) {
                        float *d = dst + (long)lo + off;
                        const float *sr = src + lo;
                        for (size_t q = 0; q < hi - lo; q++)
                            d[q] += sr[q];
                    } else {
                        for (size_t ox = lo; ox < hi; ox++)
                            dst[((long)(ox * g->sw) + off) * (long)e] += src[ox];
                    }
                }
            }
}

typedef struct conv_job {
    const sakd_conv_host_geom *g;
    const sakd_host_blas *blas;
    int nt;
    const float *x, *w, *bias, *gy;
    float *y, *gx, *gw_parts, *gb_parts;
    float *scratch; /* [nt][scratch_floats] */
    size_t scratch_floats;
    int want_gx, want_gw;
    /* Stride-1 backward through the columns of gy (see backward_as_conv_part): gy's geometry
     * as a convolution producing H x W, and the flipped weight Wt [Cin, Cout·kh·kw]. */
    int as_conv;
    sakd_conv_host_geom tg;
    float *wt;
    double gemm_s, other_s; /* part 0's split of its time */
    /* layouts of x, y (forward) or gy, and gx; with per-thread plain samples of each blocked
     * one (xs, ys, gxs) in lscratch, lscratch_floats a thread */
    int lx, ly, lgx;
    float *lscratch;
    size_t lscratch_floats;
} conv_job;

/* Thread t's plain samples: x (or its gather), y or gy, gx. */
static float *xs_of(const conv_job *j, int t)
{
    return j->lscratch + (size_t)t * j->lscratch_floats;
}

static float *ys_of(const conv_job *j, int t)
{
    return xs_of(j, t) + j->g->cin * j->g->h * j->g->w;
}

static float *gxs_of(const conv_job *j, int t)
{
    return ys_of(j, t) + j->g->cout * j->g->ho * j->g->wo;
}

/* The per-thread plain samples when any activation is blocked. */
static sakd_status layout_scratch(conv_job *j, const char *op)
{
    if (!j->lx && !j->ly && !j->lgx)
        return SAKD_OK;
    const sakd_conv_host_geom *g = j->g;
    j->lscratch_floats = 2 * g->cin * g->h * g->w + g->cout * g->ho * g->wo;
    j->lscratch = malloc((size_t)j->nt * j->lscratch_floats * sizeof(float));
    if (!j->lscratch)
        return sakd_error(SAKD_ERR_NOMEM, "%s (host): no memory for %d x %zu plain-sample floats",
                          op, j->nt, j->lscratch_floats);
    return SAKD_OK;
}

/* A sample of c·p values in layout l as plain [c, p]: its own values, or gathered into buf. */
static const float *plain_sample(const float *v, int l, size_t c, size_t p, float *buf)
{
    if (!l)
        return v;
    sakd_layout_sample_to_plain(buf, v, l, c, p);
    return buf;
}

/* Sample n of x (the forward's input) as plain [Cin, H·W]. */
static const float *x_sample(const conv_job *j, int t, size_t n)
{
    const sakd_conv_host_geom *g = j->g;
    size_t hw = g->h * g->w;
    return plain_sample(j->x + n * g->cin * hw, j->lx, g->cin, hw, xs_of(j, t));
}

/* Sample n of gy as plain [Cout, P]. */
static const float *gy_sample(const conv_job *j, int t, size_t n)
{
    const sakd_conv_host_geom *g = j->g;
    size_t P = g->ho * g->wo;
    return plain_sample(j->gy + n * g->cout * P, j->ly, g->cout, P, ys_of(j, t));
}

static void forward_part(void *arg, int t)
{
    conv_job *j = arg;
    const sakd_conv_host_geom *g = j->g;
    size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo, lo, hi;
    sakd_host_range(g->n, t, j->nt, &lo, &hi);
    float *cols = j->scratch + (size_t)t * j->scratch_floats;
    double gemm = 0, other = 0;
    for (size_t n = lo; n < hi; n++) {
        double t0 = sakd_time_now();
        const float *c = cols;
        if (direct_cols(g))
            c = x_sample(j, t, n);
        else
            im2col(cols, j->x + n * g->cin * g->h * g->w, j->lx, g);
        float *y = j->ly ? ys_of(j, t) : j->y + n * g->cout * P;
        if (j->bias)
            for (size_t co = 0; co < g->cout; co++)
                for (size_t p = 0; p < P; p++)
                    y[co * P + p] = j->bias[co];
        double t1 = sakd_time_now();
        j->blas->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, (int)g->cout, (int)P,
                       (int)K, 1.0f, j->w, (int)K, c, (int)P, j->bias ? 1.0f : 0.0f, y, (int)P);
        double t2 = sakd_time_now();
        if (j->ly)
            sakd_layout_sample_from_plain(j->y + n * g->cout * P, y, j->ly, g->cout, P);
        other += t1 - t0 + sakd_time_now() - t2;
        gemm += t2 - t1;
    }
    if (t == 0) {
        j->gemm_s = gemm;
        j->other_s = other;
    }
}

/* Part t's bias gradient: Σ over its samples lo … hi − 1 and all positions of gy, per channel. */
static void bias_part(const conv_job *j, int t, size_t lo, size_t hi)
{
    const sakd_conv_host_geom *g = j->g;
    size_t P = g->ho * g->wo;
    float *gb = j->gb_parts + (size_t)t * g->cout;
    size_t b = j->ly ? (size_t)j->ly : 1; /* gy's layout: its values at stride b */
    for (size_t co = 0; co < g->cout; co++) {
        double s = 0.0;
        for (size_t n = lo; n < hi; n++) {
            const float *r = j->ly ? j->gy + ((n * (g->cout / b) + co / b) * P) * b + co % b
                                   : j->gy + (n * g->cout + co) * P;
            for (size_t p = 0; p < P; p++)
                s += r[p * b];
        }
        gb[co] = (float)s;
    }
}

static void backward_part(void *arg, int t)
{
    conv_job *j = arg;
    const sakd_conv_host_geom *g = j->g;
    size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo, lo, hi;
    sakd_host_range(g->n, t, j->nt, &lo, &hi);
    float *cols = j->scratch + (size_t)t * j->scratch_floats;
    float *gw = j->gw_parts + (size_t)t * g->cout * K;
    double gemm = 0, other = 0;
    if (j->gb_parts)
        bias_part(j, t, lo, hi);
    if (lo == hi)
        memset(gw, 0, g->cout * K * sizeof *gw);
    for (size_t n = lo; n < hi; n++) {
        double t0 = sakd_time_now();
        const float *gy = gy_sample(j, t, n);
        const float *c = cols;
        if (j->want_gw && direct_cols(g))
            c = x_sample(j, t, n);
        else if (j->want_gw)
            im2col(cols, j->x + n * g->cin * g->h * g->w, j->lx, g);
        double t1 = sakd_time_now();
        if (j->want_gw)
            j->blas->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, (int)g->cout, (int)K,
                           (int)P, 1.0f, gy, (int)P, c, (int)P, n == lo ? 0.0f : 1.0f, gw, (int)K);
        double t2 = sakd_time_now();
        other += t1 - t0;
        gemm += t2 - t1;
        if (!j->want_gx)
            continue;
        float *gx = j->gx + n * g->cin * g->h * g->w;
        float *gcols = cols;
        if (direct_cols(g))
            gcols = j->lgx ? gxs_of(j, t) : gx;
        j->blas->sgemm(CBLAS_ROW_MAJOR, CBLAS_TRANS, CBLAS_NO_TRANS, (int)K, (int)P, (int)g->cout,
                       1.0f, j->w, (int)K, gy, (int)P, 0.0f, gcols, (int)P);
        double t3 = sakd_time_now();
        if (!direct_cols(g))
            col2im(gx, gcols, j->lgx, g);
        else if (j->lgx)
            sakd_layout_sample_from_plain(gx, gcols, j->lgx, g->cin, g->h * g->w);
        gemm += t3 - t2;
        other += sakd_time_now() - t3;
    }
    if (t == 0) {
        j->gemm_s = gemm;
        j->other_s = other;
    }
}

/* The backward of a stride-1 convolution from one im2col per sample, of gy instead of x:
 * gyc[Cout·kh·kw, H·W] = im2col of gy with padding kh − 1 − ph, kw − 1 − pw, then
 *   dWf_t[Cin, (co, i, j)] += x[n][Cin, H·W] · gyc^T   (dW[co, ci, i, j] = Σ_t dWf_t[ci, (co,
 *                                                       kh − 1 − i, kw − 1 − j)], summed later)
 *   gx[n][Cin, H·W]        = Wt · gyc,  Wt[ci, (co, i, j)] = W[co, ci, kh − 1 − i, kw − 1 − j]
 * in place of an im2col of x and a col2im (scattered additions). */
static void backward_as_conv_part(void *arg, int t)
{
    conv_job *j = arg;
    const sakd_conv_host_geom *g = j->g;
    size_t kt = g->cout * g->kh * g->kw, hw = g->h * g->w, lo, hi;
    sakd_host_range(g->n, t, j->nt, &lo, &hi);
    float *gyc = j->scratch + (size_t)t * j->scratch_floats;
    float *gw = j->gw_parts + (size_t)t * g->cin * kt;
    double gemm = 0, other = 0;
    if (j->gb_parts)
        bias_part(j, t, lo, hi);
    if (lo == hi)
        memset(gw, 0, g->cin * kt * sizeof *gw);
    for (size_t n = lo; n < hi; n++) {
        double t0 = sakd_time_now();
        im2col(gyc, j->gy + n * g->cout * g->ho * g->wo, j->ly, &j->tg);
        const float *x = x_sample(j, t, n);
        double t1 = sakd_time_now();
        j->blas->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, (int)g->cin, (int)kt, (int)hw,
                       1.0f, x, (int)hw, gyc, (int)hw, n == lo ? 0.0f : 1.0f, gw, (int)kt);
        float *gx = j->lgx ? gxs_of(j, t) : j->gx + n * g->cin * hw;
        if (j->want_gx)
            j->blas->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, (int)g->cin, (int)hw,
                           (int)kt, 1.0f, j->wt, (int)kt, gyc, (int)hw, 0.0f, gx, (int)hw);
        double t2 = sakd_time_now();
        if (j->want_gx && j->lgx)
            sakd_layout_sample_from_plain(j->gx + n * g->cin * hw, gx, j->lgx, g->cin, hw);
        other += t1 - t0 + sakd_time_now() - t2;
        gemm += t2 - t1;
    }
    if (t == 0) {
        j->gemm_s = gemm;
        j->other_s = other;
    }
}

/* Adds the host time of one convolution to the profile: the wall time split between "gemm" and
 * `other` in the proportion thread 0 measured (every thread does the same mix of work). */
static void profile(sakd_ctx *ctx, const conv_job *j, double wall_s, const char *other)
{
    double sum = j->gemm_s + j->other_s;
    double f = sum > 0 ? j->gemm_s / sum : 1.0;
    sakd_profile_add(ctx, "gemm", wall_s * f * 1e3);
    sakd_profile_add(ctx, other, wall_s * (1.0 - f) * 1e3);
}

void sakd_conv_host_record(sakd_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k,
                           size_t batch)
{
    const sakd_ops_state *os = sakd_ops_state_peek(ctx);
    if (!os || !os->gemm_log)
        return;
    sakd_gemm_shape s = {ta, tb, m, n, k, ta ? m : k, tb ? k : n, n, batch, 0, 0, 0, 1};
    sakd_gemm_log_add(os->gemm_log, &s);
}

static int threads_for(const sakd_host_blas *blas, size_t n)
{
    return (size_t)blas->threads < n ? blas->threads : (int)(n ? n : 1);
}

sakd_status sakd_conv2d_host_forward(sakd_tensor *out, const sakd_tensor *in,
                                     const sakd_tensor *weight, const sakd_tensor *bias,
                                     const sakd_conv_host_geom *g)
{
    sakd_ctx *ctx = in->ctx;
    const sakd_host_blas *blas;
    SAKD_TRY(sakd_host_blas_get(&blas, (int)ctx->info.compute_units));
    size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo;
    conv_job j = {
        .g = g, .blas = blas, .nt = threads_for(blas, g->n), .lx = in->layout, .ly = out->layout};
    SAKD_TRY(layout_scratch(&j, "conv2d_forward"));
    j.scratch_floats = direct_cols(g) ? 0 : K * P;
    if (j.scratch_floats) {
        j.scratch = malloc((size_t)j.nt * j.scratch_floats * sizeof(float));
        if (!j.scratch) {
            free(j.lscratch);
            return sakd_error(SAKD_ERR_NOMEM,
                              "conv2d_forward (host): no memory for %d x %zu "
                              "column floats",
                              j.nt, j.scratch_floats);
        }
    }
    sakd_host_maps maps = {0};
    float *x, *w, *y, *b;
    sakd_status st = sakd_host_map_tensor(ctx, &maps, in, &x, SAKD_OK);
    st = sakd_host_map_tensor(ctx, &maps, weight, &w, st);
    st = sakd_host_map_tensor(ctx, &maps, out, &y, st);
    st = sakd_host_map_tensor(ctx, &maps, bias, &b, st);
    if (st == SAKD_OK) {
        j.x = x;
        j.w = w;
        j.y = y;
        j.bias = b;
        sakd_conv_host_record(ctx, 0, 0, g->cout, P, K, g->n);
        double t0 = sakd_time_now();
        sakd_host_parallel(j.nt, forward_part, &j);
        profile(ctx, &j, sakd_time_now() - t0, "conv2d_im2col (host)");
    }
    free(j.scratch);
    free(j.lscratch);
    return sakd_host_unmap(ctx, &maps, st);
}

/* The backward job of g (threads, the way it takes, its scratch: each thread's columns and
 * partial gradients, and the flipped weight), grad x only when want_gx, grad b only with
 * has_bias. */
static sakd_status backward_job(const sakd_conv_host_geom *g, const sakd_host_blas *blas,
                                int want_gx, int want_gw, int has_bias, conv_job *j)
{
    size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo;
    *j = (conv_job){.g = g,
                    .blas = blas,
                    .nt = threads_for(blas, g->n),
                    .want_gx = want_gx,
                    .want_gw = want_gw};
    j->as_conv =
        want_gw && g->sh == 1 && g->sw == 1 && g->ph < g->kh && g->pw < g->kw && !direct_cols(g);
    if (j->as_conv)
        j->tg = (sakd_conv_host_geom){g->n,
                                      g->cout,
                                      g->ho,
                                      g->wo,
                                      g->cin,
                                      g->kh,
                                      g->kw,
                                      1,
                                      1,
                                      g->kh - 1 - g->ph,
                                      g->kw - 1 - g->pw,
                                      g->h,
                                      g->w};
    j->scratch_floats =
        j->as_conv ? g->cout * g->kh * g->kw * g->h * g->w : (direct_cols(g) ? 0 : K * P);
    size_t nt = (size_t)j->nt, wn = g->cout * K;
    j->scratch = malloc((nt * j->scratch_floats + nt * wn + nt * g->cout + (j->as_conv ? wn : 0)) *
                        sizeof(float));
    if (!j->scratch)
        return sakd_error(SAKD_ERR_NOMEM,
                          "conv2d_backward (host): no memory for %d threads' "
                          "columns and partial gradients",
                          j->nt);
    j->gw_parts = j->scratch + nt * j->scratch_floats;
    j->gb_parts = has_bias ? j->gw_parts + nt * wn : NULL;
    j->wt = j->gw_parts + nt * wn + nt * g->cout;
    return SAKD_OK;
}

/* Records the GEMMs of j's backward pass (grad x's only when it is wanted). */
static void record_backward(sakd_ctx *ctx, const conv_job *j)
{
    const sakd_conv_host_geom *g = j->g;
    size_t K = g->cin * g->kh * g->kw, P = g->ho * g->wo;
    if (j->as_conv) {
        sakd_conv_host_record(ctx, 0, 1, g->cin, g->cout * g->kh * g->kw, g->h * g->w, g->n);
        if (j->gx)
            sakd_conv_host_record(ctx, 0, 0, g->cin, g->h * g->w, g->cout * g->kh * g->kw, g->n);
    } else {
        sakd_conv_host_record(ctx, 0, 1, g->cout, K, P, g->n);
        if (j->gx)
            sakd_conv_host_record(ctx, 1, 0, K, P, g->cout, g->n);
    }
}

/* out[0..n) = Σ_t parts[t·n … (t + 1)·n), added in thread order. */
static void sum_parts(float *out, const float *parts, size_t nt, size_t n)
{
    memcpy(out, parts, n * sizeof *out);
    for (size_t t = 1; t < nt; t++)
        for (size_t i = 0; i < n; i++)
            out[i] += parts[t * n + i];
}

/* The stride-1 backward through the columns of gy: Wt[ci, (co, i, j)] = W[co, ci, flipped],
 * the threads' parts, then dW[co, ci, q] = Σ_t dWf_t[ci, (co, flipped q)], added in thread
 * order. */
static void backward_as_conv_run(conv_job *j, float *gw)
{
    const sakd_conv_host_geom *g = j->g;
    size_t nt = (size_t)j->nt, wn = g->cout * g->cin * g->kh * g->kw;
    size_t kk = g->kh * g->kw, kt = g->cout * kk;
    for (size_t co = 0; co < g->cout; co++)
        for (size_t ci = 0; ci < g->cin; ci++)
            for (size_t q = 0; q < kk; q++)
                j->wt[ci * kt + co * kk + q] = j->w[(co * g->cin + ci) * kk + (kk - 1 - q)];
    sakd_host_parallel(j->nt, backward_as_conv_part, j);
    for (size_t co = 0; co < g->cout; co++)
        for (size_t ci = 0; ci < g->cin; ci++)
            for (size_t q = 0; q < kk; q++) {
                size_t src = ci * kt + co * kk + (kk - 1 - q);
                float acc = j->gw_parts[src];
                for (size_t t = 1; t < nt; t++)
                    acc += j->gw_parts[t * wn + src];
                gw[(co * g->cin + ci) * kk + q] = acc;
            }
}

sakd_status sakd_conv2d_host_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                      sakd_tensor *grad_bias, const sakd_tensor *grad_out,
                                      const sakd_tensor *in, const sakd_tensor *weight,
                                      const sakd_conv_host_geom *g)
{
    sakd_ctx *ctx = in->ctx;
    const sakd_host_blas *blas;
    SAKD_TRY(sakd_host_blas_get(&blas, (int)ctx->info.compute_units));
    conv_job j;
    SAKD_TRY(backward_job(g, blas, grad_in != NULL, grad_weight != NULL, grad_bias != NULL, &j));
    j.lx = in->layout;
    j.ly = grad_out->layout;
    j.lgx = grad_in ? grad_in->layout : 0;
    sakd_status lst = layout_scratch(&j, "conv2d_backward");
    if (lst != SAKD_OK) {
        free(j.scratch);
        return lst;
    }
    size_t nt = (size_t)j.nt, wn = g->cout * g->cin * g->kh * g->kw;
    sakd_host_maps maps = {0};
    float *x, *w, *gy, *gw, *gx, *gb;
    sakd_status st = sakd_host_map_tensor(ctx, &maps, in, &x, SAKD_OK);
    st = sakd_host_map_tensor(ctx, &maps, weight, &w, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_out, &gy, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_weight, &gw, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_in, &gx, st);
    st = sakd_host_map_tensor(ctx, &maps, grad_bias, &gb, st);
    if (st == SAKD_OK) {
        j.x = x;
        j.w = w;
        j.gy = gy;
        j.gx = gx;
        record_backward(ctx, &j);
        double t0 = sakd_time_now();
        if (j.as_conv) {
            backward_as_conv_run(&j, gw);
        } else {
            sakd_host_parallel(j.nt, backward_part, &j);
            if (gw)
                sum_parts(gw, j.gw_parts, nt, wn); /* the threads' partial sums */
        }
        if (gb)
            sum_parts(gb, j.gb_parts, nt, g->cout);
        profile(ctx, &j, sakd_time_now() - t0, "conv2d_im2col_bwd (host)");
    }
    free(j.scratch);
    free(j.lscratch);
    return sakd_host_unmap(ctx, &maps, st);
}
