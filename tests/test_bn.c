/* test_bn.c — batch normalization (2-D and 1-D) forward, running-statistic update and backward,
 * train and eval, against a double-precision CPU reference (its gradients checked by central
 * finite differences); determinism and argument errors. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ops/host.h"

/* The statistics are float sums of m = N·P terms (per work-item runs plus a tree): each errs by
 * about (m + log2 groups)·eps·Σ|terms|. Every error is scaled by S = invstd·max|x| (how much
 * cancellation x − mean suffers) and by 1 + |x̂|. Tolerance: TOL_FACTOR·(m + 16)·eps·(1 + S)²
 * times the magnitude of the quantity's terms. */
#define TOL_FACTOR 1.0
/* Central differences in double: truncation ~ h²·f''' and rounding ~ 1e-16·|L|/h, both far
 * below FD_RTOL for x̂ of order one (cases with m >= 6). */
#define FD_STEP 1e-5
#define FD_RTOL 1e-6
#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct bn_case {
    int ndim;
    size_t shape[4];
    double offset; /* x = offset + U(-1, 1): tests the two-pass variance */
} bn_case;

static const bn_case cases[] = {
    {4, {3, 4, 5, 5}, 0},
    {4, {1, 1, 7, 3}, 0},
    {4, {2, 3, 1, 1}, 0},
    {2, {7, 5}, 0},
    {3, {4, 3, 6}, 0},
    {4, {5, 2, 9, 11}, 0},
    {4, {3, 3, 4, 5}, 20},
    {2, {2, 1}, 0},
    {4, {2, 9, 3, 3}, 0},
    {2, {33, 3}, -3},
    /* many values per work-item, far from zero: the one-pass sums and their merge */
    {4, {16, 3, 12, 12}, 50},
    {2, {3000, 2}, -7},
    /* the host provider's channel blocks: several blocks of the most channels a block takes,
     * and blocks of one channel whose rows outgrow the block's cache budget */
    {4, {3, 150, 2, 3}, 2},
    {4, {2, 3, 300, 300}, -1},
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct bn_dims {
    size_t n, c, p, m, total;
} bn_dims;

static bn_dims dims_of(const bn_case *k)
{
    bn_dims d = {k->shape[0], k->shape[1], 1, 0, 0};
    for (int i = 2; i < k->ndim; i++)
        d.p *= k->shape[i];
    d.m = d.n * d.p;
    d.total = d.m * d.c;
    return d;
}

#define IDX(d, i, c, j) (((i) * (d)->c + (c)) * (d)->p + (j))

/* Batch statistics of channel c: mean and biased variance (two passes, double). */
static void ref_stats(const bn_dims *d, const double *x, size_t c, double *mean, double *var)
{
    double s = 0, v = 0;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->p; j++)
            s += x[IDX(d, i, c, j)];
    s /= (double)d->m;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->p; j++)
            v += (x[IDX(d, i, c, j)] - s) * (x[IDX(d, i, c, j)] - s);
    *mean = s;
    *var = v / (double)d->m;
}

/* Training-mode y. */
static void ref_forward_train(const bn_dims *d, const double *x, const double *g, const double *b,
                              double *y)
{
    for (size_t c = 0; c < d->c; c++) {
        double mean, var;
        ref_stats(d, x, c, &mean, &var);
        double is = 1 / sqrt(var + BN_EPS);
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < d->p; j++)
                y[IDX(d, i, c, j)] = (x[IDX(d, i, c, j)] - mean) * is * g[c] + b[c];
    }
}

static double ref_loss(const bn_dims *d, const double *gy, const double *x, const double *g,
                       const double *b)
{
    double *y = malloc(d->total * sizeof *y), l = 0;
    ref_forward_train(d, x, g, b, y);
    for (size_t i = 0; i < d->total; i++)
        l += gy[i] * y[i];
    free(y);
    return l;
}

/* Analytic training-mode gradients of L = Σ gy·y. */
static void ref_backward_train(const bn_dims *d, const double *gy, const double *x, const double *g,
                               double *gx, double *gg, double *gb)
{
    for (size_t c = 0; c < d->c; c++) {
        double mean, var;
        ref_stats(d, x, c, &mean, &var);
        double is = 1 / sqrt(var + BN_EPS), sb = 0, sg = 0;
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < d->p; j++) {
                sb += gy[IDX(d, i, c, j)];
                sg += gy[IDX(d, i, c, j)] * (x[IDX(d, i, c, j)] - mean) * is;
            }
        gb[c] = sb;
        gg[c] = sg;
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < d->p; j++) {
                size_t e = IDX(d, i, c, j);
                double xh = (x[e] - mean) * is;
                gx[e] = g[c] * is / (double)d->m * ((double)d->m * gy[e] - sb - xh * sg);
            }
    }
}

static double *to_double(const float *f, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static void check_close(const bn_case *k, const char *what, size_t i, double got, double ref,
                        double tol)
{
    ck_assert_msg(fabs(got - ref) <= tol + FLT_MIN,
                  "bn ndim %d [%zu, %zu, ...] offset %g: %s[%zu] = %.9g, reference %.9g "
                  "(tolerance %.3g, seed %llu)",
                  k->ndim, k->shape[0], k->shape[1], k->offset, what, i, got, ref, tol,
                  (unsigned long long)test_seed());
}

/* All device tensors of one case. */
typedef struct bn_dev {
    sakd_tensor x, y, g, b, rm, rv, sm, si, gy, gx, gg, gb;
} bn_dev;

static void dev_new(bn_dev *t, const bn_case *k, const bn_dims *d, const float *x, const float *g,
                    const float *b, const float *rm, const float *rv, const float *gy)
{
    test_guarded_tensor(&t->x, "x", k->ndim, k->shape, x);
    test_guarded_tensor(&t->y, "y", k->ndim, k->shape, NULL);
    test_guarded_tensor(&t->gy, "gy", k->ndim, k->shape, gy);
    test_guarded_tensor(&t->gx, "gx", k->ndim, k->shape, NULL);
    test_guarded_tensor(&t->g, "gamma", 1, &d->c, g);
    test_guarded_tensor(&t->b, "beta", 1, &d->c, b);
    test_guarded_tensor(&t->rm, "running_mean", 1, &d->c, rm);
    test_guarded_tensor(&t->rv, "running_var", 1, &d->c, rv);
    test_guarded_tensor(&t->sm, "save_mean", 1, &d->c, NULL);
    test_guarded_tensor(&t->si, "save_invstd", 1, &d->c, NULL);
    test_guarded_tensor(&t->gg, "grad_gamma", 1, &d->c, NULL);
    test_guarded_tensor(&t->gb, "grad_beta", 1, &d->c, NULL);
}

static void dev_free(bn_dev *t)
{
    sakd_tensor *ts[] = {&t->x,  &t->y,  &t->g,  &t->b,  &t->rm, &t->rv,
                         &t->sm, &t->si, &t->gy, &t->gx, &t->gg, &t->gb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
}

/* Host inputs of one case. */
typedef struct bn_host {
    float *x, *g, *b, *rm, *rv, *gy;
} bn_host;

static bn_host host_new(const bn_case *k, const bn_dims *d, uint64_t salt)
{
    test_rng r = test_rng_new(salt);
    bn_host h = {malloc(d->total * 4), malloc(d->c * 4), malloc(d->c * 4),
                 malloc(d->c * 4),     malloc(d->c * 4), malloc(d->total * 4)};
    test_fill_uniform(&r, h.x, d->total, k->offset - 1, k->offset + 1);
    test_fill_uniform(&r, h.g, d->c, -2, 2);
    test_fill_uniform(&r, h.b, d->c, -1, 1);
    test_fill_uniform(&r, h.rm, d->c, -1, 1);
    test_fill_uniform(&r, h.rv, d->c, 0.2, 3);
    test_fill_uniform(&r, h.gy, d->total, -1, 1);
    return h;
}

static void host_free(bn_host *h)
{
    free(h->x);
    free(h->g);
    free(h->b);
    free(h->rm);
    free(h->rv);
    free(h->gy);
}

/* Train mode: y, saved statistics, running statistics and gradients against the reference;
 * the reference gradients against finite differences. replicas > 1: the statistics synchronized
 * over that many ranks holding the same batch (train.sync_bn; sakd_dist_replicas), which must
 * give the same normalization and gradients, and the running variance's unbiased correction of
 * replicas·m values. */
static void run_train(const bn_case *k, uint64_t salt, int replicas)
{
    bn_dims d = dims_of(k);
    bn_host h = host_new(k, &d, salt);
    bn_dev t;
    dev_new(&t, k, &d, h.x, h.g, h.b, h.rm, h.rv, h.gy);
    sakd_dist *group = NULL;
    if (replicas > 1) {
        TEST_OK(sakd_dist_replicas(&group, replicas));
        t.x.ctx->bn_group = group;
    }
    sakd_status fwd = sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1,
                                             SAKD_BN_MOMENTUM, SAKD_BN_EPS);
    sakd_status bwd =
        sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1);
    t.x.ctx->bn_group = NULL;
    sakd_dist_free(group);
    TEST_OK(fwd);
    TEST_OK(bwd);
    double all = (double)d.m * replicas; /* the values the running variance is unbiased over */
    float *y = malloc(d.total * 4), *gx = malloc(d.total * 4), *sm = malloc(d.c * 4),
          *si = malloc(d.c * 4), *rm = malloc(d.c * 4), *rv = malloc(d.c * 4),
          *gg = malloc(d.c * 4), *gb = malloc(d.c * 4);
    TEST_OK(sakd_tensor_download(&t.y, y));
    TEST_OK(sakd_tensor_download(&t.gx, gx));
    TEST_OK(sakd_tensor_download(&t.sm, sm));
    TEST_OK(sakd_tensor_download(&t.si, si));
    TEST_OK(sakd_tensor_download(&t.rm, rm));
    TEST_OK(sakd_tensor_download(&t.rv, rv));
    TEST_OK(sakd_tensor_download(&t.gg, gg));
    TEST_OK(sakd_tensor_download(&t.gb, gb));

    double *x = to_double(h.x, d.total), *g = to_double(h.g, d.c), *b = to_double(h.b, d.c);
    double *dgy = to_double(h.gy, d.total);
    double *ry = malloc(d.total * 8), *rgx = malloc(d.total * 8), *rgg = malloc(d.c * 8),
           *rgb = malloc(d.c * 8);
    ref_forward_train(&d, x, g, b, ry);
    ref_backward_train(&d, dgy, x, g, rgx, rgg, rgb);
    double terms = (double)d.m + 16;
    for (size_t c = 0; c < d.c; c++) {
        double mean, var, maxx = 0, sgy = 0, maxxh = 0;
        ref_stats(&d, x, c, &mean, &var);
        double is = 1 / sqrt(var + BN_EPS);
        for (size_t i = 0; i < d.n; i++)
            for (size_t j = 0; j < d.p; j++) {
                size_t e = IDX(&d, i, c, j);
                maxx = fmax(maxx, fabs(x[e]));
                maxxh = fmax(maxxh, fabs((x[e] - mean) * is));
                sgy += fabs(dgy[e]);
            }
        double S = is * maxx, A = TOL_FACTOR * terms * FLT_EPSILON * (1 + S) * (1 + S);
        check_close(k, "save_mean", c, sm[c], mean, A * maxx);
        check_close(k, "save_invstd", c, si[c], is, A * is);
        check_close(k, "running_mean", c, rm[c], (1 - BN_MOMENTUM) * h.rm[c] + BN_MOMENTUM * mean,
                    A * (maxx + fabs(h.rm[c])));
        check_close(k, "running_var", c, rv[c],
                    (1 - BN_MOMENTUM) * h.rv[c] + BN_MOMENTUM * var * all / (all - 1),
                    A * (maxx * maxx + fabs(h.rv[c])));
        check_close(k, "grad_beta", c, gb[c], rgb[c], A * sgy);
        check_close(k, "grad_gamma", c, gg[c], rgg[c], A * sgy * (1 + maxxh));
        for (size_t i = 0; i < d.n; i++)
            for (size_t j = 0; j < d.p; j++) {
                size_t e = IDX(&d, i, c, j);
                double xh = fabs((x[e] - mean) * is);
                check_close(k, "y", e, y[e], ry[e],
                            A * fabs(g[c]) * (1 + xh) + 4 * FLT_EPSILON * fabs(b[c]));
                check_close(k, "grad x", e, gx[e], rgx[e],
                            A * fabs(g[c]) * is *
                                (fabs(dgy[e]) + sgy * (2 + maxxh) * (1 + xh) / (double)d.m));
            }
    }

    /* Central differences of the reference (cases where x̂ is well conditioned; not the large
     * ones: each difference sums the whole loss again, and its rounding grows with the size). */
    if (d.m >= 6 && d.total <= 10000) {
        struct {
            double *v, *g;
            size_t n;
            const char *name;
        } fd[] = {{x, rgx, d.total, "x"}, {g, rgg, d.c, "gamma"}, {b, rgb, d.c, "beta"}};
        for (size_t f = 0; f < 3; f++)
            for (size_t e = 0; e < fd[f].n; e++) {
                double keep = fd[f].v[e];
                fd[f].v[e] = keep + FD_STEP;
                double lp = ref_loss(&d, dgy, x, g, b);
                fd[f].v[e] = keep - FD_STEP;
                double lm = ref_loss(&d, dgy, x, g, b);
                fd[f].v[e] = keep;
                double num = (lp - lm) / (2 * FD_STEP);
                ck_assert_msg(fabs(num - fd[f].g[e]) <= FD_RTOL * (1 + fabs(fd[f].g[e])),
                              "reference d/d%s[%zu] = %.12g, finite difference %.12g", fd[f].name,
                              e, fd[f].g[e], num);
            }
    }
    void *hs[] = {y, gx, sm, si, rm, rv, gg, gb, x, g, b, dgy, ry, rgx, rgg, rgb};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(hs[i]);
    dev_free(&t);
    test_guarded_free();
    host_free(&h);
}

/* Eval mode: running statistics only read; y and the affine gradients. */
static void run_eval(const bn_case *k, uint64_t salt)
{
    bn_dims d = dims_of(k);
    bn_host h = host_new(k, &d, salt);
    bn_dev t;
    dev_new(&t, k, &d, h.x, h.g, h.b, h.rm, h.rv, h.gy);
    TEST_OK(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 0,
                                   SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    TEST_OK(sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 0));
    float *y = malloc(d.total * 4), *gx = malloc(d.total * 4), *rm = malloc(d.c * 4),
          *rv = malloc(d.c * 4), *gg = malloc(d.c * 4), *gb = malloc(d.c * 4);
    TEST_OK(sakd_tensor_download(&t.y, y));
    TEST_OK(sakd_tensor_download(&t.gx, gx));
    TEST_OK(sakd_tensor_download(&t.rm, rm));
    TEST_OK(sakd_tensor_download(&t.rv, rv));
    TEST_OK(sakd_tensor_download(&t.gg, gg));
    TEST_OK(sakd_tensor_download(&t.gb, gb));
    ck_assert_msg(memcmp(rm, h.rm, d.c * 4) == 0 && memcmp(rv, h.rv, d.c * 4) == 0,
                  "eval mode changed the running statistics");
    double terms = (double)d.m + 16;
    for (size_t c = 0; c < d.c; c++) {
        double mu = h.rm[c], is = 1 / sqrt((double)h.rv[c] + BN_EPS), g = h.g[c], sb = 0, sg = 0;
        double mb = 0, mg = 0;
        for (size_t i = 0; i < d.n; i++)
            for (size_t j = 0; j < d.p; j++) {
                size_t e = IDX(&d, i, c, j);
                double xh = (h.x[e] - mu) * is, dy = h.gy[e];
                /* y = x̂·gamma + beta: a few roundings of each term */
                check_close(k, "eval y", e, y[e], xh * g + h.b[c],
                            8 * FLT_EPSILON *
                                (fabs(g) * is * (fabs(h.x[e]) + fabs(mu)) + fabs(h.b[c])));
                check_close(k, "eval grad x", e, gx[e], g * is * dy,
                            4 * FLT_EPSILON * fabs(g * is * dy));
                sb += dy;
                sg += dy * xh;
                mb += fabs(dy);
                mg += fabs(dy) * is * (fabs(h.x[e]) + fabs(mu));
            }
        check_close(k, "eval grad_beta", c, gb[c], sb, TOL_FACTOR * terms * FLT_EPSILON * mb);
        check_close(k, "eval grad_gamma", c, gg[c], sg, TOL_FACTOR * terms * FLT_EPSILON * mg);
    }
    void *hs[] = {y, gx, rm, rv, gg, gb};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(hs[i]);
    dev_free(&t);
    test_guarded_free();
    host_free(&h);
}

START_TEST(test_bn_train)
{
    run_train(&cases[_i], 1700 + (uint64_t)_i, 1);
}
END_TEST

/* Statistics synchronized over 3 ranks that hold the same batch equal the batch's own. */
START_TEST(test_bn_train_synchronized)
{
    run_train(&cases[_i], 1750 + (uint64_t)_i, 3);
}
END_TEST

START_TEST(test_bn_eval)
{
    run_eval(&cases[_i], 1800 + (uint64_t)_i);
}
END_TEST

/* Every tensor a view at an element offset inside a guarded buffer. */
START_TEST(test_bn_views)
{
    test_guard_offset(5 + (size_t)_i * 10);
    run_train(&cases[_i ? 3 : 0], 1850 + (uint64_t)_i, 1);
    run_eval(&cases[_i ? 3 : 0], 1860 + (uint64_t)_i);
    test_guard_offset(0);
}
END_TEST

/* Larger m than one work-group, random shapes. */
START_TEST(test_bn_random)
{
    test_rng r = test_rng_new(1900 + (uint64_t)_i);
    bn_case k = {_i % 2 ? 2 : 4, {0}, test_rand_uniform(&r, -4, 4)};
    k.shape[0] = test_rand_size(&r, 1, 40);
    k.shape[1] = test_rand_size(&r, 1, 9);
    k.shape[2] = test_rand_size(&r, 1, 12);
    k.shape[3] = test_rand_size(&r, 1, 12);
    if (k.ndim == 2 || k.shape[2] * k.shape[3] == 1)
        k.shape[0] += 1; /* m > 1 */
    run_train(&k, 1910 + (uint64_t)_i, 1);
    run_eval(&k, 1920 + (uint64_t)_i);
}
END_TEST

/* Two identical training steps give identical bytes everywhere. */
START_TEST(test_bn_deterministic)
{
    bn_case k = {4, {6, 3, 11, 13}, 1};
    bn_dims d = dims_of(&k);
    bn_host h = host_new(&k, &d, 2000);
    float *out[2][8];
    for (int run = 0; run < 2; run++) {
        bn_dev t;
        dev_new(&t, &k, &d, h.x, h.g, h.b, h.rm, h.rv, h.gy);
        TEST_OK(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1,
                                       SAKD_BN_MOMENTUM, SAKD_BN_EPS));
        TEST_OK(sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1));
        sakd_tensor *ts[8] = {&t.y, &t.gx, &t.sm, &t.si, &t.rm, &t.rv, &t.gg, &t.gb};
        for (int i = 0; i < 8; i++) {
            out[run][i] = malloc(sakd_tensor_numel(ts[i]) * 4);
            TEST_OK(sakd_tensor_download(ts[i], out[run][i]));
        }
        dev_free(&t);
    }
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(memcmp(out[0][i], out[1][i], (i < 2 ? d.total : d.c) * 4) == 0,
                      "output %d differs between runs", i);
        free(out[0][i]);
        free(out[1][i]);
    }
    host_free(&h);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && strstr(sakd_error_detail(), name),
                  "detail '%s' should name %s and %s", sakd_error_detail(), op, name);
}

/* One training step (forward in train mode, backward) and an eval-mode forward of tensors in
 * layout blk (0: plain): y, grad_in, the saved and running statistics, the parameter gradients,
 * the eval y, all in the plain layout. */
static void blocked_step(const bn_case *k, const bn_dims *d, const bn_host *h, size_t blk,
                         float *out[9])
{
    float *x = malloc(d->total * 4), *gy = malloc(d->total * 4), *tmp = malloc(d->total * 4);
    if (blk) {
        test_to_blocked(x, h->x, d->n, d->c, d->p, blk);
        test_to_blocked(gy, h->gy, d->n, d->c, d->p, blk);
    } else {
        memcpy(x, h->x, d->total * 4);
        memcpy(gy, h->gy, d->total * 4);
    }
    bn_dev t;
    dev_new(&t, k, d, x, h->g, h->b, h->rm, h->rv, gy);
    t.x.layout = t.y.layout = t.gy.layout = t.gx.layout = (int)blk;
    TEST_OK(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1,
                                   SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    TEST_OK(sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1));
    sakd_tensor *ts[8] = {&t.y, &t.gx, &t.sm, &t.si, &t.rm, &t.rv, &t.gg, &t.gb};
    for (int i = 0; i < 8; i++) {
        size_t numel = sakd_tensor_numel(ts[i]);
        out[i] = malloc(numel * 4);
        TEST_OK(sakd_tensor_download(ts[i], i < 2 && blk ? tmp : out[i]));
        if (i < 2 && blk)
            test_from_blocked(out[i], tmp, d->n, d->c, d->p, blk);
    }
    /* eval mode with the running statistics just updated */
    TEST_OK(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 0,
                                   SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    out[8] = malloc(d->total * 4);
    TEST_OK(sakd_tensor_download(&t.y, blk ? tmp : out[8]));
    if (blk)
        test_from_blocked(out[8], tmp, d->n, d->c, d->p, blk);
    dev_free(&t);
    free(x);
    free(gy);
    free(tmp);
}

/* Channel-blocked tensors (runtime/tensor.h; the host provider's layout beside oneDNN's
 * convolutions) give, on the host provider, the bits of their plain copies, in every output;
 * fresh random shapes (rows of every length mod 8, several groups and samples) and values.
 * Elsewhere the layout is refused with a message naming it. */
START_TEST(test_bn_blocked)
{
    test_rng r = test_rng_new(2100 + (uint64_t)_i);
    size_t blk = _i % 2 ? 8 : 16;
    bn_case k = {4, {0}, test_rand_uniform(&r, -3, 3)};
    k.shape[0] = test_rand_size(&r, 1, 6);
    k.shape[1] = blk * test_rand_size(&r, 1, 5);
    k.shape[2] = test_rand_size(&r, 1, 11);
    k.shape[3] = test_rand_size(&r, 2, 13);
    bn_dims d = dims_of(&k);
    bn_host h = host_new(&k, &d, 2110 + (uint64_t)_i);
    if (!sakd_host_active(test_ctx())) {
        bn_dev t;
        dev_new(&t, &k, &d, h.x, h.g, h.b, h.rm, h.rv, h.gy);
        t.x.layout = t.y.layout = (int)blk;
        expect_arg_error(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b,
                                                1, SAKD_BN_MOMENTUM, SAKD_BN_EPS),
                         "batchnorm_forward", "host provider");
        dev_free(&t);
        host_free(&h);
        return;
    }
    float *plain[9], *blocked[9];
    blocked_step(&k, &d, &h, 0, plain);
    blocked_step(&k, &d, &h, blk, blocked);
    static const char *what[9] = {"y",           "grad_in",      "save_mean",
                                  "save_invstd", "running_mean", "running_var",
                                  "grad_gamma",  "grad_beta",    "eval y"};
    for (int i = 0; i < 9; i++) {
        size_t numel = i < 2 || i == 8 ? d.total : d.c;
        ck_assert_msg(memcmp(plain[i], blocked[i], numel * 4) == 0,
                      "%s of [%zu, %zu, %zu, %zu] blocked by %zu differs from the plain layout's "
                      "(seed %llu)",
                      what[i], k.shape[0], k.shape[1], k.shape[2], k.shape[3], blk,
                      (unsigned long long)test_seed());
        free(plain[i]);
        free(blocked[i]);
    }
    /* layouts that disagree, and a C the block does not divide */
    bn_dev t;
    dev_new(&t, &k, &d, h.x, h.g, h.b, h.rm, h.rv, h.gy);
    t.x.layout = (int)blk;
    expect_arg_error(sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1,
                                            SAKD_BN_MOMENTUM, SAKD_BN_EPS),
                     "batchnorm_forward", "output");
    t.y.layout = (int)blk;
    expect_arg_error(
        sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1),
        "batchnorm_backward", "grad_out");
    dev_free(&t);
    host_free(&h);
}
END_TEST

START_TEST(test_bn_bad_args)
{
    bn_case k = {4, {2, 3, 4, 4}, 0};
    bn_dims d = dims_of(&k);
    bn_dev t;
    dev_new(&t, &k, &d, NULL, NULL, NULL, NULL, NULL, NULL);
    TEST_OK(sakd_tensor_fill(&t.rv, 1.0f));
    sakd_tensor c4, ybad, x1, y1, x5;
    test_guarded_tensor(&c4, "vec4", 1, (size_t[]){4}, NULL);
    test_guarded_tensor(&ybad, "y_bad", 4, (size_t[]){2, 3, 4, 5}, NULL);
    test_guarded_tensor(&x1, "x_one", 2, (size_t[]){1, 3}, NULL);
    test_guarded_tensor(&y1, "y_one", 2, (size_t[]){1, 3}, NULL);
    test_guarded_tensor(&x5, "x_5d", 5, (size_t[]){1, 2, 3, 4, 5}, NULL);
    const char *f = "batchnorm_forward", *b = "batchnorm_backward";
    float mo = SAKD_BN_MOMENTUM, ep = SAKD_BN_EPS;
    expect_arg_error(
        sakd_batchnorm_forward(&ybad, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1, mo, ep), f,
        "y_bad");
    expect_arg_error(
        sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &c4, &t.b, 1, mo, ep), f,
        "vec4");
    expect_arg_error(
        sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &c4, &t.rv, &t.x, &t.g, &t.b, 0, mo, ep), f,
        "vec4");
    expect_arg_error(
        sakd_batchnorm_forward(&t.y, &c4, &t.si, &t.rm, &t.rv, &t.x, &t.g, &t.b, 1, mo, ep), f,
        "vec4");
    expect_arg_error(
        sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &x5, &t.g, &t.b, 1, mo, ep), f,
        "x_5d");
    /* one value per channel: train is refused, eval works */
    expect_arg_error(
        sakd_batchnorm_forward(&y1, &t.sm, &t.si, &t.rm, &t.rv, &x1, &t.g, &t.b, 1, mo, ep), f,
        "x_one");
    TEST_OK(sakd_batchnorm_forward(&y1, &t.sm, &t.si, &t.rm, &t.rv, &x1, &t.g, &t.b, 0, mo, ep));
    sakd_tensor nobuf = t.b;
    nobuf.buf = NULL;
    expect_arg_error(
        sakd_batchnorm_forward(&t.y, &t.sm, &t.si, &t.rm, &t.rv, &t.x, &t.g, &nobuf, 1, mo, ep), f,
        "beta");
    expect_arg_error(
        sakd_batchnorm_backward(&ybad, &t.gg, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1), b,
        "y_bad");
    expect_arg_error(
        sakd_batchnorm_backward(&t.gx, &t.gg, &t.gb, &t.sm, &t.si, &ybad, &t.x, &t.g, 1), b,
        "y_bad");
    expect_arg_error(sakd_batchnorm_backward(&t.gx, &c4, &t.gb, &t.sm, &t.si, &t.gy, &t.x, &t.g, 1),
                     b, "vec4");
    dev_free(&t);
    sakd_tensor_free(&c4);
    sakd_tensor_free(&ybad);
    sakd_tensor_free(&x1);
    sakd_tensor_free(&y1);
    sakd_tensor_free(&x5);
}
END_TEST

Suite *suite_bn(void)
{
    Suite *s = suite_create("bn");
    /* Every case under each provider: the host provider runs BN on the host. */
    for (int p = 0; p < test_providers(); p++) {
        TCase *tc = test_provider_tcase(p);
        tcase_add_loop_test(tc, test_bn_train, 0, (int)N_CASES);
        tcase_add_loop_test(tc, test_bn_train_synchronized, 0, (int)N_CASES);
        tcase_add_loop_test(tc, test_bn_eval, 0, (int)N_CASES);
        tcase_add_loop_test(tc, test_bn_views, 0, 2);
        tcase_add_loop_test(tc, test_bn_random, 0, 6);
        tcase_add_test(tc, test_bn_deterministic);
        tcase_add_loop_test(tc, test_bn_blocked, 0, 6);
        tcase_add_test(tc, test_bn_bad_args);
        suite_add_tcase(s, tc);
    }
    return s;
}
