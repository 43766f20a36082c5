/* test_conv.c — conv2d forward and backward against a double-precision CPU reference (itself
 * checked by central finite differences), at odd shapes, kernel sizes 1/3/7, strides 1/2,
 * padding 0/1/3, with and without bias, in one chunk and in several; determinism and argument
 * errors. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ops/conv.h"
#include "ops/host.h"
#include "ops/layout.h"

/* A float GEMM dot product of K terms errs by at most about K·eps·Σ|terms| (Higham's gamma_K);
 * the permute adds the bias with one more rounding, col2im adds kh·kw GEMM results, and the
 * bias gradient is a tree over N·P terms. The tolerance is TOL_FACTOR·(terms + 2)·eps·Σ|terms|. */
#define TOL_FACTOR 1.0
/* The reference is linear in x, w and b, so central differences are exact up to double
 * rounding of L (about 1e-16·Σ|terms| / h); this bound is far above that and far below any
 * wrong gradient. */
#define FD_STEP 1e-3
#define FD_RTOL 1e-7

typedef struct conv_case {
    size_t n, cin, h, w, cout, kh, kw, sh, sw, ph, pw;
    int bias;
} conv_case;

static const conv_case cases[] = {
    {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1},   /* N = 1, C = 1, 1x1 */
    {3, 2, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1},   /* 3x3 s1 p1, odd H/W */
    {2, 3, 9, 11, 4, 3, 3, 2, 2, 1, 1, 0},  /* 3x3 s2 p1, no bias */
    {2, 2, 9, 9, 3, 7, 7, 2, 2, 3, 3, 1},   /* 7x7 s2 p3 (imagenet stem) */
    {5, 3, 6, 5, 7, 1, 1, 2, 2, 0, 0, 0},   /* 1x1 s2 (downsample) */
    {2, 4, 8, 7, 6, 3, 2, 1, 2, 0, 1, 1},   /* rectangular kernel, mixed stride/pad */
    {4, 1, 12, 12, 1, 7, 7, 1, 1, 3, 3, 1}, /* Cin = Cout = 1, 7x7 s1 p3 */
    {3, 5, 4, 4, 3, 3, 3, 1, 1, 0, 0, 0},   /* p0, small output */
    {2, 4, 16, 12, 4, 3, 3, 1, 1, 1, 1, 1}, /* 3x3 s1 p1, H·W >= 128: data gradient as a conv */
    {3, 5, 14, 14, 5, 3, 3, 1, 1, 0, 0, 0}, /* the same at p0 (input larger than output) */
    {2, 3, 12, 12, 5, 3, 3, 1, 1, 1, 1, 0}, /* Cout > Cin: the columns may not fit */
    {3, 6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1},   /* 7x7 s1 p1: data gradient as one conv GEMM */
    /* 3x3 s1 p1, H·W >= 128, more samples than the workspace holds partial weight gradients:
     * the per-sample products in two rounds (28 + 12) */
    {40, 32, 12, 12, 32, 3, 3, 1, 1, 1, 1, 0},
    /* 7x7 s1 p1 over 91 samples: the weight gradient's reduction in 2 slices and a rest */
    {91, 4, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1},
    /* Cin = Cout, s1 p1 on 5x5: the data gradient as one conv GEMM, at a size an interpreter
     * runs in seconds (the 7x7 case above takes the same path) */
    {2, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1},
    /* 1x1 s2 over 165 samples (4 125 columns): the general weight gradient in 2 slices of
     * 2 062 columns and a rest of 1 */
    {165, 1, 9, 9, 1, 1, 1, 2, 2, 0, 0, 1},
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct conv_dims {
    size_t ho, wo, nx, nw, ny;
} conv_dims;

static conv_dims dims_of(const conv_case *c)
{
    conv_dims d;
    d.ho = (c->h + 2 * c->ph - c->kh) / c->sh + 1;
    d.wo = (c->w + 2 * c->pw - c->kw) / c->sw + 1;
    d.nx = c->n * c->cin * c->h * c->w;
    d.nw = c->cout * c->cin * c->kh * c->kw;
    d.ny = c->n * c->cout * d.ho * d.wo;
    return d;
}

/* Whether a case fits `make check-oclgrind` (test_small_shapes): below 128 input positions
 * (conv.c's DIRECT_NCHW_MIN_P: larger stride-1 images take batched per-sample GEMMs, which
 * launch no kernel of their own) and at most 16 000 multiply-adds forward. The cases kept
 * still launch every conv kernel; check_oclgrind.sh checks that. */
static int fits_interpreter(const conv_case *c)
{
    conv_dims d = dims_of(c);
    return c->h * c->w < 128 && d.ny * c->cin * c->kh * c->kw <= 16000;
}

/* Leaves a case out under test_small_shapes when it does not fit. */
static int skip_case(const conv_case *c)
{
    return test_small_shapes() && !fits_interpreter(c);
}

/* Runs BODY for every (output element, weight tap) pair that contributes, with the flat
 * indices yi, xi, wi of y, x and w in scope. */
#define FOR_EACH_TAP(c, d, BODY)                                                                   \
    for (size_t n_ = 0; n_ < (c)->n; n_++)                                                         \
        for (size_t co_ = 0; co_ < (c)->cout; co_++)                                               \
            for (size_t oy_ = 0; oy_ < (d)->ho; oy_++)                                             \
                for (size_t ox_ = 0; ox_ < (d)->wo; ox_++) {                                       \
                    size_t yi = ((n_ * (c)->cout + co_) * (d)->ho + oy_) * (d)->wo + ox_;          \
                    (void)yi;                                                                      \
                    for (size_t ci_ = 0; ci_ < (c)->cin; ci_++)                                    \
                        for (size_t i_ = 0; i_ < (c)->kh; i_++)                                    \
                            for (size_t j_ = 0; j_ < (c)->kw; j_++) {                              \
                                long iy = (long)(oy_ * (c)->sh + i_) - (long)(c)->ph;              \
                                long ix = (long)(ox_ * (c)->sw + j_) - (long)(c)->pw;              \
                                if (iy < 0 || ix < 0 || iy >= (long)(c)->h || ix >= (long)(c)->w)  \
                                    continue;                                                      \
                                size_t xi =                                                        \
                                    ((n_ * (c)->cin + ci_) * (c)->h + (size_t)iy) * (c)->w +       \
                                    (size_t)ix;                                                    \
                                size_t wi =                                                        \
                                    ((co_ * (c)->cin + ci_) * (c)->kh + i_) * (c)->kw + j_;        \
                                BODY                                                               \
                            }                                                                      \
                }

/* y = conv(x, w) + b in double; mag = Σ|terms| per output (for the tolerance). */
static void ref_forward(const conv_case *c, const conv_dims *d, const double *x, const double *w,
                        const double *b, double *y, double *mag)
{
    size_t P = d->ho * d->wo;
    for (size_t i = 0; i < d->ny; i++) {
        double bias = b ? b[(i / P) % c->cout] : 0.0;
        y[i] = bias;
        if (mag)
            mag[i] = fabs(bias);
    }
    FOR_EACH_TAP(c, d, {
        y[yi] += x[xi] * w[wi];
        if (mag)
            mag[yi] += fabs(x[xi] * w[wi]);
    })
}

/* Analytic gradients of L = Σ gy·y, with Σ|terms| of each for the tolerance. */
static void ref_backward(const conv_case *c, const conv_dims *d, const double *gy, const double *x,
                         const double *w, double *gx, double *gw, double *gb, double *mx,
                         double *mw, double *mb)
{
    size_t P = d->ho * d->wo;
    memset(gx, 0, d->nx * sizeof *gx);
    memset(gw, 0, d->nw * sizeof *gw);
    memset(gb, 0, c->cout * sizeof *gb);
    memset(mx, 0, d->nx * sizeof *mx);
    memset(mw, 0, d->nw * sizeof *mw);
    memset(mb, 0, c->cout * sizeof *mb);
    for (size_t i = 0; i < d->ny; i++) {
        gb[(i / P) % c->cout] += gy[i];
        mb[(i / P) % c->cout] += fabs(gy[i]);
    }
    FOR_EACH_TAP(c, d, {
        gx[xi] += gy[yi] * w[wi];
        mx[xi] += fabs(gy[yi] * w[wi]);
        gw[wi] += gy[yi] * x[xi];
        mw[wi] += fabs(gy[yi] * x[xi]);
    })
}

static double ref_loss(const conv_case *c, const conv_dims *d, const double *gy, const double *x,
                       const double *w, const double *b)
{
    double *y = malloc(d->ny * sizeof *y), l = 0;
    ref_forward(c, d, x, w, b, y, NULL);
    for (size_t i = 0; i < d->ny; i++)
        l += gy[i] * y[i];
    free(y);
    return l;
}

/* Central differences of ref_loss at a few random elements of v (x, w or b) against g. */
static void check_fd(test_rng *r, const conv_case *c, const conv_dims *d, const double *gy,
                     double *x, double *w, double *b, double *v, size_t nv, const double *g,
                     const char *what)
{
    for (int t = 0; t < 6; t++) {
        size_t e = test_rand_size(r, 0, nv - 1);
        double keep = v[e];
        v[e] = keep + FD_STEP;
        double lp = ref_loss(c, d, gy, x, w, b);
        v[e] = keep - FD_STEP;
        double lm = ref_loss(c, d, gy, x, w, b);
        v[e] = keep;
        double fd = (lp - lm) / (2 * FD_STEP);
        ck_assert_msg(fabs(fd - g[e]) <= FD_RTOL * (1 + fabs(lp) + fabs(lm)),
                      "reference d/d%s[%zu] = %.12g, finite difference %.12g", what, e, g[e], fd);
    }
}

static double *to_double(const float *f, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static void compare(const char *what, const conv_case *c, const float *got, const double *ref,
                    const double *mag, size_t n, double terms)
{
    for (size_t i = 0; i < n; i++) {
        double tol = TOL_FACTOR * (terms + 2) * FLT_EPSILON * mag[i] + FLT_MIN;
        ck_assert_msg(fabs(got[i] - ref[i]) <= tol,
                      "conv N%zu Cin%zu %zux%zu Cout%zu k%zux%zu s%zux%zu p%zux%zu: %s[%zu] = "
                      "%.9g, reference %.9g (tolerance %.3g, seed %llu)",
                      c->n, c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw,
                      what, i, got[i], ref[i], tol, (unsigned long long)test_seed());
    }
}

/* Forward and backward of one case on the device with a workspace of `chunk` samples (0: all)
 * against the reference; the reference's gradients against finite differences. */
static void run_case(const conv_case *c, size_t chunk, uint64_t salt)
{
    conv_dims d = dims_of(c);
    ck_assert_uint_eq(sakd_conv2d_out_size(c->h, c->kh, c->sh, c->ph), d.ho);
    test_rng r = test_rng_new(salt);
    float *x = malloc(d.nx * sizeof *x), *w = malloc(d.nw * sizeof *w), *b = malloc(c->cout * 4);
    float *gy = malloc(d.ny * sizeof *gy), *y = malloc(d.ny * sizeof *y);
    float *gx = malloc(d.nx * sizeof *gx), *gw = malloc(d.nw * sizeof *gw),
          *gb = malloc(c->cout * 4);
    test_fill_uniform(&r, x, d.nx, -1, 1);
    test_fill_uniform(&r, w, d.nw, -1, 1);
    test_fill_uniform(&r, b, c->cout, -1, 1);
    test_fill_uniform(&r, gy, d.ny, -1, 1);

    sakd_tensor tx, tw, tb, ty, tgy, tgx, tgw, tgb, tws;
    test_guarded_tensor(&tx, "x", 4, (size_t[]){c->n, c->cin, c->h, c->w}, x);
    test_guarded_tensor(&tw, "w", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, w);
    test_guarded_tensor(&tb, "b", 1, &c->cout, b);
    test_guarded_tensor(&tgy, "gy", 4, (size_t[]){c->n, c->cout, d.ho, d.wo}, gy);
    test_guarded_tensor(&ty, "y", 4, (size_t[]){c->n, c->cout, d.ho, d.wo}, NULL);
    test_guarded_tensor(&tgx, "gx", 4, (size_t[]){c->n, c->cin, c->h, c->w}, NULL);
    test_guarded_tensor(&tgw, "gw", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, NULL);
    test_guarded_tensor(&tgb, "gb", 1, &c->cout, NULL);
    size_t nws = sakd_conv2d_workspace_floats(chunk ? chunk : c->n, c->cin, c->cout, c->kh, c->kw,
                                              d.ho, d.wo);
    test_guarded_tensor(&tws, "workspace", 1, &nws, NULL);
    sakd_conv2d_params p = {c->sh, c->sw, c->ph, c->pw};
    TEST_OK(sakd_conv2d_forward(&ty, &tws, &tx, &tw, c->bias ? &tb : NULL, &p));
    TEST_OK(sakd_conv2d_backward(&tgx, &tgw, c->bias ? &tgb : NULL, &tws, &tgy, &tx, &tw, &p));
    test_poison(y, d.ny);
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    TEST_OK(sakd_tensor_download(&tgw, gw));
    if (c->bias)
        TEST_OK(sakd_tensor_download(&tgb, gb));

    double *dx = to_double(x, d.nx), *dw = to_double(w, d.nw), *db = to_double(b, c->cout);
    double *dgy = to_double(gy, d.ny);
    double *ry = malloc(d.ny * sizeof *ry), *my = malloc(d.ny * sizeof *my);
    double *rgx = malloc(d.nx * 8), *rgw = malloc(d.nw * 8), *rgb = malloc(c->cout * 8);
    double *mx = malloc(d.nx * 8), *mw = malloc(d.nw * 8), *mb = malloc(c->cout * 8);
    double *bias = c->bias ? db : NULL;
    ref_forward(c, &d, dx, dw, bias, ry, my);
    ref_backward(c, &d, dgy, dx, dw, rgx, rgw, rgb, mx, mw, mb);
    size_t K = c->cin * c->kh * c->kw, NP = c->n * d.ho * d.wo;
    compare("y", c, y, ry, my, d.ny, (double)K);
    compare("grad x", c, gx, rgx, mx, d.nx, (double)(c->cout + c->kh * c->kw));
    compare("grad w", c, gw, rgw, mw, d.nw, (double)NP);
    if (c->bias)
        compare("grad b", c, gb, rgb, mb, c->cout, (double)NP);

    check_fd(&r, c, &d, dgy, dx, dw, bias, dx, d.nx, rgx, "x");
    check_fd(&r, c, &d, dgy, dx, dw, bias, dw, d.nw, rgw, "w");
    if (c->bias)
        check_fd(&r, c, &d, dgy, dx, dw, bias, db, c->cout, rgb, "b");

    sakd_tensor *ts[] = {&tx, &tw, &tb, &ty, &tgy, &tgx, &tgw, &tgb, &tws};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    test_guarded_free();
    void *hs[] = {x, w, b, gy, y, gx, gw, gb, dx, dw, db, dgy, ry, my, rgx, rgw, rgb, mx, mw, mb};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(hs[i]);
}

START_TEST(test_conv_cases)
{
    if (skip_case(&cases[_i]))
        return;
    run_case(&cases[_i], 0, 1100 + (uint64_t)_i);
}
END_TEST

/* A workspace of 1 or 2 samples: several GEMM chunks, grad w accumulated across them. */
START_TEST(test_conv_chunked)
{
    static const size_t which[] = {1, 3, 4, 6};
    const conv_case *c = &cases[which[_i]];
    if (skip_case(c))
        return;
    run_case(c, _i % 2 ? 2 : 1, 1200 + (uint64_t)_i);
}
END_TEST

/* Every tensor a view at an element offset inside a guarded buffer. */
START_TEST(test_conv_views)
{
    test_guard_offset(3 + (size_t)_i * 14);
    run_case(&cases[_i ? 3 : 1], _i ? 2 : 0, 1250 + (uint64_t)_i);
    test_guard_offset(0);
}
END_TEST

/* Random small shapes. */
START_TEST(test_conv_random)
{
    test_rng r = test_rng_new(1300 + (uint64_t)_i);
    conv_case c;
    static const size_t ks[] = {1, 3, 5, 7};
    c.kh = ks[test_rand_size(&r, 0, 3)];
    c.kw = test_rand_size(&r, 0, 1) ? c.kh : ks[test_rand_size(&r, 0, 3)];
    c.ph = test_rand_size(&r, 0, c.kh / 2);
    c.pw = test_rand_size(&r, 0, c.kw / 2);
    c.h = test_rand_size(&r, c.kh > 2 * c.ph ? c.kh - 2 * c.ph : 1, 11);
    c.w = test_rand_size(&r, c.kw > 2 * c.pw ? c.kw - 2 * c.pw : 1, 11);
    c.sh = test_rand_size(&r, 1, 2);
    c.sw = test_rand_size(&r, 1, 2);
    c.n = test_rand_size(&r, 1, 4);
    c.cin = test_rand_size(&r, 1, 5);
    c.cout = test_rand_size(&r, 1, 6);
    c.bias = (int)test_rand_size(&r, 0, 1);
    if (skip_case(&c))
        return;
    run_case(&c, test_rand_size(&r, 0, 1) ? 0 : test_rand_size(&r, 1, c.n), 1310 + (uint64_t)_i);
}
END_TEST

/* Two runs give identical bytes; skipping grad x leaves grad w and grad b unchanged. */
START_TEST(test_conv_deterministic)
{
    const conv_case *c = &cases[1];
    conv_dims d = dims_of(c);
    test_rng r = test_rng_new(1400);
    float *x = malloc(d.nx * 4), *w = malloc(d.nw * 4), *b = malloc(c->cout * 4);
    float *gy = malloc(d.ny * 4);
    test_fill_uniform(&r, x, d.nx, -1, 1);
    test_fill_uniform(&r, w, d.nw, -1, 1);
    test_fill_uniform(&r, b, c->cout, -1, 1);
    test_fill_uniform(&r, gy, d.ny, -1, 1);
    sakd_tensor tx, tw, tb, ty, tgy, tgx, tgw, tgb, tws;
    test_guarded_tensor(&tx, "x", 4, (size_t[]){c->n, c->cin, c->h, c->w}, x);
    test_guarded_tensor(&tw, "w", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, w);
    test_guarded_tensor(&tb, "b", 1, &c->cout, b);
    test_guarded_tensor(&tgy, "gy", 4, (size_t[]){c->n, c->cout, d.ho, d.wo}, gy);
    test_guarded_tensor(&ty, "y", 4, (size_t[]){c->n, c->cout, d.ho, d.wo}, NULL);
    test_guarded_tensor(&tgx, "gx", 4, (size_t[]){c->n, c->cin, c->h, c->w}, NULL);
    test_guarded_tensor(&tgw, "gw", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, NULL);
    test_guarded_tensor(&tgb, "gb", 1, &c->cout, NULL);
    size_t nws = sakd_conv2d_workspace_floats(2, c->cin, c->cout, c->kh, c->kw, d.ho, d.wo);
    test_guarded_tensor(&tws, "workspace", 1, &nws, NULL);
    sakd_conv2d_params p = {c->sh, c->sw, c->ph, c->pw};
    size_t sizes[4] = {d.ny, d.nx, d.nw, c->cout};
    sakd_tensor *outs[4] = {&ty, &tgx, &tgw, &tgb};
    float *run[3][4];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 4; i++)
            TEST_OK(sakd_tensor_fill(outs[i], NAN));
        TEST_OK(sakd_conv2d_forward(&ty, &tws, &tx, &tw, &tb, &p));
        TEST_OK(sakd_conv2d_backward(k == 2 ? NULL : &tgx, &tgw, &tgb, &tws, &tgy, &tx, &tw, &p));
        for (int i = 0; i < 4; i++) {
            run[k][i] = malloc(sizes[i] * 4);
            TEST_OK(sakd_tensor_download(outs[i], run[k][i]));
        }
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(memcmp(run[0][i], run[1][i], sizes[i] * 4) == 0, "output %d differs", i);
        if (i != 1)
            ck_assert_msg(memcmp(run[0][i], run[2][i], sizes[i] * 4) == 0,
                          "output %d differs without grad x", i);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++)
            free(run[k][i]);
    sakd_tensor *ts[] = {&tx, &tw, &tb, &ty, &tgy, &tgx, &tgw, &tgb, &tws};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    free(x);
    free(w);
    free(b);
    free(gy);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && strstr(sakd_error_detail(), name),
                  "detail '%s' should name %s and %s", sakd_error_detail(), op, name);
}

/* Forward and backward with the input (and its gradient) in layout lx and the output (and its
 * gradient) in layout ly (0 plain, else channel-blocked): y, gx, gw, gb in the plain layout,
 * or the status of the first call that failed. */
static sakd_status blocked_run(const conv_case *c, const conv_dims *d, const float *x,
                               const float *w, const float *b, const float *gy, size_t lx,
                               size_t ly, float *out[4])
{
    float *bx = malloc(d->nx * 4), *bgy = malloc(d->ny * 4),
          *tmp = malloc((d->nx > d->ny ? d->nx : d->ny) * 4);
    size_t px = c->h * c->w, py = d->ho * d->wo;
    if (lx)
        test_to_blocked(bx, x, c->n, c->cin, px, lx);
    else
        memcpy(bx, x, d->nx * 4);
    if (ly)
        test_to_blocked(bgy, gy, c->n, c->cout, py, ly);
    else
        memcpy(bgy, gy, d->ny * 4);
    sakd_tensor tx, tw, tb, ty, tgy, tgx, tgw, tgb, tws;
    test_guarded_tensor(&tx, "x", 4, (size_t[]){c->n, c->cin, c->h, c->w}, bx);
    test_guarded_tensor(&tw, "w", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, w);
    test_guarded_tensor(&tb, "b", 1, &c->cout, b);
    test_guarded_tensor(&tgy, "gy", 4, (size_t[]){c->n, c->cout, d->ho, d->wo}, bgy);
    test_guarded_tensor(&ty, "y", 4, (size_t[]){c->n, c->cout, d->ho, d->wo}, NULL);
    test_guarded_tensor(&tgx, "gx", 4, (size_t[]){c->n, c->cin, c->h, c->w}, NULL);
    test_guarded_tensor(&tgw, "gw", 4, (size_t[]){c->cout, c->cin, c->kh, c->kw}, NULL);
    test_guarded_tensor(&tgb, "gb", 1, &c->cout, NULL);
    size_t nws = sakd_conv2d_workspace_floats(2, c->cin, c->cout, c->kh, c->kw, d->ho, d->wo);
    test_guarded_tensor(&tws, "workspace", 1, &nws, NULL);
    tx.layout = tgx.layout = (int)lx;
    ty.layout = tgy.layout = (int)ly;
    sakd_conv2d_params p = {c->sh, c->sw, c->ph, c->pw};
    sakd_status st = sakd_conv2d_forward(&ty, &tws, &tx, &tw, c->bias ? &tb : NULL, &p);
    if (st == SAKD_OK)
        st = sakd_conv2d_backward(&tgx, &tgw, c->bias ? &tgb : NULL, &tws, &tgy, &tx, &tw, &p);
    size_t sizes[4] = {d->ny, d->nx, d->nw, c->cout}, blks[2] = {ly, lx},
           chans[2] = {c->cout, c->cin}, ps[2] = {py, px};
    sakd_tensor *outs[4] = {&ty, &tgx, &tgw, &tgb};
    for (int i = 0; st == SAKD_OK && i < 4; i++) {
        out[i] = calloc(sizes[i], 4);
        if (i == 3 && !c->bias)
            continue;
        TEST_OK(sakd_tensor_download(outs[i], i < 2 && blks[i] ? tmp : out[i]));
        if (i < 2 && blks[i])
            test_from_blocked(out[i], tmp, c->n, chans[i], ps[i], blks[i]);
    }
    sakd_tensor *ts[] = {&tx, &tw, &tb, &ty, &tgy, &tgx, &tgw, &tgb, &tws};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    free(bx);
    free(bgy);
    free(tmp);
    return st;
}

/* Channel-blocked activations (runtime/tensor.h) on the host provider give the bits of the plain
 * layout in every output, whichever of input and output is blocked, on the oneDNN route
 * (whether or not the primitive reads that layout natively) and on the im2col route (per-sample
 * gathers); the OpenCL route refuses them, naming the tensor. Fresh random shapes and values,
 * 3x3 and 1x1 kernels. */
START_TEST(test_conv_blocked)
{
    test_rng r = test_rng_new(2500 + (uint64_t)_i);
    size_t blk = _i % 2 ? 8 : 16, stride = test_rand_size(&r, 1, 2), ks = _i < 4 ? 3 : 1;
    conv_case c = {test_rand_size(&r, 1, 3),
                   blk * test_rand_size(&r, 1, 2),
                   test_rand_size(&r, 4, 10),
                   test_rand_size(&r, 4, 10),
                   blk * test_rand_size(&r, 1, 3),
                   ks,
                   ks,
                   stride,
                   stride,
                   ks / 2,
                   ks / 2,
                   (int)test_rand_size(&r, 0, 1)};
    conv_dims d = dims_of(&c);
    float *x = malloc(d.nx * 4), *w = malloc(d.nw * 4), *b = malloc(c.cout * 4),
          *gy = malloc(d.ny * 4);
    test_fill_uniform(&r, x, d.nx, -1, 1);
    test_fill_uniform(&r, w, d.nw, -1, 1);
    test_fill_uniform(&r, b, c.cout, -1, 1);
    test_fill_uniform(&r, gy, d.ny, -1, 1);
    int in_blk, out_blk;
    sakd_conv2d_params p = {c.sh, c.sw, c.ph, c.pw};
    TEST_OK(sakd_conv2d_native_layouts(test_ctx(), (size_t[]){c.n, c.cin, c.h, c.w},
                                       (size_t[]){c.cout, c.cin, c.kh, c.kw}, &p, c.bias, &in_blk,
                                       &out_blk));
    ck_assert(in_blk == 0 || in_blk == 8 || in_blk == 16);
    ck_assert(out_blk == 0 || out_blk == 8 || out_blk == 16);
    float *plain[4], *got[4];
    TEST_OK(blocked_run(&c, &d, x, w, b, gy, 0, 0, plain));
    const size_t layouts[3][2] = {{blk, 0}, {0, blk}, {blk, blk}};
    size_t sizes[4] = {d.ny, d.nx, d.nw, c.cout};
    static const char *what[4] = {"y", "grad_in", "grad_weight", "grad_bias"};
    for (int k = 0; k < 3; k++) {
        sakd_status st = blocked_run(&c, &d, x, w, b, gy, layouts[k][0], layouts[k][1], got);
        if (st != SAKD_OK) {
            /* not the host provider: nothing native, and the refusal says why */
            ck_assert_int_eq(st, SAKD_ERR_ARG);
            ck_assert_msg(strstr(sakd_error_detail(), "host provider"), "detail '%s'",
                          sakd_error_detail());
            ck_assert(in_blk == 0 && out_blk == 0 && !sakd_host_active(test_ctx()));
            continue;
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(memcmp(plain[i], got[i], sizes[i] * 4) == 0,
                          "%s of [%zu,%zu,%zu,%zu] -> %zu s%zu, input layout %zu, output layout "
                          "%zu, differs from the plain layout's (seed %llu)",
                          what[i], c.n, c.cin, c.h, c.w, c.cout, c.sh, layouts[k][0], layouts[k][1],
                          (unsigned long long)test_seed());
            free(got[i]);
        }
    }
    for (int i = 0; i < 4; i++)
        free(plain[i]);
    free(x);
    free(w);
    free(b);
    free(gy);
}
END_TEST

/* sakd_layout_convert between the plain layout and blocks of 8 and 16, and from one block to
 * the other, against the test's own index arithmetic on fresh random values; the way back
 * restores the plain tensor exactly. Off the host provider, and for a block that does not
 * divide the channels, a message naming the tensor. */
START_TEST(test_layout_convert)
{
    test_rng r = test_rng_new(2600);
    size_t n = test_rand_size(&r, 1, 3), c = 16 * test_rand_size(&r, 1, 3),
           h = test_rand_size(&r, 1, 9), w = test_rand_size(&r, 1, 9), p = h * w, total = n * c * p,
           shape[4] = {n, c, h, w};
    float *x = malloc(total * 4), *want = malloc(total * 4), *got = malloc(total * 4);
    test_fill_uniform(&r, x, total, -1, 1);
    sakd_tensor tp, t8, t16, back;
    test_guarded_tensor(&tp, "plain", 4, shape, x);
    test_guarded_tensor(&t8, "blocked8", 4, shape, NULL);
    test_guarded_tensor(&t16, "blocked16", 4, shape, NULL);
    test_guarded_tensor(&back, "back", 4, shape, NULL);
    t8.layout = 8;
    t16.layout = 16;
    if (!sakd_host_active(test_ctx())) {
        expect_arg_error(sakd_layout_convert(&t16, &tp), "layout_convert", "host provider");
    } else {
        TEST_OK(sakd_layout_convert(&t16, &tp));
        TEST_OK(sakd_layout_convert(&t8, &t16)); /* block to block */
        for (size_t blk = 8; blk <= 16; blk *= 2) {
            test_to_blocked(want, x, n, c, p, blk);
            TEST_OK(sakd_tensor_download(blk == 8 ? &t8 : &t16, got));
            ck_assert_msg(memcmp(want, got, total * 4) == 0, "blocked by %zu differs", blk);
        }
        TEST_OK(sakd_layout_convert(&back, &t8));
        TEST_OK(sakd_tensor_download(&back, got));
        ck_assert_msg(memcmp(x, got, total * 4) == 0, "plain -> 16 -> 8 -> plain differs");
        sakd_tensor odd;
        size_t oshape[4] = {n, 24, h, w};
        test_guarded_tensor(&odd, "odd_channels", 4, oshape, NULL);
        odd.layout = 16;
        sakd_tensor oplain;
        test_guarded_tensor(&oplain, "odd_plain", 4, oshape, NULL);
        expect_arg_error(sakd_layout_convert(&oplain, &odd), "layout_convert", "odd_channels");
        sakd_tensor_free(&odd);
        sakd_tensor_free(&oplain);
    }
    sakd_tensor *ts[] = {&tp, &t8, &t16, &back};
    for (size_t i = 0; i < 4; i++)
        sakd_tensor_free(ts[i]);
    free(x);
    free(want);
    free(got);
}
END_TEST

START_TEST(test_conv_bad_args)
{
    sakd_tensor x, w, w2, b, y, y2, ws, small, gw, gx;
    test_guarded_tensor(&x, "input_x", 4, (size_t[]){2, 3, 5, 5}, NULL);
    test_guarded_tensor(&w, "weight_w", 4, (size_t[]){4, 3, 3, 3}, NULL);
    test_guarded_tensor(&w2, "weight_cin2", 4, (size_t[]){4, 2, 3, 3}, NULL);
    test_guarded_tensor(&b, "bias_5", 1, (size_t[]){5}, NULL);
    test_guarded_tensor(&y, "out_y", 4, (size_t[]){2, 4, 5, 5}, NULL);
    test_guarded_tensor(&y2, "out_wrong", 4, (size_t[]){2, 4, 3, 3}, NULL);
    size_t nws = sakd_conv2d_workspace_floats(1, 3, 4, 3, 3, 5, 5);
    test_guarded_tensor(&ws, "ws", 1, &nws, NULL);
    size_t nsmall = nws - 1;
    test_guarded_tensor(&small, "ws_small", 1, &nsmall, NULL);
    test_guarded_tensor(&gw, "gw_wrong", 4, (size_t[]){4, 3, 1, 1}, NULL);
    test_guarded_tensor(&gx, "gx_wrong", 4, (size_t[]){2, 3, 5, 4}, NULL);
    sakd_conv2d_params p = {1, 1, 1, 1}, p0 = {0, 1, 1, 1};
    TEST_OK(sakd_conv2d_forward(&y, &ws, &x, &w, NULL, &p));
    expect_arg_error(sakd_conv2d_forward(&y, &ws, &x, &w2, NULL, &p), "conv2d", "weight_cin2");
    expect_arg_error(sakd_conv2d_forward(&y2, &ws, &x, &w, NULL, &p), "conv2d", "out_wrong");
    expect_arg_error(sakd_conv2d_forward(&y, &ws, &x, &w, &b, &p), "conv2d", "bias_5");
    expect_arg_error(sakd_conv2d_forward(&y, &small, &x, &w, NULL, &p), "conv2d", "ws_small");
    expect_arg_error(sakd_conv2d_forward(&y, &ws, &x, &w, NULL, &p0), "conv2d", "stride");
    sakd_tensor nobuf = w;
    nobuf.buf = NULL;
    expect_arg_error(sakd_conv2d_forward(&y, &ws, &x, &nobuf, NULL, &p), "conv2d", "weight");
    expect_arg_error(sakd_conv2d_forward(&y, &ws, &x, &w, NULL, &(sakd_conv2d_params){1, 1, 0, 0}),
                     "conv2d", "out_y");
    sakd_tensor gw_ok;
    test_guarded_tensor(&gw_ok, "gw", 4, (size_t[]){4, 3, 3, 3}, NULL);
    expect_arg_error(sakd_conv2d_backward(NULL, &gw, NULL, &ws, &y, &x, &w, &p), "conv2d_backward",
                     "gw_wrong");
    expect_arg_error(sakd_conv2d_backward(&gx, &gw_ok, NULL, &ws, &y, &x, &w, &p),
                     "conv2d_backward", "gx_wrong");
    expect_arg_error(sakd_conv2d_backward(NULL, &gw_ok, NULL, &ws, &y2, &x, &w, &p),
                     "conv2d_backward", "out_wrong");
    sakd_tensor *ts[] = {&x, &w, &w2, &b, &y, &y2, &ws, &small, &gw, &gx, &gw_ok};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
}
END_TEST

Suite *suite_conv(void)
{
    Suite *s = suite_create("conv");
    /* Every case under each GEMM provider and each route of the host provider's convolutions
     * (im2col + BLAS, oneDNN, and the automatic mix). */
    for (int p = 0; p < test_conv_providers(); p++) {
        TCase *tc = test_conv_provider_tcase(p);
        tcase_add_loop_test(tc, test_conv_cases, 0, (int)N_CASES);
        tcase_add_loop_test(tc, test_conv_chunked, 0, 4);
        tcase_add_loop_test(tc, test_conv_views, 0, 2);
        tcase_add_loop_test(tc, test_conv_random, 0, 6);
        tcase_add_test(tc, test_conv_deterministic);
        tcase_add_loop_test(tc, test_conv_blocked, 0, 8);
        tcase_add_test(tc, test_layout_convert);
        tcase_add_test(tc, test_conv_bad_args);
        suite_add_tcase(s, tc);
    }
    return s;
}
