/* test_linear.c — the fully connected layer forward and backward against a double-precision CPU
 * reference (itself checked by central finite differences), at odd shapes, with and without
 * bias; determinism and argument errors. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A float dot product of K terms errs by at most about K·eps·Σ|terms| (Higham's gamma_K); the
 * bias adds one rounding. Tolerance: TOL_FACTOR·(K + 2)·eps·Σ|terms|. */
#define TOL_FACTOR 1.0
/* The loss is linear in x, W and b: central differences are exact up to double rounding. */
#define FD_STEP 1e-3
#define FD_RTOL 1e-7

typedef struct lin_case {
    size_t n, in, out;
    int bias;
} lin_case;

static const lin_case cases[] = {
    {1, 1, 1, 1}, {1, 7, 3, 0}, {5, 1, 9, 1}, {3, 17, 1, 1}, {33, 65, 10, 1}, {7, 129, 31, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* y = x·W^T + b; mag = Σ|terms|. */
static void ref_forward(const lin_case *c, const double *x, const double *w, const double *b,
                        double *y, double *mag)
{
    for (size_t n = 0; n < c->n; n++)
        for (size_t o = 0; o < c->out; o++) {
            double s = b ? b[o] : 0, m = b ? fabs(b[o]) : 0;
            for (size_t i = 0; i < c->in; i++) {
                s += x[n * c->in + i] * w[o * c->in + i];
                m += fabs(x[n * c->in + i] * w[o * c->in + i]);
            }
            y[n * c->out + o] = s;
            if (mag)
                mag[n * c->out + o] = m;
        }
}

static double ref_loss(const lin_case *c, const double *gy, const double *x, const double *w,
                       const double *b)
{
    double *y = malloc(c->n * c->out * sizeof *y), l = 0;
    ref_forward(c, x, w, b, y, NULL);
    for (size_t i = 0; i < c->n * c->out; i++)
        l += gy[i] * y[i];
    free(y);
    return l;
}

static double *to_double(const float *f, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

static void compare(const char *what, const lin_case *c, const float *got, const double *ref,
                    const double *mag, size_t n, double terms)
{
    for (size_t i = 0; i < n; i++) {
        double tol = TOL_FACTOR * (terms + 2) * FLT_EPSILON * mag[i] + FLT_MIN;
        ck_assert_msg(fabs(got[i] - ref[i]) <= tol,
                      "linear N%zu in%zu out%zu: %s[%zu] = %.9g, reference %.9g (tolerance %.3g, "
                      "seed %llu)",
                      c->n, c->in, c->out, what, i, got[i], ref[i], tol,
                      (unsigned long long)test_seed());
    }
}

static void run_case(const lin_case *c, uint64_t salt, int check_determinism)
{
    test_rng r = test_rng_new(salt);
    size_t nx = c->n * c->in, nw = c->out * c->in, ny = c->n * c->out;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(c->out * 4), *gy = malloc(ny * 4);
    float *y = malloc(ny * 4), *gx = malloc(nx * 4), *gw = malloc(nw * 4), *gb = malloc(c->out * 4);
    test_fill_uniform(&r, x, nx, -1, 1);
    test_fill_uniform(&r, w, nw, -1, 1);
    test_fill_uniform(&r, b, c->out, -1, 1);
    test_fill_uniform(&r, gy, ny, -1, 1);
    sakd_tensor tx, tw, tb, ty, tgy, tgx, tgw, tgb;
    /* x as [N, in, 1, 1] (a pooled feature map) exercises the flattening. */
    test_guarded_tensor(&tx, "x", 4, (size_t[]){c->n, c->in, 1, 1}, x);
    test_guarded_tensor(&tw, "w", 2, (size_t[]){c->out, c->in}, w);
    test_guarded_tensor(&tb, "b", 1, &c->out, b);
    test_guarded_tensor(&tgy, "gy", 2, (size_t[]){c->n, c->out}, gy);
    test_guarded_tensor(&ty, "y", 2, (size_t[]){c->n, c->out}, NULL);
    test_guarded_tensor(&tgx, "gx", 4, (size_t[]){c->n, c->in, 1, 1}, NULL);
    test_guarded_tensor(&tgw, "gw", 2, (size_t[]){c->out, c->in}, NULL);
    test_guarded_tensor(&tgb, "gb", 1, &c->out, NULL);
    const sakd_tensor *bias = c->bias ? &tb : NULL;
    TEST_OK(sakd_linear_forward(&ty, &tx, &tw, bias));
    TEST_OK(sakd_linear_backward(&tgx, &tgw, c->bias ? &tgb : NULL, &tgy, &tx, &tw));
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    TEST_OK(sakd_tensor_download(&tgw, gw));
    if (c->bias)
        TEST_OK(sakd_tensor_download(&tgb, gb));

    double *dx = to_double(x, nx), *dw = to_double(w, nw), *db = to_double(b, c->out);
    double *dgy = to_double(gy, ny), *db_or_null = c->bias ? db : NULL;
    double *ry = malloc(ny * 8), *my = malloc(ny * 8);
    double *rgx = calloc(nx, 8), *mx = calloc(nx, 8), *rgw = calloc(nw, 8), *mw = calloc(nw, 8);
    double *rgb = calloc(c->out, 8), *mb = calloc(c->out, 8);
    ref_forward(c, dx, dw, db_or_null, ry, my);
    for (size_t n = 0; n < c->n; n++)
        for (size_t o = 0; o < c->out; o++) {
            double g = dgy[n * c->out + o];
            rgb[o] += g;
            mb[o] += fabs(g);
            for (size_t i = 0; i < c->in; i++) {
                rgx[n * c->in + i] += g * dw[o * c->in + i];
                mx[n * c->in + i] += fabs(g * dw[o * c->in + i]);
                rgw[o * c->in + i] += g * dx[n * c->in + i];
                mw[o * c->in + i] += fabs(g * dx[n * c->in + i]);
            }
        }
    compare("y", c, y, ry, my, ny, (double)c->in);
    compare("grad x", c, gx, rgx, mx, nx, (double)c->out);
    compare("grad W", c, gw, rgw, mw, nw, (double)c->n);
    if (c->bias)
        compare("grad b", c, gb, rgb, mb, c->out, (double)c->n);

    /* The reference gradients against central differences at a few elements of each. */
    struct {
        double *v, *g;
        size_t n;
        const char *name;
    } fd[] = {{dx, rgx, nx, "x"}, {dw, rgw, nw, "W"}, {db, rgb, c->bias ? c->out : 0, "b"}};
    for (size_t k = 0; k < 3; k++)
        for (int t = 0; fd[k].n && t < 5; t++) {
            size_t e = test_rand_size(&r, 0, fd[k].n - 1);
            double keep = fd[k].v[e];
            fd[k].v[e] = keep + FD_STEP;
            double lp = ref_loss(c, dgy, dx, dw, db_or_null);
            fd[k].v[e] = keep - FD_STEP;
            double lm = ref_loss(c, dgy, dx, dw, db_or_null);
            fd[k].v[e] = keep;
            double num = (lp - lm) / (2 * FD_STEP);
            ck_assert_msg(fabs(num - fd[k].g[e]) <= FD_RTOL * (1 + fabs(lp) + fabs(lm)),
                          "reference d/d%s[%zu] = %.12g, finite difference %.12g", fd[k].name, e,
                          fd[k].g[e], num);
        }

    if (check_determinism) {
        float *y2 = malloc(ny * 4), *gx2 = malloc(nx * 4), *gw2 = malloc(nw * 4),
              *gb2 = malloc(c->out * 4);
        TEST_OK(sakd_tensor_fill(&ty, NAN));
        TEST_OK(sakd_tensor_fill(&tgw, NAN));
        TEST_OK(sakd_tensor_fill(&tgb, NAN));
        TEST_OK(sakd_linear_forward(&ty, &tx, &tw, bias));
        TEST_OK(sakd_linear_backward(NULL, &tgw, c->bias ? &tgb : NULL, &tgy, &tx, &tw));
        TEST_OK(sakd_linear_backward(&tgx, &tgw, c->bias ? &tgb : NULL, &tgy, &tx, &tw));
        TEST_OK(sakd_tensor_download(&ty, y2));
        TEST_OK(sakd_tensor_download(&tgx, gx2));
        TEST_OK(sakd_tensor_download(&tgw, gw2));
        ck_assert(memcmp(y, y2, ny * 4) == 0);
        ck_assert(memcmp(gx, gx2, nx * 4) == 0);
        ck_assert(memcmp(gw, gw2, nw * 4) == 0);
        if (c->bias) {
            TEST_OK(sakd_tensor_download(&tgb, gb2));
            ck_assert(memcmp(gb, gb2, c->out * 4) == 0);
        }
        /* Without the weight gradient (a spike-driven layer computes it): the same data and
         * bias gradients, and grad_weight untouched. */
        TEST_OK(sakd_tensor_fill(&tgx, NAN));
        TEST_OK(sakd_tensor_fill(&tgb, NAN));
        TEST_OK(sakd_tensor_fill(&tgw, 7.0f));
        TEST_OK(sakd_linear_backward(&tgx, NULL, c->bias ? &tgb : NULL, &tgy, &tx, &tw));
        TEST_OK(sakd_tensor_download(&tgx, gx2));
        TEST_OK(sakd_tensor_download(&tgw, gw2));
        ck_assert(memcmp(gx, gx2, nx * 4) == 0);
        for (size_t i = 0; i < nw; i++)
            ck_assert(gw2[i] == 7.0f);
        if (c->bias) {
            TEST_OK(sakd_tensor_download(&tgb, gb2));
            ck_assert(memcmp(gb, gb2, c->out * 4) == 0);
        }
        free(y2);
        free(gx2);
        free(gw2);
        free(gb2);
    }

    sakd_tensor *ts[] = {&tx, &tw, &tb, &ty, &tgy, &tgx, &tgw, &tgb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    test_guarded_free();
    void *hs[] = {x, w, b, gy, y, gx, gw, gb, dx, dw, db, dgy, ry, my, rgx, mx, rgw, mw, rgb, mb};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(hs[i]);
}

START_TEST(test_linear_cases)
{
    run_case(&cases[_i], 1500 + (uint64_t)_i, _i == (int)N_CASES - 1);
}
END_TEST

/* Every tensor a view at an element offset inside a guarded buffer. */
START_TEST(test_linear_views)
{
    test_guard_offset(1 + (size_t)_i * 20);
    run_case(&cases[4 + _i], 1550 + (uint64_t)_i, 0);
    test_guard_offset(0);
}
END_TEST

START_TEST(test_linear_random)
{
    test_rng r = test_rng_new(1600 + (uint64_t)_i);
    lin_case c = {test_rand_size(&r, 1, 40), test_rand_size(&r, 1, 100), test_rand_size(&r, 1, 40),
                  (int)test_rand_size(&r, 0, 1)};
    run_case(&c, 1610 + (uint64_t)_i, 1);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && strstr(sakd_error_detail(), name),
                  "detail '%s' should name %s and %s", sakd_error_detail(), op, name);
}

START_TEST(test_linear_bad_args)
{
    sakd_tensor x, w, b, y, ybad, gw, gwbad, gxbad, w3;
    test_guarded_tensor(&x, "x_in", 2, (size_t[]){4, 6}, NULL);
    test_guarded_tensor(&w, "w_ok", 2, (size_t[]){3, 6}, NULL);
    test_guarded_tensor(&w3, "w_in5", 2, (size_t[]){3, 5}, NULL);
    test_guarded_tensor(&b, "b_4", 1, (size_t[]){4}, NULL);
    test_guarded_tensor(&y, "y_ok", 2, (size_t[]){4, 3}, NULL);
    test_guarded_tensor(&ybad, "y_rows5", 2, (size_t[]){5, 3}, NULL);
    test_guarded_tensor(&gw, "gw", 2, (size_t[]){3, 6}, NULL);
    test_guarded_tensor(&gwbad, "gw_t", 2, (size_t[]){6, 3}, NULL);
    test_guarded_tensor(&gxbad, "gx_bad", 2, (size_t[]){4, 7}, NULL);
    TEST_OK(sakd_linear_forward(&y, &x, &w, NULL));
    expect_arg_error(sakd_linear_forward(&y, &x, &w3, NULL), "linear_forward", "x_in");
    expect_arg_error(sakd_linear_forward(&ybad, &x, &w, NULL), "linear_forward", "y_rows5");
    expect_arg_error(sakd_linear_forward(&y, &x, &w, &b), "linear_forward", "b_4");
    expect_arg_error(sakd_linear_forward(&y, &x, &x, NULL), "linear_forward", "y_ok");
    sakd_tensor nobuf = w;
    nobuf.buf = NULL;
    expect_arg_error(sakd_linear_forward(&y, &x, &nobuf, NULL), "linear_forward", "weight");
    expect_arg_error(sakd_linear_backward(NULL, &gwbad, NULL, &y, &x, &w), "linear_backward",
                     "gw_t");
    expect_arg_error(sakd_linear_backward(&gxbad, &gw, NULL, &y, &x, &w), "linear_backward",
                     "gx_bad");
    expect_arg_error(sakd_linear_backward(NULL, &gw, NULL, &ybad, &x, &w), "linear_backward",
                     "y_rows5");
    sakd_tensor *ts[] = {&x, &w, &b, &y, &ybad, &gw, &gwbad, &gxbad, &w3};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
}
END_TEST

Suite *suite_linear(void)
{
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_linear_cases, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_linear_views, 0, 2);
    tcase_add_loop_test(tc, test_linear_random, 0, 4);
    tcase_add_test(tc, test_linear_bad_args);
    suite_add_tcase(s, tc);
    return s;
}
