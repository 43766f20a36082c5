/* test_loss.c — losses (cross-entropy, softened KL, mse, l1) and feature transforms (norm, attn)
 * against double-precision CPU references, backward passes against the references' analytic
 * gradients checked by central finite differences, known answers, determinism and bad input. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Softmax rows of K float values with |z/tau| ≤ ~10: each log-sum-exp sums K exps (relative
 * error ≤ K·eps) and exp/log add a few ulps of the row maximum, so log p is off by about
 * (K + |max|)·eps; a row loss or p_s − p_t inherits that, times tau² resp. tau. 8× margin. */
#define SOFTMAX_TOL(K, zmax) (8.0 * ((double)(K) + 16.0 + (zmax)) * FLT_EPSILON)
/* A float sum of n terms in chunks of `chunk` then G chunk sums: relative to Σ|terms| the error
 * is ≤ (chunk + G)·eps; 2× margin plus the final scale's rounding. */
#define SUM_TOL(chunk, G) ((2.0 * ((double)(chunk) + (double)(G)) + 4.0) * FLT_EPSILON)
/* Element-wise gradients: a subtraction, a float scale and a product, each one rounding. */
#define ELEMENT_TOL (4.0 * FLT_EPSILON)
/* Per-channel statistics over N values (mean, then Σ(x − mean)²), each with error ≤ N·eps of
 * its magnitude, then a few element ops: 8× margin, relative to the tensor's largest value. */
#define CHANNEL_TOL(N) (8.0 * ((double)(N) + 16.0) * FLT_EPSILON)
/* Central differences in double with step FD_STEP: truncation ~ h²·f''' and cancellation
 * ~ eps_double·|f|/h, both far below FD_TOL for these smooth functions of O(1) inputs. */
#define FD_STEP 1e-5
#define FD_TOL 1e-6
/* Loss chunking of the device code (src/ops/loss.c), needed for SUM_TOL. */
#define LOSS_MAX_CHUNKS 1024

/* ---- helpers --------------------------------------------------------------------------- */

/* Every tensor is a view TENSOR_PAD elements into a larger buffer (so that the kernels' offsets
 * are exercised); the buffers are kept here and freed by tfree_all at the end of a test. */
#define TENSOR_PAD 5
#define MAX_TENSORS 64
static sakd_tensor bases[MAX_TENSORS];
static size_t n_bases;

static void tfree_all(void)
{
    for (size_t i = 0; i < n_bases; i++)
        sakd_tensor_free(&bases[i]);
    n_bases = 0;
}

/* A new tensor holding `host`, or NaN when host is NULL. */
static sakd_tensor tnew(const char *name, int ndim, const size_t *shape, const float *host)
{
    ck_assert(n_bases < MAX_TENSORS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    size_t total = n + TENSOR_PAD;
    sakd_tensor *base = &bases[n_bases++], t;
    TEST_OK(sakd_tensor_new(base, test_ctx(), "base", 1, &total));
    TEST_OK(sakd_tensor_fill(base, NAN));
    TEST_OK(sakd_tensor_view(&t, base, name, TENSOR_PAD, ndim, shape));
    if (host)
        TEST_OK(sakd_tensor_upload(&t, host));
    return t;
}

static sakd_tensor tnew_scalar(void)
{
    size_t one = 1;
    return tnew("loss", 1, &one, NULL);
}

static float *tget(const sakd_tensor *t)
{
    size_t n = sakd_tensor_numel(t);
    float *h = malloc(n * sizeof *h);
    test_poison(h, n);
    TEST_OK(sakd_tensor_download(t, h));
    return h;
}

static float tget1(const sakd_tensor *t)
{
    float v = NAN;
    TEST_OK(sakd_tensor_download(t, &v));
    return v;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

static void check_close(const char *what, const float *got, const double *ref, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - ref[i]) <= tol,
                      "%s[%zu] = %.9g, reference %.9g, tol %.3g "
                      "(seed %llu)",
                      what, i, got[i], ref[i], tol, (unsigned long long)test_seed());
}

/* A scalar function of n doubles with context, for finite differences. */
typedef double (*scalar_fn)(const double *x, void *ctx);

/* Central differences of f at x against the analytic gradient g (n values), at most FD_POINTS
 * coordinates spread evenly over the n. */
#define FD_POINTS 300
static void check_fd(const char *what, scalar_fn f, void *ctx, double *x, const double *g, size_t n)
{
    double scale = fmax(1e-3, max_abs(g, n));
    size_t step = n > FD_POINTS ? n / FD_POINTS : 1;
    for (size_t i = 0; i < n; i += step) {
        double x0 = x[i];
        x[i] = x0 + FD_STEP;
        double fp = f(x, ctx);
        x[i] = x0 - FD_STEP;
        double fm = f(x, ctx);
        x[i] = x0;
        double fd = (fp - fm) / (2 * FD_STEP);
        ck_assert_msg(fabs(fd - g[i]) <= FD_TOL * scale,
                      "%s: finite difference [%zu] %.12g, "
                      "analytic %.12g (seed %llu)",
                      what, i, fd, g[i], (unsigned long long)test_seed());
    }
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && (!name || strstr(sakd_error_detail(), name)),
                  "detail '%s' should name %s and %s", sakd_error_detail(), op, name ? name : "-");
}

/* ---- double references ------------------------------------------------------------------ */

/* log softmax of the row z/tau into lp (K values). */
static void ref_log_softmax(const double *z, size_t K, double tau, double *lp)
{
    double mx = -INFINITY, s = 0;
    for (size_t i = 0; i < K; i++)
        mx = fmax(mx, z[i] / tau);
    for (size_t i = 0; i < K; i++)
        s += exp(z[i] / tau - mx);
    for (size_t i = 0; i < K; i++)
        lp[i] = z[i] / tau - mx - log(s);
}

typedef struct ce_ref {
    size_t B, K;
    const int *y;
} ce_ref;

static double ref_ce(const double *z, void *vc)
{
    ce_ref *c = vc;
    double *lp = malloc(c->K * sizeof *lp), L = 0;
    for (size_t b = 0; b < c->B; b++) {
        ref_log_softmax(z + b * c->K, c->K, 1.0, lp);
        L -= lp[c->y[b]];
    }
    free(lp);
    return L / (double)c->B;
}

static void ref_ce_grad(const double *z, const ce_ref *c, double *g)
{
    for (size_t b = 0; b < c->B; b++) {
        ref_log_softmax(z + b * c->K, c->K, 1.0, g + b * c->K);
        for (size_t i = 0; i < c->K; i++)
            g[b * c->K + i] = (exp(g[b * c->K + i]) - (i == (size_t)c->y[b])) / (double)c->B;
    }
}

typedef struct kl_ref {
    size_t B, K;
    double tau;
    const double *t;
} kl_ref;

static double ref_kl(const double *s, void *vc)
{
    kl_ref *c = vc;
    double *ls = malloc(c->K * sizeof *ls), *lt = malloc(c->K * sizeof *lt), L = 0;
    for (size_t b = 0; b < c->B; b++) {
        ref_log_softmax(s + b * c->K, c->K, c->tau, ls);
        ref_log_softmax(c->t + b * c->K, c->K, c->tau, lt);
        for (size_t i = 0; i < c->K; i++)
            L += exp(lt[i]) * (lt[i] - ls[i]);
    }
    free(ls);
    free(lt);
    return c->tau * c->tau * L / (double)c->B;
}

/* Gradient of ref_kl derived by hand: tau·(p_s − p_t)/B. */
static void ref_kl_grad(const double *s, const kl_ref *c, double *g)
{
    double *lt = malloc(c->K * sizeof *lt);
    for (size_t b = 0; b < c->B; b++) {
        ref_log_softmax(s + b * c->K, c->K, c->tau, g + b * c->K);
        ref_log_softmax(c->t + b * c->K, c->K, c->tau, lt);
        for (size_t i = 0; i < c->K; i++)
            g[b * c->K + i] = c->tau * (exp(g[b * c->K + i]) - exp(lt[i])) / (double)c->B;
    }
    free(lt);
}

typedef struct dist_ref {
    size_t n;
    const double *t;
    int absolute;
} dist_ref;

static double ref_dist(const double *s, void *vc)
{
    dist_ref *c = vc;
    double L = 0;
    for (size_t i = 0; i < c->n; i++) {
        double d = s[i] - c->t[i];
        L += c->absolute ? fabs(d) : d * d;
    }
    return L / (double)c->n;
}

static void ref_dist_grad(const double *s, const dist_ref *c, double *g)
{
    for (size_t i = 0; i < c->n; i++) {
        double d = s[i] - c->t[i];
        g[i] = (c->absolute ? (double)((d > 0) - (d < 0)) : 2 * d) / (double)c->n;
    }
}

typedef struct feat_ref {
    size_t B, C, HW;
    const double *dy; /* the upstream gradient defining the scalar Σ dy·f(x) */
} feat_ref;

static void ref_norm(const double *x, const feat_ref *c, double *y, double *mean, double *rstd)
{
    double N = (double)(c->B * c->HW);
    for (size_t ch = 0; ch < c->C; ch++) {
        double s = 0, v = 0;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->HW; j++)
                s += x[(b * c->C + ch) * c->HW + j];
        double mu = s / N;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->HW; j++)
                v += pow(x[(b * c->C + ch) * c->HW + j] - mu, 2);
        double r = 1 / sqrt(v / N + 1e-5);
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->HW; j++)
                y[(b * c->C + ch) * c->HW + j] = (x[(b * c->C + ch) * c->HW + j] - mu) * r;
        if (mean)
            mean[ch] = mu;
        if (rstd)
            rstd[ch] = r;
    }
}

static double ref_norm_dot(const double *x, void *vc)
{
    feat_ref *c = vc;
    size_t n = c->B * c->C * c->HW;
    double *y = malloc(n * sizeof *y), L = 0;
    ref_norm(x, c, y, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        L += c->dy[i] * y[i];
    free(y);
    return L;
}

/* dx = rstd·(dy − mean(dy) − y·mean(dy·y)) per channel. */
static void ref_norm_grad(const double *x, const feat_ref *c, double *dx)
{
    size_t n = c->B * c->C * c->HW;
    double N = (double)(c->B * c->HW);
    double *y = malloc(n * sizeof *y), *rstd = malloc(c->C * sizeof *rstd);
    ref_norm(x, c, y, NULL, rstd);
    for (size_t ch = 0; ch < c->C; ch++) {
        double sd = 0, sdy = 0;
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->HW; j++) {
                size_t k = (b * c->C + ch) * c->HW + j;
                sd += c->dy[k];
                sdy += c->dy[k] * y[k];
            }
        for (size_t b = 0; b < c->B; b++)
            for (size_t j = 0; j < c->HW; j++) {
                size_t k = (b * c->C + ch) * c->HW + j;
                dx[k] = rstd[ch] * (c->dy[k] - sd / N - y[k] * sdy / N);
            }
    }
    free(y);
    free(rstd);
}

static void ref_attn(const double *x, const feat_ref *c, double *a, double *norm)
{
    for (size_t b = 0; b < c->B; b++) {
        double ss = 0;
        for (size_t j = 0; j < c->HW; j++) {
            double q = 0;
            for (size_t ch = 0; ch < c->C; ch++)
                q += pow(x[(b * c->C + ch) * c->HW + j], 2);
            a[b * c->HW + j] = q;
            ss += q * q;
        }
        double nrm = sqrt(ss);
        for (size_t j = 0; j < c->HW; j++)
            a[b * c->HW + j] /= fmax(nrm, 1e-12);
        if (norm)
            norm[b] = nrm;
    }
}

static double ref_attn_dot(const double *x, void *vc)
{
    feat_ref *c = vc;
    size_t n = c->B * c->HW;
    double *a = malloc(n * sizeof *a), L = 0;
    ref_attn(x, c, a, NULL);
    for (size_t i = 0; i < n; i++)
        L += c->dy[i] * a[i];
    free(a);
    return L;
}

/* dx = 2x·(dA − A⟨A, dA⟩)/‖q‖ (regular case; inputs here never have ‖q‖ ≤ eps). */
static void ref_attn_grad(const double *x, const feat_ref *c, double *dx)
{
    double *a = malloc(c->B * c->HW * sizeof *a), *norm = malloc(c->B * sizeof *norm);
    ref_attn(x, c, a, norm);
    for (size_t b = 0; b < c->B; b++) {
        double dot = 0;
        for (size_t j = 0; j < c->HW; j++)
            dot += a[b * c->HW + j] * c->dy[b * c->HW + j];
        for (size_t j = 0; j < c->HW; j++) {
            double dq = (c->dy[b * c->HW + j] - a[b * c->HW + j] * dot) / norm[b];
            for (size_t ch = 0; ch < c->C; ch++) {
                size_t k = (b * c->C + ch) * c->HW + j;
                dx[k] = 2 * x[k] * dq;
            }
        }
    }
    free(a);
    free(norm);
}

/* ---- cross-entropy ------------------------------------------------------------------------ */

/* A labels buffer holding LABELS_OFF junk ints then y[0..B), to exercise the offset. */
#define LABELS_OFF 3
static cl_mem labels_new(const int *y, size_t B)
{
    cl_mem m;
    size_t bytes = (B + LABELS_OFF) * sizeof(int);
    TEST_OK(sakd_buffer_new(test_ctx(), "labels", bytes, &m));
    int *h = malloc(bytes);
    for (size_t i = 0; i < LABELS_OFF; i++)
        h[i] = -77;
    memcpy(h + LABELS_OFF, y, B * sizeof(int));
    ck_assert_int_eq(
        clEnqueueWriteBuffer(test_ctx()->queue, m, CL_TRUE, 0, bytes, h, 0, NULL, NULL),
        CL_SUCCESS);
    free(h);
    return m;
}

static void labels_free(cl_mem m, size_t B)
{
    sakd_buffer_free(test_ctx(), m, (B + LABELS_OFF) * sizeof(int));
}

/* Shapes of loop test _i: 0 → B = 1, K = 1; 1 → B = 1, K = 2; 2 → K = 2; 3 → odd sizes. */
static void rows_shape(test_rng *r, int i, size_t *B, size_t *K)
{
    *B = i < 2 ? 1 : test_rand_size(r, 2, 37) | 1;
    *K = i == 0 ? 1 : i < 3 ? 2 : test_rand_size(r, 3, 130) | 1;
}

START_TEST(test_ce)
{
    test_rng r = test_rng_new(3000 + (uint64_t)_i);
    size_t B, K;
    rows_shape(&r, _i, &B, &K);
    size_t shape[2] = {B, K}, n = B * K;
    float *z = malloc(n * sizeof *z);
    int *y = malloc(B * sizeof *y);
    test_fill_uniform(&r, z, n, -6, 6);
    for (size_t b = 0; b < B; b++)
        y[b] = (int)test_rand_size(&r, 0, K - 1);
    float weight = (float)test_rand_uniform(&r, 0.25, 4);
    cl_mem lab = labels_new(y, B);
    sakd_tensor tz = tnew("logits", 2, shape, z), tg = tnew("dlogits", 2, shape, NULL);
    sakd_tensor tl = tnew_scalar();
    TEST_OK(sakd_cross_entropy_forward(&tl, &tz, lab, LABELS_OFF, y));
    TEST_OK(sakd_cross_entropy_backward(&tg, &tz, lab, LABELS_OFF, NULL, weight));
    float loss = tget1(&tl), *g = tget(&tg);

    double *zd = to_double(z, n), *gd = malloc(n * sizeof *gd);
    ce_ref c = {B, K, y};
    double L = ref_ce(zd, &c);
    ck_assert_msg(fabs(loss - L) <= SOFTMAX_TOL(K, 6) * fmax(1, L),
                  "B %zu K %zu: loss %.9g, "
                  "reference %.9g (seed %llu)",
                  B, K, loss, L, (unsigned long long)test_seed());
    ref_ce_grad(zd, &c, gd);
    check_fd("ce reference gradient", ref_ce, &c, zd, gd, n);
    for (size_t i = 0; i < n; i++)
        gd[i] *= weight;
    check_close("ce gradient", g, gd, n, SOFTMAX_TOL(K, 6) * weight / (double)B);

    labels_free(lab, B);
    tfree_all();
    free(z), free(y), free(g), free(zd), free(gd);
}
END_TEST

/* One-hot perfect logits: 100 on the label, 0 elsewhere, give a loss of (K−1)·e^−100 ≈ 0. */
START_TEST(test_ce_perfect)
{
    size_t B = 3, K = 7, shape[2] = {B, K};
    float z[21] = {0};
    int y[3] = {0, 6, 3};
    for (size_t b = 0; b < B; b++)
        z[b * K + (size_t)y[b]] = 100;
    cl_mem lab = labels_new(y, B);
    sakd_tensor tz = tnew("logits", 2, shape, z), tl = tnew_scalar();
    TEST_OK(sakd_cross_entropy_forward(&tl, &tz, lab, LABELS_OFF, NULL));
    float loss = tget1(&tl);
    ck_assert_msg(loss >= 0 && loss <= 1e-6, "perfect logits: loss %.9g", loss);
    labels_free(lab, B);
    tfree_all();
}
END_TEST

/* Labels outside [0, K): SAKD_ERR_ARG with a host copy; NaN loss and gradient row without. */
START_TEST(test_ce_bad_label)
{
    size_t B = 3, K = 4, shape[2] = {B, K};
    float z[12] = {0};
    int y[3] = {1, 4, 2};
    cl_mem lab = labels_new(y, B);
    sakd_tensor tz = tnew("logits", 2, shape, z), tl = tnew_scalar();
    sakd_tensor tg = tnew("dlogits", 2, shape, NULL);
    expect_arg_error(sakd_cross_entropy_forward(&tl, &tz, lab, LABELS_OFF, y),
                     "cross_entropy_forward", "sample 1");
    expect_arg_error(sakd_cross_entropy_backward(&tg, &tz, lab, LABELS_OFF, y, 1.0f),
                     "cross_entropy_backward", "sample 1");
    TEST_OK(sakd_cross_entropy_forward(&tl, &tz, lab, LABELS_OFF, NULL));
    ck_assert_msg(isnan(tget1(&tl)), "a bad label must make the device loss NaN");
    TEST_OK(sakd_tensor_fill(&tg, 0.0f));
    TEST_OK(sakd_cross_entropy_backward(&tg, &tz, lab, LABELS_OFF, NULL, 1.0f));
    float *g = tget(&tg);
    for (size_t i = 0; i < B * K; i++)
        ck_assert_msg((i / K == 1) == (isnan(g[i]) != 0), "gradient [%zu] = %g", i, g[i]);
    free(g);
    labels_free(lab, B);
    tfree_all();
}
END_TEST

/* ---- softened KL (logit KD and feature kl) ------------------------------------------------ */

static void kl_case(test_rng *r, int ndim, const size_t *shape, double tau)
{
    size_t B = shape[0], n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    size_t K = n / B;
    float *s = malloc(n * sizeof *s), *t = malloc(n * sizeof *t);
    test_fill_uniform(r, s, n, -5, 5);
    test_fill_uniform(r, t, n, -5, 5);
    float weight = (float)test_rand_uniform(r, 0.25, 4);
    sakd_tensor ts = tnew("student", ndim, shape, s), tt = tnew("teacher", ndim, shape, t);
    sakd_tensor tg = tnew("dstudent", ndim, shape, NULL), tl = tnew_scalar();
    TEST_OK(sakd_softmax_kl_forward(&tl, &ts, &tt, (float)tau));
    TEST_OK(sakd_softmax_kl_backward(&tg, &ts, &tt, (float)tau, weight));
    float loss = tget1(&tl), *g = tget(&tg);

    double *sd = to_double(s, n), *td = to_double(t, n), *gd = malloc(n * sizeof *gd);
    kl_ref c = {B, K, (float)tau, td};
    double L = ref_kl(sd, &c), zmax = 5 / c.tau;
    ck_assert_msg(fabs(loss - L) <=
                      SOFTMAX_TOL(K, zmax) * c.tau * c.tau * fmax(1, L / (c.tau * c.tau)),
                  "B %zu K %zu tau %g: loss %.9g, reference %.9g (seed %llu)", B, K, tau, loss, L,
                  (unsigned long long)test_seed());
    ref_kl_grad(sd, &c, gd);
    check_fd("kl reference gradient", ref_kl, &c, sd, gd, n);
    for (size_t i = 0; i < n; i++)
        gd[i] *= weight;
    check_close("kl gradient", g, gd, n, SOFTMAX_TOL(K, zmax) * weight * c.tau / (double)B);
    tfree_all();
    free(s), free(t), free(g), free(sd), free(td), free(gd);
}

START_TEST(test_logit_kd)
{
    test_rng r = test_rng_new(3100 + (uint64_t)_i);
    size_t shape[2];
    rows_shape(&r, _i, &shape[0], &shape[1]);
    double taus[4] = {1, 4, 20, 2.5};
    kl_case(&r, 2, shape, taus[_i]);
}
END_TEST

START_TEST(test_feature_kl)
{
    test_rng r = test_rng_new(3200 + (uint64_t)_i);
    size_t shape[4] = {_i == 0 ? 1 : test_rand_size(&r, 2, 5) | 1, _i == 0 ? 1 : 3,
                       test_rand_size(&r, 1, 7) | 1, test_rand_size(&r, 1, 9) | 1};
    kl_case(&r, 4, shape, _i == 1 ? 2.0 : 1.0);
}
END_TEST

/* KL of identical distributions is exactly 0, and so is its gradient. */
START_TEST(test_kl_identical)
{
    test_rng r = test_rng_new(3300);
    size_t shape[2] = {5, 11}, n = 55;
    float s[55];
    test_fill_uniform(&r, s, n, -8, 8);
    sakd_tensor ts = tnew("student", 2, shape, s), tt = tnew("teacher", 2, shape, s);
    sakd_tensor tg = tnew("dstudent", 2, shape, NULL), tl = tnew_scalar();
    TEST_OK(sakd_softmax_kl_forward(&tl, &ts, &tt, 3.0f));
    TEST_OK(sakd_softmax_kl_backward(&tg, &ts, &tt, 3.0f, 1.0f));
    ck_assert_msg(tget1(&tl) == 0.0f, "KL(p || p) = %g", tget1(&tl));
    float *g = tget(&tg);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(g[i] == 0.0f, "gradient [%zu] = %g", i, g[i]);
    free(g);
    tfree_all();
}
END_TEST

/* Logits z = tau·a keep p = softmax(a) for every tau; with tau a power of two every float step
 * is exact, so loss(tau) = tau² · loss(1) exactly. */
START_TEST(test_kd_tau_squared)
{
    test_rng r = test_rng_new(3400);
    size_t shape[2] = {3, 10}, n = 30;
    float a[30], b[30], s[30], t[30];
    test_fill_uniform(&r, a, n, -3, 3);
    test_fill_uniform(&r, b, n, -3, 3);
    float base = NAN;
    for (int e = 0; e < 4; e++) {
        float tau = (float)(1 << e);
        for (size_t i = 0; i < n; i++)
            s[i] = tau * a[i], t[i] = tau * b[i];
        sakd_tensor ts = tnew("student", 2, shape, s), tt = tnew("teacher", 2, shape, t);
        sakd_tensor tl = tnew_scalar();
        TEST_OK(sakd_softmax_kl_forward(&tl, &ts, &tt, tau));
        float loss = tget1(&tl);
        if (e == 0) {
            base = loss;
            ck_assert(base > 0);
        }
        ck_assert_msg(loss == tau * tau * base, "tau %g: loss %.9g, tau² · loss(1) = %.9g", tau,
                      loss, tau * tau * base);
        tfree_all();
    }
}
END_TEST

/* ---- mse and l1 --------------------------------------------------------------------------- */

static void dist_case(test_rng *r, int ndim, const size_t *shape, int absolute)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *s = malloc(n * sizeof *s), *t = malloc(n * sizeof *t);
    test_fill_uniform(r, s, n, -3, 3);
    test_fill_uniform(r, t, n, -3, 3);
    for (size_t i = 0; i < n; i++) /* no ties: l1 is not differentiable there */
        if (s[i] == t[i])
            t[i] += 0.5f;
    float weight = (float)test_rand_uniform(r, 0.25, 4);
    sakd_tensor ts = tnew("student", ndim, shape, s), tt = tnew("teacher", ndim, shape, t);
    sakd_tensor tg = tnew("dstudent", ndim, shape, NULL), tl = tnew_scalar();
    if (absolute) {
        TEST_OK(sakd_l1_forward(&tl, &ts, &tt));
        TEST_OK(sakd_l1_backward(&tg, &ts, &tt, weight));
    } else {
        TEST_OK(sakd_mse_forward(&tl, &ts, &tt));
        TEST_OK(sakd_mse_backward(&tg, &ts, &tt, weight));
    }
    float loss = tget1(&tl), *g = tget(&tg);
    double *sd = to_double(s, n), *td = to_double(t, n), *gd = malloc(n * sizeof *gd);
    dist_ref c = {n, td, absolute};
    double L = ref_dist(sd, &c);
    size_t G = n < LOSS_MAX_CHUNKS ? n : LOSS_MAX_CHUNKS, chunk = (n + G - 1) / G;
    G = (n + chunk - 1) / chunk;
    ck_assert_msg(fabs(loss - L) <= SUM_TOL(chunk, G) * L,
                  "%s n %zu: loss %.9g, reference "
                  "%.9g (seed %llu)",
                  absolute ? "l1" : "mse", n, loss, L, (unsigned long long)test_seed());
    ref_dist_grad(sd, &c, gd);
    check_fd(absolute ? "l1 reference gradient" : "mse reference gradient", ref_dist, &c, sd, gd,
             n);
    for (size_t i = 0; i < n; i++)
        gd[i] *= weight;
    check_close(absolute ? "l1 gradient" : "mse gradient", g, gd, n, ELEMENT_TOL * max_abs(gd, n));
    tfree_all();
    free(s), free(t), free(g), free(sd), free(td), free(gd);
}

/* Shapes: _i 0 → [1, 1]; 1 → [1, C, H, W] odd; 2 → [B, D]; 3 → [B, C, H, W] with n > 1024·2. */
static int dist_shape(test_rng *r, int i, size_t *shape)
{
    if (i == 0) {
        shape[0] = shape[1] = 1;
        return 2;
    }
    if (i == 2) {
        shape[0] = test_rand_size(r, 2, 9) | 1;
        shape[1] = test_rand_size(r, 2, 300) | 1;
        return 2;
    }
    shape[0] = i == 1 ? 1 : 7;
    shape[1] = test_rand_size(r, 2, 33) | 1;
    shape[2] = test_rand_size(r, 3, 11) | 1;
    shape[3] = test_rand_size(r, 3, 11) | 1;
    return 4;
}

START_TEST(test_mse)
{
    test_rng r = test_rng_new(3500 + (uint64_t)_i);
    size_t shape[4];
    int nd = dist_shape(&r, _i, shape);
    dist_case(&r, nd, shape, 0);
}
END_TEST

START_TEST(test_l1)
{
    test_rng r = test_rng_new(3600 + (uint64_t)_i);
    size_t shape[4];
    int nd = dist_shape(&r, _i, shape);
    dist_case(&r, nd, shape, 1);
}
END_TEST

/* l1 at ties: the gradient is exactly 0 there; mse of identical tensors is exactly 0. */
START_TEST(test_l1_ties)
{
    size_t shape[2] = {2, 3};
    float s[6] = {1, -2, 3, 0.5f, 0, 7}, t[6] = {1, -1, 3, 0.25f, 0, 8};
    sakd_tensor ts = tnew("student", 2, shape, s), tt = tnew("teacher", 2, shape, t);
    sakd_tensor tg = tnew("dstudent", 2, shape, NULL), tl = tnew_scalar();
    TEST_OK(sakd_l1_backward(&tg, &ts, &tt, 6.0f));
    float *g = tget(&tg), want[6] = {0, -1, 0, 1, 0, -1};
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(g[i] == want[i], "l1 gradient [%zu] = %g, want %g", i, g[i], want[i]);
    TEST_OK(sakd_mse_forward(&tl, &ts, &ts));
    ck_assert(tget1(&tl) == 0.0f);
    free(g);
    tfree_all();
}
END_TEST

/* ---- norm transform ----------------------------------------------------------------------- */

static int feat_shape(test_rng *r, int i, size_t *shape)
{
    shape[0] = i == 0 ? 1 : test_rand_size(r, 2, 5) | 1;
    shape[1] = i == 1 ? 1 : test_rand_size(r, 2, 13) | 1;
    if (i == 2)
        return 2; /* [B, C] */
    shape[2] = test_rand_size(r, 1, 9) | 1;
    shape[3] = test_rand_size(r, 1, 11) | 1;
    return 4;
}

START_TEST(test_feat_norm)
{
    test_rng r = test_rng_new(3700 + (uint64_t)_i);
    size_t shape[4];
    int nd = feat_shape(&r, _i, shape);
    size_t B = shape[0], C = shape[1], HW = nd == 4 ? shape[2] * shape[3] : 1, n = B * C * HW;
    if (B * HW < 2) /* one value per channel normalizes to 0: give the test some substance */
        shape[0] = B = 3, n = B * C * HW;
    float *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy);
    test_fill_uniform(&r, x, n, -3, 5);
    test_fill_uniform(&r, dy, n, -1, 1);
    sakd_tensor tx = tnew("x", nd, shape, x), ty = tnew("out", nd, shape, NULL);
    sakd_tensor tdy = tnew("dout", nd, shape, dy), tdx = tnew("dx", nd, shape, NULL);
    sakd_tensor tm = tnew("mean", 1, &C, NULL), trs = tnew("rstd", 1, &C, NULL);
    TEST_OK(sakd_feat_norm_forward(&ty, &tm, &trs, &tx));
    TEST_OK(sakd_feat_norm_backward(&tdx, &tdy, &ty, &trs));
    float *y = tget(&ty), *dx = tget(&tdx), *mean = tget(&tm), *rstd = tget(&trs);

    double *xd = to_double(x, n), *dyd = to_double(dy, n), *yr = malloc(n * sizeof *yr);
    double *mr = malloc(C * sizeof *mr), *rr = malloc(C * sizeof *rr),
           *dxr = malloc(n * sizeof *dxr);
    feat_ref c = {B, C, HW, dyd};
    ref_norm(xd, &c, yr, mr, rr);
    double tol = CHANNEL_TOL(B * HW);
    check_close("norm out", y, yr, n, tol * max_abs(yr, n));
    check_close("norm mean", mean, mr, C, tol * 5);
    check_close("norm rstd", rstd, rr, C, tol * max_abs(rr, C));
    /* Known answer: every channel of the output has mean 0 and variance var/(var + eps) ≈ 1. */
    for (size_t ch = 0; ch < C; ch++) {
        double s = 0, v = 0, N = (double)(B * HW);
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < HW; j++)
                s += y[(b * C + ch) * HW + j];
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < HW; j++)
                v += pow(y[(b * C + ch) * HW + j] - s / N, 2);
        double want_var = 1 - 1e-5 * rr[ch] * rr[ch]; /* = var/(var + eps) */
        ck_assert_msg(fabs(s / N) <= tol && fabs(v / N - want_var) <= 4 * tol,
                      "channel %zu: mean %g, variance %.9g (want %.9g)", ch, s / N, v / N,
                      want_var);
    }
    ref_norm_grad(xd, &c, dxr);
    check_fd("norm reference gradient", ref_norm_dot, &c, xd, dxr, n);
    check_close("norm dx", dx, dxr, n, 2 * tol * max_abs(dxr, n));
    tfree_all();
    free(x), free(dy), free(y), free(dx), free(mean), free(rstd);
    free(xd), free(dyd), free(yr), free(mr), free(rr), free(dxr);
}
END_TEST

/* ---- attn transform ----------------------------------------------------------------------- */

START_TEST(test_attn)
{
    test_rng r = test_rng_new(3800 + (uint64_t)_i);
    size_t shape[4];
    int nd = feat_shape(&r, _i, shape);
    size_t B = shape[0], C = shape[1], HW = nd == 4 ? shape[2] * shape[3] : 1, n = B * C * HW;
    size_t ashape[2] = {B, HW};
    float *x = malloc(n * sizeof *x), *da = malloc(B * HW * sizeof *da);
    test_fill_uniform(&r, x, n, -2, 2);
    test_fill_uniform(&r, da, B * HW, -1, 1);
    sakd_tensor tx = tnew("x", nd, shape, x), ta = tnew("map", 2, ashape, NULL);
    sakd_tensor tda = tnew("dmap", 2, ashape, da), tdx = tnew("dx", nd, shape, NULL);
    sakd_tensor tn = tnew("norm", 1, &B, NULL);
    TEST_OK(sakd_attn_forward(&ta, &tn, &tx));
    TEST_OK(sakd_attn_backward(&tdx, &tda, &ta, &tn, &tx));
    float *a = tget(&ta), *dx = tget(&tdx);

    double *xd = to_double(x, n), *dad = to_double(da, B * HW);
    double *ar = malloc(B * HW * sizeof *ar), *dxr = malloc(n * sizeof *dxr);
    feat_ref c = {B, C, HW, dad};
    ref_attn(xd, &c, ar, NULL);
    double tol = 8.0 * ((double)(C + HW) + 16.0) * FLT_EPSILON; /* sums over C, then HW terms */
    check_close("attn map", a, ar, B * HW, tol);
    for (size_t b = 0; b < B; b++) { /* known answer: unit norm per sample */
        double ss = 0;
        for (size_t j = 0; j < HW; j++)
            ss += (double)a[b * HW + j] * a[b * HW + j];
        ck_assert_msg(fabs(sqrt(ss) - 1) <= tol, "sample %zu: ‖A‖ = %.9g", b, sqrt(ss));
    }
    ref_attn_grad(xd, &c, dxr);
    check_fd("attn reference gradient", ref_attn_dot, &c, xd, dxr, n);
    /* Scale of the gradient's terms, 2|x|·(|dA| + |A|·Σ|A·dA|)/‖q‖: dx may cancel to ~0 (with
     * H·W = 1 it is exactly 0 in exact arithmetic) while its rounding error does not. */
    double dscale = 0, *nr = malloc(B * sizeof *nr);
    ref_attn(xd, &c, ar, nr);
    for (size_t b = 0; b < B; b++) {
        double sad = 0;
        for (size_t j = 0; j < HW; j++)
            sad += fabs(ar[b * HW + j] * dad[b * HW + j]);
        for (size_t ch = 0; ch < C; ch++)
            for (size_t j = 0; j < HW; j++)
                dscale = fmax(dscale, 2 * fabs(xd[(b * C + ch) * HW + j]) *
                                          (fabs(dad[b * HW + j]) + ar[b * HW + j] * sad) / nr[b]);
    }
    free(nr);
    check_close("attn dx", dx, dxr, n, 2 * tol * dscale);
    tfree_all();
    free(x), free(da), free(a), free(dx), free(xd), free(dad), free(ar), free(dxr);
}
END_TEST

/* A sample whose feature is all zero: map 0, norm 0, gradient 0, nothing NaN. */
START_TEST(test_attn_zero)
{
    size_t shape[4] = {2, 3, 2, 2}, ashape[2] = {2, 4}, B = 2;
    float x[24], da[8];
    for (size_t i = 0; i < 24; i++)
        x[i] = i < 12 ? 0.0f : (float)i / 10;
    for (size_t i = 0; i < 8; i++)
        da[i] = 1.0f - (float)i / 4;
    sakd_tensor tx = tnew("x", 4, shape, x), ta = tnew("map", 2, ashape, NULL);
    sakd_tensor tda = tnew("dmap", 2, ashape, da), tdx = tnew("dx", 4, shape, NULL);
    sakd_tensor tn = tnew("norm", 1, &B, NULL);
    TEST_OK(sakd_attn_forward(&ta, &tn, &tx));
    TEST_OK(sakd_attn_backward(&tdx, &tda, &ta, &tn, &tx));
    float *a = tget(&ta), *dx = tget(&tdx);
    for (size_t j = 0; j < 4; j++)
        ck_assert_msg(a[j] == 0.0f && isfinite(a[4 + j]), "map [%zu] = %g, [%zu] = %g", j, a[j],
                      4 + j, a[4 + j]);
    for (size_t i = 0; i < 24; i++)
        ck_assert_msg(isfinite(dx[i]) && (i >= 12 || dx[i] == 0.0f), "dx[%zu] = %g", i, dx[i]);
    free(a), free(dx);
    tfree_all();
}
END_TEST

/* ---- determinism and bad input ----------------------------------------------------------- */

static void same_bytes(const char *what, const sakd_tensor *t, const float *before)
{
    float *now = tget(t);
    ck_assert_msg(memcmp(now, before, sakd_tensor_numel(t) * sizeof *now) == 0,
                  "%s differs between two identical runs", what);
    free(now);
}

START_TEST(test_determinism)
{
    test_rng r = test_rng_new(3900);
    size_t shape[4] = {5, 9, 7, 11}, n = 5 * 9 * 77, B = 5, C = 9, ashape[2] = {5, 77};
    size_t lshape[2] = {B, 9 * 77};
    float *s = malloc(n * sizeof *s), *t = malloc(n * sizeof *t);
    test_fill_uniform(&r, s, n, -3, 3);
    test_fill_uniform(&r, t, n, -3, 3);
    int y[5] = {0, 5, 17, 600, 692};
    cl_mem lab = labels_new(y, B);
    sakd_tensor ts = tnew("student", 4, shape, s), tt = tnew("teacher", 4, shape, t);
    sakd_tensor tg = tnew("dstudent", 4, shape, NULL), tl = tnew_scalar();
    sakd_tensor tm = tnew("mean", 1, &C, NULL), trs = tnew("rstd", 1, &C, NULL);
    sakd_tensor ta = tnew("map", 2, ashape, NULL), tn = tnew("norm", 1, &B, NULL);
    sakd_tensor tz, tzg;
    TEST_OK(sakd_tensor_view(&tz, &ts, "logits", 0, 2, lshape));
    TEST_OK(sakd_tensor_view(&tzg, &tg, "dlogits", 0, 2, lshape));
    float *first[12] = {NULL};
    for (int run = 0; run < 2; run++) {
        int k = 0;
#define STEP(call, out)                                                                            \
    do {                                                                                           \
        TEST_OK(call);                                                                             \
        if (run == 0)                                                                              \
            first[k] = tget(out);                                                                  \
        else                                                                                       \
            same_bytes(#call, out, first[k]), free(first[k]);                                      \
        k++;                                                                                       \
    } while (0)
        STEP(sakd_cross_entropy_forward(&tl, &tz, lab, LABELS_OFF, NULL), &tl);
        STEP(sakd_cross_entropy_backward(&tzg, &tz, lab, LABELS_OFF, NULL, 0.5f), &tg);
        STEP(sakd_softmax_kl_forward(&tl, &ts, &tt, 4.0f), &tl);
        STEP(sakd_softmax_kl_backward(&tg, &ts, &tt, 4.0f, 1.0f), &tg);
        STEP(sakd_mse_forward(&tl, &ts, &tt), &tl);
        STEP(sakd_mse_backward(&tg, &ts, &tt, 1.0f), &tg);
        STEP(sakd_l1_forward(&tl, &ts, &tt), &tl);
        STEP(sakd_feat_norm_forward(&tg, &tm, &trs, &ts), &tg);
        STEP(sakd_feat_norm_backward(&tg, &tt, &ts, &trs), &tg);
        STEP(sakd_attn_forward(&ta, &tn, &ts), &ta);
        STEP(sakd_attn_backward(&tg, &ta, &ta, &tn, &ts), &tg);
#undef STEP
    }
    labels_free(lab, B);
    tfree_all();
    free(s), free(t);
}
END_TEST

START_TEST(test_bad_shapes)
{
    size_t s23[2] = {2, 3}, s24[2] = {2, 4}, s4[4] = {2, 3, 2, 2}, s5[4] = {2, 4, 2, 2};
    size_t two = 2, three = 3, m[2] = {2, 5}, three3[3] = {2, 3, 4};
    int y[2] = {0, 1};
    cl_mem lab = labels_new(y, 2);
    sakd_tensor a = tnew("alpha", 2, s23, NULL), b = tnew("beta", 2, s24, NULL);
    sakd_tensor f = tnew("feat", 4, s4, NULL), g = tnew("gfeat", 4, s5, NULL);
    sakd_tensor l = tnew_scalar(), l2 = tnew("pair", 1, &two, NULL);
    sakd_tensor c2 = tnew("c2", 1, &two, NULL), c3 = tnew("c3", 1, &three, NULL);
    sakd_tensor map = tnew("wrongmap", 2, m, NULL), odd = tnew("odd3d", 3, three3, NULL);
    expect_arg_error(sakd_cross_entropy_forward(&l2, &a, lab, LABELS_OFF, NULL),
                     "cross_entropy_forward", "pair");
    expect_arg_error(sakd_cross_entropy_forward(&l, &a, NULL, 0, NULL), "cross_entropy_forward",
                     "labels");
    expect_arg_error(sakd_cross_entropy_forward(&l, &f, lab, LABELS_OFF, NULL),
                     "cross_entropy_forward", "feat");
    expect_arg_error(sakd_cross_entropy_backward(&b, &a, lab, LABELS_OFF, NULL, 1.0f),
                     "cross_entropy_backward", "beta");
    expect_arg_error(sakd_softmax_kl_forward(&l, &a, &b, 1.0f), "softmax_kl_forward", "alpha");
    expect_arg_error(sakd_softmax_kl_forward(&l, &a, &a, 0.0f), "softmax_kl_forward",
                     "temperature");
    expect_arg_error(sakd_softmax_kl_backward(&b, &a, &a, 1.0f, 1.0f), "softmax_kl_backward",
                     "beta");
    expect_arg_error(sakd_mse_forward(&l, &f, &g), "mse_forward", "gfeat");
    expect_arg_error(sakd_mse_backward(&g, &f, &f, 1.0f), "mse_backward", "gfeat");
    expect_arg_error(sakd_l1_forward(&l, &a, &b), "l1_forward", "beta");
    expect_arg_error(sakd_l1_backward(&a, &b, &b, 1.0f), "l1_backward", "alpha");
    expect_arg_error(sakd_feat_norm_forward(&g, &c3, &c3, &f), "feat_norm_forward", "gfeat");
    expect_arg_error(sakd_feat_norm_forward(&f, &c2, &c3, &f), "feat_norm_forward", "c2");
    expect_arg_error(sakd_feat_norm_forward(&odd, &c3, &c3, &odd), "feat_norm_forward", "odd3d");
    expect_arg_error(sakd_feat_norm_backward(&f, &g, &f, &c3), "feat_norm_backward", "gfeat");
    expect_arg_error(sakd_attn_forward(&map, &c2, &f), "attn_forward", "wrongmap");
    expect_arg_error(sakd_attn_forward(&a, &c3, &f), "attn_forward", "alpha");
    expect_arg_error(sakd_attn_backward(&g, &map, &map, &c2, &f), "attn_backward", "gfeat");
    labels_free(lab, 2);
    tfree_all();
}
END_TEST

Suite *suite_loss(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_ce, 0, 4);
    tcase_add_test(tc, test_ce_perfect);
    tcase_add_test(tc, test_ce_bad_label);
    tcase_add_loop_test(tc, test_logit_kd, 0, 4);
    tcase_add_loop_test(tc, test_feature_kl, 0, 3);
    tcase_add_test(tc, test_kl_identical);
    tcase_add_test(tc, test_kd_tau_squared);
    tcase_add_loop_test(tc, test_mse, 0, 4);
    tcase_add_loop_test(tc, test_l1, 0, 4);
    tcase_add_test(tc, test_l1_ties);
    tcase_add_loop_test(tc, test_feat_norm, 0, 4);
    tcase_add_loop_test(tc, test_attn, 0, 4);
    tcase_add_test(tc, test_attn_zero);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}
