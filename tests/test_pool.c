/* test_pool.c — average, max, adaptive and global average pooling, forward and backward, against a
 * double-precision CPU reference (written as a scatter, the kernels gather), with poisoned
 * outputs, odd shapes, central finite differences, determinism and bad shapes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A float sum of K terms in a fixed order, then one division: (K + 1) half-ulps... rounded up
 * to (K + 2) ulps of Σ|terms| (the division by k² or H·W included). */
#define POOL_ULPS(K) ((double)(K) + 2.0)
/* Central differences in double of piecewise-linear functions: exact up to rounding of
 * x ± δ (δ = 1e-4 keeps cancellation small): 1e-8 of the magnitude. */
#define POOL_FD_STEP 1e-4
#define POOL_FD_TOL 1e-8

typedef struct pool_case {
    size_t n, c, h, w, k, s, p;
} pool_case;

/* C = 1, N = 1, odd sizes, overlapping windows (k 3, s 2), k = 1, padded 2·p = k. */
static const pool_case pool_cases[] = {
    {1, 1, 1, 1, 1, 1, 0}, {2, 3, 7, 5, 3, 2, 1}, {3, 5, 12, 11, 2, 2, 0}, {1, 7, 9, 9, 3, 1, 1},
    {2, 2, 5, 7, 3, 3, 0}, {1, 1, 4, 4, 4, 1, 2}, {2, 33, 12, 12, 3, 2, 1}};
#define N_POOL_CASES (sizeof pool_cases / sizeof pool_cases[0])

static size_t out_dim(size_t in, const pool_case *c)
{
    return (in + 2 * c->p - c->k) / c->s + 1;
}

/* Reference average pool (count_include_pad); mag = Σ|terms| per output. */
static void ref_avgpool(const pool_case *c, const double *x, double *y, double *mag)
{
    size_t oh = out_dim(c->h, c), ow = out_dim(c->w, c);
    for (size_t nc = 0; nc < c->n * c->c; nc++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double sum = 0, m = 0;
                for (size_t a = 0; a < c->k; a++)
                    for (size_t b = 0; b < c->k; b++) {
                        long r = (long)(i * c->s + a) - (long)c->p;
                        long q = (long)(j * c->s + b) - (long)c->p;
                        if (r < 0 || q < 0 || r >= (long)c->h || q >= (long)c->w)
                            continue;
                        double v = x[(nc * c->h + (size_t)r) * c->w + (size_t)q];
                        sum += v;
                        m += fabs(v);
                    }
                y[(nc * oh + i) * ow + j] = sum / (double)(c->k * c->k);
                if (mag)
                    mag[(nc * oh + i) * ow + j] = m / (double)(c->k * c->k);
            }
}

/* Reference average-pool backward, scattering each gy over its window. */
static void ref_avgpool_bwd(const pool_case *c, const double *gy, double *gx, double *mag)
{
    size_t oh = out_dim(c->h, c), ow = out_dim(c->w, c), nin = c->n * c->c * c->h * c->w;
    memset(gx, 0, nin * sizeof *gx);
    memset(mag, 0, nin * sizeof *mag);
    for (size_t nc = 0; nc < c->n * c->c; nc++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++)
                for (size_t a = 0; a < c->k; a++)
                    for (size_t b = 0; b < c->k; b++) {
                        long r = (long)(i * c->s + a) - (long)c->p;
                        long q = (long)(j * c->s + b) - (long)c->p;
                        if (r < 0 || q < 0 || r >= (long)c->h || q >= (long)c->w)
                            continue;
                        size_t xi = (nc * c->h + (size_t)r) * c->w + (size_t)q;
                        double g = gy[(nc * oh + i) * ow + j] / (double)(c->k * c->k);
                        gx[xi] += g;
                        mag[xi] += fabs(g);
                    }
}

/* Reference max pool: first maximum in row-major order, padding excluded. */
static void ref_maxpool(const pool_case *c, const double *x, double *y, int32_t *idx)
{
    size_t oh = out_dim(c->h, c), ow = out_dim(c->w, c);
    for (size_t nc = 0; nc < c->n * c->c; nc++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double best = -INFINITY;
                int32_t bi = -1;
                for (size_t a = 0; a < c->k; a++)
                    for (size_t b = 0; b < c->k; b++) {
                        long r = (long)(i * c->s + a) - (long)c->p;
                        long q = (long)(j * c->s + b) - (long)c->p;
                        if (r < 0 || q < 0 || r >= (long)c->h || q >= (long)c->w)
                            continue;
                        double v = x[(nc * c->h + (size_t)r) * c->w + (size_t)q];
                        if (bi < 0 || v > best) {
                            best = v;
                            bi = (int32_t)(r * (long)c->w + q);
                        }
                    }
                y[(nc * oh + i) * ow + j] = best;
                idx[(nc * oh + i) * ow + j] = bi;
            }
}

/* Reference max-pool backward: each gy goes to its window's argmax. */
static void ref_maxpool_bwd(const pool_case *c, const int32_t *idx, const double *gy, double *gx,
                            double *mag)
{
    size_t oh = out_dim(c->h, c), ow = out_dim(c->w, c), nin = c->n * c->c * c->h * c->w;
    memset(gx, 0, nin * sizeof *gx);
    memset(mag, 0, nin * sizeof *mag);
    for (size_t nc = 0; nc < c->n * c->c; nc++)
        for (size_t o = 0; o < oh * ow; o++) {
            size_t xi = nc * c->h * c->w + (size_t)idx[nc * oh * ow + o];
            gx[xi] += gy[nc * oh * ow + o];
            mag[xi] += fabs(gy[nc * oh * ow + o]);
        }
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* _i: case index; _i >= N_POOL_CASES selects max pool. */
START_TEST(test_pool2d)
{
    int is_max = _i >= (int)N_POOL_CASES;
    const pool_case *c = &pool_cases[_i % N_POOL_CASES];
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(3600 + (uint64_t)_i);
    size_t oh = out_dim(c->h, c), ow = out_dim(c->w, c);
    size_t xs[4] = {c->n, c->c, c->h, c->w}, ys[4] = {c->n, c->c, oh, ow};
    size_t nx = c->n * c->c * c->h * c->w, ny = c->n * c->c * oh * ow;
    sakd_pool2d pool = {c->k, c->s, c->p};
    float *x = malloc(nx * 4), *gy = malloc(ny * 4), *y = malloc(ny * 4), *gx = malloc(nx * 4);
    int32_t *idx = malloc(ny * 4), *ridx = malloc(ny * 4), *pidx = malloc(ny * 4);
    test_fill_uniform(&r, x, nx, -3, 3);
    test_fill_uniform(&r, gy, ny, -1, 1);
    double *xd = to_double(x, nx), *gyd = to_double(gy, ny);
    double *ry = malloc(ny * 8), *ymag = calloc(ny, 8), *rgx = malloc(nx * 8),
           *gmag = malloc(nx * 8);

    sakd_tensor tx, ty, tgy, tgx;
    sakd_pool_index ti;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, xs));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 4, ys));
    TEST_OK(sakd_tensor_new(&tgy, ctx, "gy", 4, ys));
    TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, xs));
    TEST_OK(sakd_pool_index_new(&ti, ctx, "argmax", ny));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&tgy, gy));
    TEST_OK(sakd_tensor_fill(&ty, NAN));
    TEST_OK(sakd_tensor_fill(&tgx, NAN));
    if (is_max) {
        TEST_OK(sakd_maxpool_forward(&ty, &ti, &tx, pool));
        TEST_OK(sakd_maxpool_backward(&tgx, &ti, &tgy, pool));
        TEST_OK(sakd_pool_index_download(&ti, idx));
        ref_maxpool(c, xd, ry, ridx);
        ref_maxpool_bwd(c, ridx, gyd, rgx, gmag);
    } else {
        TEST_OK(sakd_avgpool_forward(&ty, &tx, pool));
        TEST_OK(sakd_avgpool_backward(&tgx, &tgy, pool));
        ref_avgpool(c, xd, ry, ymag);
        ref_avgpool_bwd(c, gyd, rgx, gmag);
    }
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    for (size_t i = 0; i < ny; i++) {
        if (is_max)
            ck_assert_msg(y[i] == ry[i] && idx[i] == ridx[i],
                          "maxpool case %d: y[%zu] = %g idx %d, reference %g idx %d", _i, i, y[i],
                          idx[i], ry[i], ridx[i]);
        else
            ck_assert_msg(fabs(y[i] - ry[i]) <= POOL_ULPS(c->k * c->k) * FLT_EPSILON * ymag[i],
                          "avgpool case %d: y[%zu] = %.9g, reference %.9g (seed %llu)", _i, i, y[i],
                          ry[i], (unsigned long long)test_seed());
    }
    /* Each input is covered by at most ceil(k/s)² windows. */
    size_t cover = (c->k + c->s - 1) / c->s;
    for (size_t i = 0; i < nx; i++)
        ck_assert_msg(fabs(gx[i] - rgx[i]) <= POOL_ULPS(cover * cover) * FLT_EPSILON * gmag[i],
                      "%s case %d: gx[%zu] = %.9g, reference %.9g (seed %llu)",
                      is_max ? "maxpool" : "avgpool", _i, i, gx[i], rgx[i],
                      (unsigned long long)test_seed());

    /* The reference backward against central differences of L = Σ gy·y; for max pool only where
     * ±δ changes no window's argmax (away from ties). */
    double *xp = malloc(nx * 8), *yp = malloc(ny * 8);
    for (size_t i = 0; i < nx; i += 1 + nx / 64) {
        double l[2];
        int moved = 0;
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(xp, xd, nx * 8);
            xp[i] += sgn ? -POOL_FD_STEP : POOL_FD_STEP;
            if (is_max) {
                ref_maxpool(c, xp, yp, pidx);
                moved |= memcmp(pidx, ridx, ny * 4) != 0;
            } else {
                ref_avgpool(c, xp, yp, NULL);
            }
            l[sgn] = dot(gyd, yp, ny);
        }
        if (moved)
            continue;
        double fd = (l[0] - l[1]) / (2 * POOL_FD_STEP);
        ck_assert_msg(fabs(fd - rgx[i]) <= POOL_FD_TOL * (1 + gmag[i]),
                      "case %d: dL/dx[%zu] reference %.12g, finite difference %.12g", _i, i, rgx[i],
                      fd);
    }

    /* Determinism: the same bytes again. */
    float *y2 = malloc(ny * 4), *gx2 = malloc(nx * 4);
    if (is_max) {
        TEST_OK(sakd_maxpool_forward(&ty, &ti, &tx, pool));
        TEST_OK(sakd_maxpool_backward(&tgx, &ti, &tgy, pool));
    } else {
        TEST_OK(sakd_avgpool_forward(&ty, &tx, pool));
        TEST_OK(sakd_avgpool_backward(&tgx, &tgy, pool));
    }
    TEST_OK(sakd_tensor_download(&ty, y2));
    TEST_OK(sakd_tensor_download(&tgx, gx2));
    ck_assert(memcmp(y, y2, ny * 4) == 0 && memcmp(gx, gx2, nx * 4) == 0);

    sakd_pool_index_free(&ti);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    sakd_tensor_free(&tgy);
    sakd_tensor_free(&tgx);
    free(x), free(gy), free(y), free(gx), free(idx), free(ridx), free(pidx);
    free(xd), free(gyd), free(ry), free(ymag), free(rgx), free(gmag), free(xp), free(yp);
    free(y2), free(gx2);
}
END_TEST

/* Ties: a constant plane; every window takes its first cell, and backward sums the windows
 * that chose each cell (a cell shared by overlapping windows gets several). */
START_TEST(test_maxpool_ties)
{
    sakd_ctx *ctx = test_ctx();
    pool_case c = {1, 1, 5, 5, 3, 2, 1};
    size_t xs[4] = {1, 1, 5, 5}, ys[4] = {1, 1, 3, 3};
    sakd_pool2d pool = {3, 2, 1};
    float x[25], gy[9], gx[25];
    double gyd[9], rgx[25], mag[25];
    int32_t idx[9], ridx[9];
    double xd[25], ry[9];
    for (int i = 0; i < 25; i++)
        x[i] = 2.0f, xd[i] = 2.0;
    for (int i = 0; i < 9; i++)
        gy[i] = (float)(i + 1), gyd[i] = i + 1;
    sakd_tensor tx, ty, tgy, tgx;
    sakd_pool_index ti;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, xs));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 4, ys));
    TEST_OK(sakd_tensor_new(&tgy, ctx, "gy", 4, ys));
    TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, xs));
    TEST_OK(sakd_pool_index_new(&ti, ctx, "argmax", 9));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&tgy, gy));
    TEST_OK(sakd_tensor_fill(&tgx, NAN));
    TEST_OK(sakd_maxpool_forward(&ty, &ti, &tx, pool));
    TEST_OK(sakd_maxpool_backward(&tgx, &ti, &tgy, pool));
    TEST_OK(sakd_pool_index_download(&ti, idx));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    ref_maxpool(&c, xd, ry, ridx);
    ref_maxpool_bwd(&c, ridx, gyd, rgx, mag);
    /* Window (0, 0) covers rows/cols -1..1: first valid cell (0, 0); window (1, 1): (1, 1). */
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[4], 6);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(idx[i], ridx[i]);
    for (int i = 0; i < 25; i++)
        ck_assert_msg(gx[i] == rgx[i], "gx[%d] = %g, expected %g", i, gx[i], rgx[i]);
    sakd_pool_index_free(&ti);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    sakd_tensor_free(&tgy);
    sakd_tensor_free(&tgx);
}
END_TEST

static const size_t gap_shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 33, 12, 11}, {5, 1, 3, 1}};

START_TEST(test_global_avgpool)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(3700 + (uint64_t)_i);
    const size_t *xs = gap_shapes[_i];
    size_t ys[2] = {xs[0], xs[1]}, hw = xs[2] * xs[3], nc = xs[0] * xs[1], nx = nc * hw;
    float *x = malloc(nx * 4), *gy = malloc(nc * 4), *y = malloc(nc * 4), *gx = malloc(nx * 4);
    test_fill_uniform(&r, x, nx, -3, 3);
    test_fill_uniform(&r, gy, nc, -1, 1);
    sakd_tensor tx, ty, tgy, tgx;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, xs));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 2, ys));
    TEST_OK(sakd_tensor_new(&tgy, ctx, "gy", 2, ys));
    TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, xs));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&tgy, gy));
    TEST_OK(sakd_tensor_fill(&ty, NAN));
    TEST_OK(sakd_tensor_fill(&tgx, NAN));
    TEST_OK(sakd_global_avgpool_forward(&ty, &tx));
    TEST_OK(sakd_global_avgpool_backward(&tgx, &tgy));
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    for (size_t i = 0; i < nc; i++) {
        double sum = 0, mag = 0;
        for (size_t j = 0; j < hw; j++)
            sum += x[i * hw + j], mag += fabs(x[i * hw + j]);
        ck_assert_msg(fabs(y[i] - sum / hw) <= POOL_ULPS(hw) * FLT_EPSILON * mag / hw,
                      "gap y[%zu] = %.9g, reference %.9g", i, y[i], sum / hw);
        for (size_t j = 0; j < hw; j++) {
            double ref = (double)gy[i] / hw; /* d(Σ gy·y)/dx: linear, so FD is exact */
            ck_assert_msg(fabs(gx[i * hw + j] - ref) <= FLT_EPSILON * fabs(ref),
                          "gap gx[%zu] = %.9g, reference %.9g", i * hw + j, gx[i * hw + j], ref);
        }
    }
    /* The reference gradient gy/HW against central differences of Σ gy·mean(x). */
    for (size_t i = 0; i < nc; i++) {
        double lp = 0, lm = 0;
        for (size_t j = 0; j < hw; j++) {
            double v = x[i * hw + j] + (j == 0 ? POOL_FD_STEP : 0);
            double w = x[i * hw + j] - (j == 0 ? POOL_FD_STEP : 0);
            lp += v, lm += w;
        }
        double fd = gy[i] * (lp / hw - lm / hw) / (2 * POOL_FD_STEP);
        ck_assert_msg(fabs(fd - (double)gy[i] / hw) <= POOL_FD_TOL * (1 + fabs(x[i * hw])),
                      "gap fd %.12g vs %.12g", fd, (double)gy[i] / hw);
    }
    float *y2 = malloc(nc * 4);
    TEST_OK(sakd_global_avgpool_forward(&ty, &tx));
    TEST_OK(sakd_tensor_download(&ty, y2));
    ck_assert(memcmp(y, y2, nc * 4) == 0);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    sakd_tensor_free(&tgy);
    sakd_tensor_free(&tgx);
    free(x), free(gy), free(y), free(gx), free(y2);
}
END_TEST

/* Adaptive average pooling: N, C, H, W, OH, OW. A 1x1 map broadcast to 7x7 (torchvision's VGG
 * on a 32x32 input), 7x7 to 7x7 (identity), overlapping bins (13 → 7), uneven (5x9 → 3x2),
 * upsampling by a non-integer factor (3x2 → 7x5), and 1x1 output (a global average). */
static const size_t adaptive_shapes[][6] = {{2, 3, 1, 1, 7, 7},   {1, 2, 7, 7, 7, 7},
                                            {2, 3, 13, 10, 7, 7}, {1, 4, 5, 9, 3, 2},
                                            {2, 2, 3, 2, 7, 5},   {3, 1, 4, 4, 1, 1}};
#define N_ADAPTIVE (sizeof adaptive_shapes / sizeof adaptive_shapes[0])

/* PyTorch's bin of output o: [floor(o·in/out), ceil((o+1)·in/out)), in doubles here. */
static void adaptive_bin(size_t o, size_t in, size_t out, size_t *lo, size_t *hi)
{
    *lo = (size_t)floor((double)o * (double)in / (double)out);
    *hi = (size_t)ceil((double)(o + 1) * (double)in / (double)out);
}

START_TEST(test_adaptive_avgpool)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(3800 + (uint64_t)_i);
    const size_t *sh = adaptive_shapes[_i];
    size_t nc = sh[0] * sh[1], H = sh[2], W = sh[3], OH = sh[4], OW = sh[5];
    size_t xs[4] = {sh[0], sh[1], H, W}, ys[4] = {sh[0], sh[1], OH, OW};
    size_t nx = nc * H * W, ny = nc * OH * OW;
    float *x = malloc(nx * 4), *gy = malloc(ny * 4), *y = malloc(ny * 4), *gx = malloc(nx * 4);
    double *ry = calloc(ny, 8), *rymag = calloc(ny, 8), *rgx = calloc(nx, 8),
           *rgxmag = calloc(nx, 8);
    double *terms = calloc(nx, 8);
    test_fill_uniform(&r, x, nx, -3, 3);
    test_fill_uniform(&r, gy, ny, -1, 1);
    /* The reference: each output averages its bin; backward scatters gy/|bin| over the bin. */
    for (size_t p = 0; p < nc; p++)
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                size_t h0, h1, w0, w1, o = (p * OH + oh) * OW + ow;
                adaptive_bin(oh, H, OH, &h0, &h1);
                adaptive_bin(ow, W, OW, &w0, &w1);
                double cells = (double)((h1 - h0) * (w1 - w0)), sum = 0, mag = 0;
                for (size_t ih = h0; ih < h1; ih++)
                    for (size_t iw = w0; iw < w1; iw++) {
                        size_t i = (p * H + ih) * W + iw;
                        sum += x[i], mag += fabs(x[i]);
                        rgx[i] += gy[o] / cells;
                        rgxmag[i] += fabs(gy[o]) / cells;
                        terms[i] += 1;
                    }
                ry[o] = sum / cells;
                rymag[o] = mag / cells;
            }
    sakd_tensor tx, ty, tgy, tgx;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, xs));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 4, ys));
    TEST_OK(sakd_tensor_new(&tgy, ctx, "gy", 4, ys));
    TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, xs));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&tgy, gy));
    TEST_OK(sakd_tensor_fill(&ty, NAN));
    TEST_OK(sakd_tensor_fill(&tgx, NAN));
    TEST_OK(sakd_adaptive_avgpool_forward(&ty, &tx));
    TEST_OK(sakd_adaptive_avgpool_backward(&tgx, &tgy));
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    /* A bin holds at most H·W cells: (H·W + 2) ulps of Σ|x|/|bin| bounds its float sum. */
    for (size_t i = 0; i < ny; i++)
        ck_assert_msg(fabs(y[i] - ry[i]) <= POOL_ULPS(H * W) * FLT_EPSILON * rymag[i],
                      "adaptive y[%zu] = %.9g, reference %.9g", i, y[i], ry[i]);
    for (size_t i = 0; i < nx; i++)
        ck_assert_msg(fabs(gx[i] - rgx[i]) <= POOL_ULPS(terms[i]) * FLT_EPSILON * rgxmag[i],
                      "adaptive gx[%zu] = %.9g, reference %.9g (%g bins)", i, gx[i], rgx[i],
                      terms[i]);
    /* The pooling is linear: the backward is its adjoint, <gy, y(x)> = <gx, x>. */
    double *dx = to_double(x, nx), *dgy = to_double(gy, ny);
    double lhs = dot(dgy, ry, ny), rhs = dot(rgx, dx, nx);
    ck_assert_msg(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "adjoint %.15g vs %.15g", lhs, rhs);
    /* Every input cell lies in some bin (PyTorch's bins cover the input). */
    for (size_t i = 0; i < nx; i++)
        ck_assert_msg(terms[i] >= 1, "input cell %zu is in no bin", i);
    float *y2 = malloc(ny * 4);
    TEST_OK(sakd_adaptive_avgpool_forward(&ty, &tx));
    TEST_OK(sakd_tensor_download(&ty, y2));
    ck_assert(memcmp(y, y2, ny * 4) == 0);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    sakd_tensor_free(&tgy);
    sakd_tensor_free(&tgx);
    free(x), free(gy), free(y), free(gx), free(y2), free(dx), free(dgy);
    free(ry), free(rymag), free(rgx), free(rgxmag), free(terms);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && (!name || strstr(sakd_error_detail(), name)),
                  "%s", sakd_error_detail());
}

START_TEST(test_pool_bad_shapes)
{
    sakd_ctx *ctx = test_ctx();
    size_t xs[4] = {2, 3, 7, 7}, good[4] = {2, 3, 4, 4}, bad[4] = {2, 3, 3, 4}, g2[2] = {2, 4};
    sakd_pool2d pool = {3, 2, 1}, wide = {3, 2, 2};
    sakd_tensor x, y, yb, gapy;
    sakd_pool_index idx;
    TEST_OK(sakd_tensor_new(&x, ctx, "pool in", 4, xs));
    TEST_OK(sakd_tensor_new(&y, ctx, "pool out", 4, good));
    TEST_OK(sakd_tensor_new(&yb, ctx, "bad out", 4, bad));
    TEST_OK(sakd_tensor_new(&gapy, ctx, "gap out", 2, g2));
    TEST_OK(sakd_pool_index_new(&idx, ctx, "argmax", 5));
    expect_arg_error(sakd_avgpool_forward(&yb, &x, pool), "avgpool_forward", "bad out");
    expect_arg_error(sakd_avgpool_backward(&x, &yb, pool), "avgpool_backward", "bad out");
    expect_arg_error(sakd_avgpool_forward(&y, &x, wide), "avgpool_forward", NULL);
    expect_arg_error(sakd_maxpool_forward(&y, &idx, &x, pool), "maxpool_forward", "argmax");
    expect_arg_error(sakd_maxpool_backward(&x, &idx, &yb, pool), "maxpool_backward", "bad out");
    expect_arg_error(sakd_global_avgpool_forward(&gapy, &x), "global_avgpool_forward", "gap out");
    expect_arg_error(sakd_global_avgpool_backward(&x, &y), "global_avgpool_backward", "pool out");
    size_t other_c[4] = {2, 4, 7, 7};
    sakd_tensor yc;
    TEST_OK(sakd_tensor_new(&yc, ctx, "adaptive out", 4, other_c));
    expect_arg_error(sakd_adaptive_avgpool_forward(&yc, &x), "adaptive_avgpool_forward",
                     "adaptive out");
    expect_arg_error(sakd_adaptive_avgpool_backward(&x, &gapy), "adaptive_avgpool_backward",
                     "gap out");
    sakd_tensor_free(&yc);
    sakd_pool_index_free(&idx);
    sakd_tensor_free(&x);
    sakd_tensor_free(&y);
    sakd_tensor_free(&yb);
    sakd_tensor_free(&gapy);
}
END_TEST

Suite *suite_pool(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_pool2d, 0, 2 * (int)N_POOL_CASES);
    tcase_add_test(tc, test_maxpool_ties);
    tcase_add_loop_test(tc, test_global_avgpool, 0, 4);
    tcase_add_loop_test(tc, test_adaptive_avgpool, 0, (int)N_ADAPTIVE);
    tcase_add_test(tc, test_pool_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}
