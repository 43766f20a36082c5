/* test_lif.c — multi-step LIF forward and BPTT backward against a double-precision CPU reference
 * (all surrogates × hard/soft reset × detach), hand-built sequences checked analytically, the
 * reference backward against finite differences of a smoothed model, determinism and bad
 * shapes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Forward: each step rounds λ·v, + x and the soft reset's subtraction (≤ 3 half-ulps of the
 * terms' magnitudes), and earlier errors are damped by λ ≤ 1; 4 ulps per step of
 * |x| + |λ·v| + V_th, carried through the recursion, bound |h_device - h_reference|. Where the
 * reference's |h - V_th| is within that bound the spike is a float tie and the device's choice
 * is taken (and followed) by the reference. */
#define LIF_FWD_ULPS 4.0
/* Backward: per step ≤ 5 roundings plus the surrogate's exp/atan (a few ulps, and α·|u| ulps
 * from rounding their argument; α·|u| ≤ 16 here), compounded over T ≤ 6 steps: 256 ulps of the
 * magnitude sum M[t] = |gs·g| + λ·|dv/dh|·M[t+1] (|dv/dh| taken term by term). */
#define LIF_BWD_RTOL (256.0 * FLT_EPSILON)
/* Hand-built sequences: dyadic values, exact or within a couple of roundings. */
#define LIF_HAND_RTOL (4.0 * FLT_EPSILON)
/* Finite differences of the smoothed model in double: step 1e-6 gives O(δ²) error where S is
 * smooth and O(δ) next to the triangle's kinks (S'' jumps by ≤ 2): 1e-5 of the magnitude. */
#define LIF_FD_STEP 1e-6
#define LIF_FD_RTOL 1e-5

#define PI_D 3.14159265358979323846

typedef struct ref_params {
    double decay, vth, alpha;
    int soft, detach, surrogate;
} ref_params;

static ref_params ref_of(const sakd_lif_params *p)
{
    return (ref_params){p->decay,        p->threshold,
                        p->alpha,        p->reset == SAKD_LIF_RESET_SOFT,
                        p->detach_reset, (int)p->surrogate};
}

/* g(u) of DESIGN.md §2.1. */
static double ref_surrogate(const ref_params *p, double u)
{
    switch (p->surrogate) {
    case 1: return fmax(0.0, 1.0 - fabs(u));
    case 2: {
        double sg = 1.0 / (1.0 + exp(-p->alpha * u));
        return p->alpha * sg * (1.0 - sg);
    }
    default: {
        double a = PI_D / 2 * p->alpha * u;
        return p->alpha / (2.0 * (1.0 + a * a));
    }
    }
}

/* A smooth spike function S with S' = g: the primitive of the surrogate. */
static double ref_smooth_spike(const ref_params *p, double u)
{
    switch (p->surrogate) {
    case 1:
        if (u <= -1)
            return 0.0;
        if (u <= 0)
            return 0.5 * (1 + u) * (1 + u);
        if (u < 1)
            return 1.0 - 0.5 * (1 - u) * (1 - u);
        return 1.0;
    case 2: return 1.0 / (1.0 + exp(-p->alpha * u));
    default: return atan(PI_D / 2 * p->alpha * u) / PI_D + 0.5;
    }
}

/* Forward over T steps of n neurons (element (t, i) at t·n + i). smooth: s = S(u) instead of the
 * step. tie_hint (may be NULL): device spikes used where |u| ≤ the rounding bound (tol_h). */
static void ref_forward(const ref_params *p, int smooth, const double *x, size_t T, size_t n,
                        double *h, double *s, double *tol_h, const uint8_t *tie_hint)
{
    for (size_t i = 0; i < n; i++) {
        double v = 0, tol = 0;
        for (size_t t = 0; t < T; t++) {
            size_t j = t * n + i;
            double lv = p->decay * v;
            h[j] = lv + x[j];
            tol = fabs(p->decay) * tol +
                  LIF_FWD_ULPS * FLT_EPSILON * (fabs(x[j]) + fabs(lv) + fabs(p->vth));
            double u = h[j] - p->vth;
            if (smooth)
                s[j] = ref_smooth_spike(p, u);
            else if (tie_hint && fabs(u) <= tol)
                s[j] = tie_hint[j];
            else
                s[j] = u >= 0 ? 1.0 : 0.0;
            if (tol_h)
                tol_h[j] = tol;
            v = p->soft ? h[j] - p->vth * s[j] : h[j] * (1 - s[j]);
        }
    }
}

/* BPTT of DESIGN.md §2.1 given h, u = h - V_th (passed separately so that the device's float
 * rounding of u can be reproduced) and s; mag receives M[t] (see LIF_BWD_RTOL) if non-NULL. */
static void ref_backward(const ref_params *p, const double *h, const double *u, const double *s,
                         const double *gs, size_t T, size_t n, double *gx, double *mag)
{
    for (size_t i = 0; i < n; i++) {
        double gh = 0, m = 0;
        for (size_t t = T; t-- > 0;) {
            size_t j = t * n + i;
            double g = ref_surrogate(p, u[j]), dvdh, dmag;
            if (p->soft) {
                dvdh = p->detach ? 1.0 : 1.0 - p->vth * g;
                dmag = p->detach ? 1.0 : 1.0 + fabs(p->vth * g);
            } else {
                dvdh = p->detach ? 1.0 - s[j] : (1.0 - s[j]) - h[j] * g;
                dmag = p->detach ? fabs(1.0 - s[j]) : fabs(1.0 - s[j]) + fabs(h[j] * g);
            }
            gh = gs[j] * g + p->decay * gh * dvdh;
            m = fabs(gs[j] * g) + fabs(p->decay) * m * dmag;
            gx[j] = gh;
            if (mag)
                mag[j] = m;
        }
    }
}

/* Shapes [T·B, C, H, W] of the random tests: T = 1, B = 1, C = 1 and odd sizes. */
static const size_t lif_shapes[][5] = {
    {1, 3, 5, 3, 3}, {4, 1, 7, 5, 5}, {6, 2, 3, 7, 5}, {2, 5, 1, 1, 1}, {3, 2, 17, 4, 3}};
#define N_LIF_SHAPES (sizeof lif_shapes / sizeof lif_shapes[0])

/* Runs forward (and backward when gs is non-NULL) on the device; outputs are poisoned with NaN
 * before each kernel. Host arrays have T·B·N elements. */
typedef struct lif_run {
    float *s, *h, *gx;
    uint8_t *rec;
} lif_run;

static void lif_device(const sakd_lif_params *p, size_t T, const size_t *shape, const float *x,
                       const float *gs, lif_run *out)
{
    sakd_ctx *ctx = test_ctx();
    sakd_tensor tx, ts, tg, tgx;
    sakd_lif_cache cache;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, shape));
    TEST_OK(sakd_tensor_new(&ts, ctx, "s", 4, shape));
    TEST_OK(sakd_lif_cache_new(&cache, ctx, "lif", 4, shape));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_fill(&ts, NAN));
    TEST_OK(sakd_tensor_fill(&cache.h, NAN));
    TEST_OK(sakd_lif_forward(&ts, &cache, &tx, T, p));
    TEST_OK(sakd_tensor_download(&ts, out->s));
    TEST_OK(sakd_tensor_download(&cache.h, out->h));
    TEST_OK(sakd_lif_cache_download_spikes(&cache, out->rec));
    if (gs) {
        TEST_OK(sakd_tensor_new(&tg, ctx, "gs", 4, shape));
        TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, shape));
        TEST_OK(sakd_tensor_upload(&tg, gs));
        TEST_OK(sakd_tensor_fill(&tgx, NAN));
        TEST_OK(sakd_lif_backward(&tgx, &cache, &tg, T, p));
        TEST_OK(sakd_tensor_download(&tgx, out->gx));
        sakd_tensor_free(&tg);
        sakd_tensor_free(&tgx);
    }
    sakd_lif_cache_free(&cache);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ts);
}

static size_t shape_numel(const size_t *s)
{
    return s[1] * s[2] * s[3] * s[4] * s[0]; /* T·B·C·H·W */
}

/* Random parameters for combination `combo` (bits: surrogate index, soft, detach). */
static sakd_lif_params random_params(test_rng *r, int surrogate, int soft, int detach)
{
    sakd_lif_params p = sakd_lif_params_default();
    p.surrogate = (sakd_surrogate)surrogate;
    p.alpha = sakd_surrogate_default_alpha(p.surrogate) * (float)test_rand_uniform(r, 0.5, 1.0);
    p.reset = soft ? SAKD_LIF_RESET_SOFT : SAKD_LIF_RESET_HARD;
    p.detach_reset = detach;
    p.decay = (float)test_rand_uniform(r, 0.2, 1.0);
    p.threshold = (float)test_rand_uniform(r, 0.5, 1.5);
    return p;
}

START_TEST(test_lif_forward)
{
    test_rng r = test_rng_new(3000 + (uint64_t)_i);
    const size_t *sh = lif_shapes[_i % N_LIF_SHAPES];
    size_t T = sh[0], shape[4] = {sh[0] * sh[1], sh[2], sh[3], sh[4]};
    size_t total = shape_numel(sh), n = total / T;
    sakd_lif_params p = random_params(&r, 1, _i & 1, 0);
    ref_params rp = ref_of(&p);
    float *x = malloc(total * sizeof *x);
    double *xd = calloc(total, sizeof *xd), *h = malloc(total * sizeof *h),
           *s = malloc(total * sizeof *s), *tol = malloc(total * sizeof *tol);
    lif_run out = {malloc(total * sizeof(float)), malloc(total * sizeof(float)), NULL,
                   malloc(total)};
    test_fill_uniform(&r, x, total, -1.0, 2.0);
    for (size_t j = 0; j < total; j++)
        xd[j] = x[j];
    lif_device(&p, T, shape, x, NULL, &out);
    ref_forward(&rp, 0, xd, T, n, h, s, tol, out.rec);
    size_t fired = 0;
    for (size_t j = 0; j < total; j++) {
        ck_assert_msg(out.s[j] == s[j], "T %zu soft %d: s[%zu] = %g, reference %g (seed %llu)", T,
                      rp.soft, j, out.s[j], s[j], (unsigned long long)test_seed());
        ck_assert_msg(out.rec[j] == (uint8_t)s[j], "spike record [%zu] = %u, s = %g", j, out.rec[j],
                      s[j]);
        ck_assert_msg(fabs(out.h[j] - h[j]) <= tol[j],
                      "T %zu: h[%zu] = %.9g, reference %.9g, tolerance %.3g (seed %llu)", T, j,
                      out.h[j], h[j], tol[j], (unsigned long long)test_seed());
        fired += s[j] != 0;
    }
    if (total >= 100)
        ck_assert_msg(fired > 0 && fired < total, "inputs should make some neurons fire, not all");
    free(x);
    free(xd);
    free(h);
    free(s);
    free(tol);
    free(out.s);
    free(out.h);
    free(out.rec);
}
END_TEST

/* _i = combination: surrogate 1..3 × soft × detach. */
/* Frees the host buffers of a backward test case. */
static void free_backward_case(float *x, float *gs, double *hd, double *ud, double *sd, double *gsd,
                               double *gx, double *mag, lif_run *out)
{
    free(x);
    free(gs);
    free(hd);
    free(ud);
    free(sd);
    free(gsd);
    free(gx);
    free(mag);
    free(out->s);
    free(out->h);
    free(out->gx);
    free(out->rec);
}

START_TEST(test_lif_backward)
{
    int surrogate = 1 + _i / 4, soft = (_i >> 1) & 1, detach = _i & 1;
    test_rng r = test_rng_new(3100 + (uint64_t)_i);
    const size_t *sh = lif_shapes[test_rand_size(&r, 0, N_LIF_SHAPES - 1)];
    size_t T = sh[0], shape[4] = {sh[0] * sh[1], sh[2], sh[3], sh[4]};
    size_t total = shape_numel(sh), n = total / T;
    sakd_lif_params p = random_params(&r, surrogate, soft, detach);
    ref_params rp = ref_of(&p);
    float *x = malloc(total * sizeof *x), *gs = malloc(total * sizeof *gs);
    /* calloc: gcc cannot see that the loops below fill them. */
    double *hd = calloc(total, sizeof *hd), *ud = calloc(total, sizeof *ud),
           *sd = calloc(total, sizeof *sd), *gsd = calloc(total, sizeof *gsd),
           *gx = malloc(total * sizeof *gx), *mag = malloc(total * sizeof *mag);
    lif_run out = {malloc(total * sizeof(float)), malloc(total * sizeof(float)),
                   malloc(total * sizeof(float)), malloc(total)};
    test_fill_uniform(&r, x, total, -1.0, 2.0);
    test_fill_uniform(&r, gs, total, -1.0, 1.0);
    lif_device(&p, T, shape, x, gs, &out);
    /* The backward's inputs are the device's cache: h, its float u = h - V_th, and the spikes. */
    for (size_t j = 0; j < total; j++) {
        hd[j] = out.h[j];
        ud[j] = (float)(out.h[j] - p.threshold);
        sd[j] = out.rec[j];
        gsd[j] = gs[j];
    }
    ref_backward(&rp, hd, ud, sd, gsd, T, n, gx, mag);
    for (size_t j = 0; j < total; j++)
        ck_assert_msg(fabs(out.gx[j] - gx[j]) <= LIF_BWD_RTOL * mag[j] + 1e-30,
                      "surrogate %d soft %d detach %d T %zu: gx[%zu] = %.9g, reference %.9g, "
                      "magnitude %.3g (seed %llu)",
                      surrogate, soft, detach, T, j, out.gx[j], gx[j], mag[j],
                      (unsigned long long)test_seed());
    free_backward_case(x, gs, hd, ud, sd, gsd, gx, mag, &out);
}
END_TEST

/* Spikes are a step function, so the true gradient is 0 almost everywhere and finite differences
 * of the spiking model say nothing about the surrogate. Instead the reference backward is
 * checked against finite differences of a smoothed model whose spike function is S with S' = g
 * (σ(αu) for sigmoid, atan(π/2·αu)/π + 1/2 for atan, the piecewise-quadratic primitive of the
 * triangle): with s = S(u) the §2.1 formulas are its exact gradient. With detach_reset they are
 * not a gradient of anything, so only detach off is checked here; detach on is covered by the
 * hand-built sequences. _i = surrogate index × soft. */
START_TEST(test_lif_reference_fd)
{
    int surrogate = 1 + _i / 2, soft = _i & 1;
    test_rng r = test_rng_new(3200 + (uint64_t)_i);
    size_t T = 5, n = 7, total = T * n;
    sakd_lif_params p = random_params(&r, surrogate, soft, 0);
    ref_params rp = ref_of(&p);
    double x[35], w[35], h[35], s[35], u[35], gx[35], mag[35], xp[35];
    for (size_t j = 0; j < total; j++) {
        x[j] = test_rand_uniform(&r, -1.0, 2.0);
        w[j] = test_rand_uniform(&r, -1.0, 1.0);
    }
    ref_forward(&rp, 1, x, T, n, h, s, NULL, NULL);
    for (size_t j = 0; j < total; j++)
        u[j] = h[j] - rp.vth;
    ref_backward(&rp, h, u, s, w, T, n, gx, mag); /* gs = w: L = Σ w·s */
    for (size_t j = 0; j < total; j++) {
        double lp = 0, lm = 0;
        memcpy(xp, x, sizeof xp);
        xp[j] = x[j] + LIF_FD_STEP;
        ref_forward(&rp, 1, xp, T, n, h, s, NULL, NULL);
        for (size_t k = 0; k < total; k++)
            lp += w[k] * s[k];
        xp[j] = x[j] - LIF_FD_STEP;
        ref_forward(&rp, 1, xp, T, n, h, s, NULL, NULL);
        for (size_t k = 0; k < total; k++)
            lm += w[k] * s[k];
        double fd = (lp - lm) / (2 * LIF_FD_STEP);
        ck_assert_msg(fabs(fd - gx[j]) <= LIF_FD_RTOL * (mag[j] + 1.0),
                      "surrogate %d soft %d: dL/dx[%zu] analytic %.9g, finite difference %.9g "
                      "(seed %llu)",
                      surrogate, soft, j, gx[j], fd, (unsigned long long)test_seed());
    }
}
END_TEST

/* Hand-built: λ = 1/2, V_th = 1, triangle, T = 4, three neurons, gs = 1 everywhere.
 * neuron 0 x = (3/2, 0, 1/4, 1): fires at t = 0 (and t = 3);
 * neuron 1 x = 1/4 each step: h = 1/4, 3/8, 7/16, 15/32, never fires;
 * neuron 2 x = (1/2, 3/4, -1, 1): h[1] = 1/4 + 3/4 = 1 exactly, h - V_th = 0 ⇒ spike.
 * Expected values worked out by hand with the §2.1 recursion (exact fractions). */
static const float hand_x[3][4] = {
    {1.5f, 0, 0.25f, 1}, {0.25f, 0.25f, 0.25f, 0.25f}, {0.5f, 0.75f, -1, 1}};
static const float hand_s[3][4] = {{1, 0, 0, 1}, {0, 0, 0, 0}, {0, 1, 0, 0}};
/* [soft][neuron][t] h before reset. Hard n0: 3/2, 0, 1/4, 9/8; soft n0: 3/2, 1/4, 3/8, 19/16. */
static const double hand_h[2][3][4] = {
    {{1.5, 0, 0.25, 9.0 / 8}, {0.25, 3.0 / 8, 7.0 / 16, 15.0 / 32}, {0.5, 1, -1, 0.5}},
    {{1.5, 0.25, 3.0 / 8, 19.0 / 16}, {0.25, 3.0 / 8, 7.0 / 16, 15.0 / 32}, {0.5, 1, -1, 0.5}}};
/* [soft][detach][neuron][t] gx. E.g. hard, neuron 2: g = 1/2, 1, 0, 1/2; dv/dh = 3/4, -1, 1;
 * gh3 = 1/2, gh2 = 0 + 1/2·1/2·1 = 1/4, gh1 = 1 + 1/2·1/4·(-1) = 7/8,
 * gh0 = 1/2 + 1/2·7/8·3/4 = 53/64. */
static const double hand_gx[2][2][3][4] = {
    {{{1541.0 / 4096, 169.0 / 512, 169.0 / 256, 7.0 / 8},
      {37048921.0 / 67108864, 1351447.0 / 2097152, 10273.0 / 16384, 15.0 / 32},
      {53.0 / 64, 7.0 / 8, 0.25, 0.5}},
     {{0.5, 11.0 / 32, 11.0 / 16, 7.0 / 8},
      {155.0 / 256, 91.0 / 128, 43.0 / 64, 15.0 / 32},
      {1, 1, 0.25, 0.5}}},
    {{{5091.0 / 8192, 995.0 / 2048, 161.0 / 256, 13.0 / 16},
      {59945.0 / 131072, 9059.0 / 16384, 583.0 / 1024, 15.0 / 32},
      {0.75, 1, 0.25, 0.5}},
     {{105.0 / 128, 41.0 / 64, 25.0 / 32, 13.0 / 16},
      {155.0 / 256, 91.0 / 128, 43.0 / 64, 15.0 / 32},
      {17.0 / 16, 9.0 / 8, 0.25, 0.5}}}};

/* _i: bit 1 soft, bit 0 detach. */
START_TEST(test_lif_hand)
{
    int soft = _i >> 1, detach = _i & 1;
    sakd_lif_params p = sakd_lif_params_default();
    p.reset = soft ? SAKD_LIF_RESET_SOFT : SAKD_LIF_RESET_HARD;
    p.detach_reset = detach;
    size_t T = 4, shape[4] = {4, 3, 1, 1};
    float x[12], gs[12], s[12], h[12], gx[12];
    uint8_t rec[12];
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 3; i++) {
            x[t * 3 + i] = hand_x[i][t];
            gs[t * 3 + i] = 1.0f;
        }
    lif_run out = {s, h, gx, rec};
    lif_device(&p, T, shape, x, gs, &out);
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 3; i++) {
            int j = t * 3 + i;
            ck_assert_msg(s[j] == hand_s[i][t] && rec[j] == (uint8_t)hand_s[i][t],
                          "soft %d: neuron %d t %d spike %g, expected %g", soft, i, t, s[j],
                          hand_s[i][t]);
            ck_assert_msg(h[j] == hand_h[soft][i][t],
                          "soft %d: neuron %d t %d h %.9g, "
                          "expected %.9g",
                          soft, i, t, h[j], hand_h[soft][i][t]);
            double e = hand_gx[soft][detach][i][t];
            ck_assert_msg(fabs(gx[j] - e) <= LIF_HAND_RTOL * fabs(e),
                          "soft %d detach %d: neuron %d t %d gx %.9g, expected %.9g", soft, detach,
                          i, t, gx[j], e);
        }
}
END_TEST

START_TEST(test_lif_determinism)
{
    test_rng r = test_rng_new(3300);
    size_t T = 4, shape[4] = {4 * 3, 5, 7, 3}, total = 4 * 3 * 5 * 7 * 3;
    sakd_lif_params p = random_params(&r, 2, 0, 0);
    float *x = malloc(total * sizeof *x), *gs = malloc(total * sizeof *gs);
    lif_run a = {malloc(total * 4), malloc(total * 4), malloc(total * 4), malloc(total)};
    lif_run b = {malloc(total * 4), malloc(total * 4), malloc(total * 4), malloc(total)};
    test_fill_uniform(&r, x, total, -1.0, 2.0);
    test_fill_uniform(&r, gs, total, -1.0, 1.0);
    lif_device(&p, T, shape, x, gs, &a);
    lif_device(&p, T, shape, x, gs, &b);
    ck_assert(memcmp(a.s, b.s, total * 4) == 0 && memcmp(a.h, b.h, total * 4) == 0);
    ck_assert(memcmp(a.gx, b.gx, total * 4) == 0 && memcmp(a.rec, b.rec, total) == 0);
    free(x);
    free(gs);
    free(a.s), free(a.h), free(a.gx), free(a.rec);
    free(b.s), free(b.h), free(b.gx), free(b.rec);
}
END_TEST

START_TEST(test_lif_bad_shapes)
{
    sakd_ctx *ctx = test_ctx();
    sakd_lif_params p = sakd_lif_params_default();
    size_t sx[2] = {6, 5}, sy[2] = {6, 4};
    sakd_tensor x, y;
    sakd_lif_cache c;
    TEST_OK(sakd_tensor_new(&x, ctx, "lif in", 2, sx));
    TEST_OK(sakd_tensor_new(&y, ctx, "lif out", 2, sy));
    TEST_OK(sakd_lif_cache_new(&c, ctx, "cache", 2, sx));
    ck_assert_int_eq(sakd_lif_forward(&y, &c, &x, 2, &p), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "lif_forward") &&
                      strstr(sakd_error_detail(), "lif in") &&
                      strstr(sakd_error_detail(), "lif out"),
                  "%s", sakd_error_detail());
    /* 6 rows are not a multiple of T = 4. */
    ck_assert_int_eq(sakd_lif_forward(&x, &c, &x, 4, &p), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "T = 4"), "%s", sakd_error_detail());
    ck_assert_int_eq(sakd_lif_backward(&x, &c, &y, 2, &p), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "lif_backward"), "%s", sakd_error_detail());
    p.surrogate = (sakd_surrogate)9;
    ck_assert_int_eq(sakd_lif_forward(&x, &c, &x, 2, &p), SAKD_ERR_ARG);
    sakd_lif_cache_free(&c);
    /* A cache of another size. */
    TEST_OK(sakd_lif_cache_new(&c, ctx, "cache", 2, sy));
    p = sakd_lif_params_default();
    ck_assert_int_eq(sakd_lif_forward(&x, &c, &x, 2, &p), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "cache"), "%s", sakd_error_detail());
    sakd_lif_cache_free(&c);
    sakd_tensor_free(&x);
    sakd_tensor_free(&y);
}
END_TEST

/* Long BPTT: the carried gradient decays by λ·dv/dh per step and falls below FLT_MIN; the device
 * flushes such subnormal values to 0 (they would slow every later GEMM on CPUs), and everything
 * else still follows the reference. One gradient at the last step only, inputs that keep h
 * below V_th (no spikes): gx[t] = gs·g(u)·Π(λ·dv/dh), geometric in T − 1 − t. _i = surrogate
 * index - 1. */
START_TEST(test_lif_long_decay_flush)
{
    int surrogate = 1 + _i;
    test_rng r = test_rng_new(3900 + (uint64_t)_i);
    size_t T = 160, n = 6, total = T * n, shape[4] = {T, n, 1, 1};
    sakd_lif_params p = sakd_lif_params_default();
    p.surrogate = (sakd_surrogate)surrogate;
    p.alpha = sakd_surrogate_default_alpha(p.surrogate);
    ref_params rp = ref_of(&p);
    float *x = malloc(total * sizeof *x), *gs = calloc(total, sizeof *gs);
    double *hd = calloc(total, sizeof *hd), *ud = calloc(total, sizeof *ud),
           *sd = calloc(total, sizeof *sd), *gsd = calloc(total, sizeof *gsd),
           *gx = malloc(total * sizeof *gx), *mag = malloc(total * sizeof *mag);
    lif_run out = {malloc(total * sizeof(float)), malloc(total * sizeof(float)),
                   malloc(total * sizeof(float)), malloc(total)};
    /* h settles at x / (1 − λ) = 0.5–0.8 of V_th for λ = 0.5: no spike, g(u) > 0. */
    for (size_t i = 0; i < n; i++) {
        float xi = (float)test_rand_uniform(&r, 0.25, 0.4) * p.threshold;
        for (size_t t = 0; t < T; t++)
            x[t * n + i] = xi;
        gs[(T - 1) * n + i] = (float)test_rand_uniform(&r, 0.5, 1.0);
    }
    lif_device(&p, T, shape, x, gs, &out);
    for (size_t j = 0; j < total; j++) {
        ck_assert_int_eq(out.rec[j], 0);
        hd[j] = out.h[j];
        ud[j] = (float)(out.h[j] - p.threshold);
        gsd[j] = gs[j];
    }
    ref_backward(&rp, hd, ud, sd, gsd, T, n, gx, mag);
    size_t normal = 0, flushed = 0;
    for (size_t j = 0; j < total; j++) {
        float v = out.gx[j];
        ck_assert_msg(v == 0.0f || fabsf(v) >= FLT_MIN, "gx[%zu] = %g is subnormal", j, (double)v);
        if (fabs(gx[j]) >= 2.0 * FLT_MIN) { /* clearly normal: as the reference */
            ck_assert_msg(fabs(v - gx[j]) <= LIF_BWD_RTOL * T * mag[j],
                          "surrogate %d: gx[%zu] = %.9g, reference %.9g", surrogate, j, (double)v,
                          gx[j]);
            normal++;
        } else if (gx[j] != 0.0 && fabs(gx[j]) < 0.5 * FLT_MIN) { /* clearly subnormal: 0 */
            ck_assert_msg(v == 0.0f, "surrogate %d: gx[%zu] = %g, reference %g is subnormal",
                          surrogate, j, (double)v, gx[j]);
            flushed++;
        }
    }
    /* Both regimes occur: the test sees the flush and the values before it. */
    ck_assert_uint_gt(normal, n * 20);
    ck_assert_uint_gt(flushed, n * 20);
    free_backward_case(x, gs, hd, ud, sd, gsd, gx, mag, &out);
}
END_TEST

Suite *suite_lif(void)
{
    Suite *s = suite_create("lif");
    /* Every case under each provider (the neuron is an OpenCL kernel under both: a host version
     * measured slower, results/bench/NOTES.md). */
    for (int p = 0; p < test_providers(); p++) {
        TCase *tc = test_provider_tcase(p);
        tcase_add_loop_test(tc, test_lif_forward, 0, 2 * (int)N_LIF_SHAPES);
        tcase_add_loop_test(tc, test_lif_backward, 0, 12);
        tcase_add_loop_test(tc, test_lif_reference_fd, 0, 6);
        tcase_add_loop_test(tc, test_lif_hand, 0, 4);
        tcase_add_loop_test(tc, test_lif_long_decay_flush, 0, 3);
        tcase_add_test(tc, test_lif_determinism);
        tcase_add_test(tc, test_lif_bad_shapes);
        suite_add_tcase(s, tc);
    }
    return s;
}
