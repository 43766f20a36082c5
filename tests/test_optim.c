/* test_optim.c — SGD (± momentum, Nesterov, weight decay) and AdamW steps against a
 * double-precision CPU reference over several steps; gradient norm, clipping, zeroing and
 * scaling; determinism and bad input. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Parameters and states of magnitude O(1) stepped STEPS times: each step rounds ~6 float
 * operations on O(1) values (≤ 1 ulp each), and the errors add over the steps: 6·5 ulps of 1,
 * doubled. Compared absolutely on values bounded by ~5. */
#define STEPS 5
#define OPTIM_TOL (64.0 * FLT_EPSILON)
/* The norm's float sum of squares in chunks of `chunk`, then G chunk sums: relative error of
 * the sum ≤ (chunk + G)·eps, halved by the square root; 2× margin. */
#define NORM_TOL(chunk, G) (((double)(chunk) + (double)(G) + 4.0) * FLT_EPSILON)
/* Chunking of the device norm (src/ops/optim.c). */
#define OPTIM_MAX_CHUNKS 1024

static sakd_tensor vec_new(const char *name, size_t n, const float *host)
{
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, test_ctx(), name, 1, &n));
    if (host)
        TEST_OK(sakd_tensor_upload(&t, host));
    else
        TEST_OK(sakd_tensor_fill(&t, NAN));
    return t;
}

static float *vec_get(const sakd_tensor *t)
{
    size_t n = sakd_tensor_numel(t);
    float *h = malloc(n * sizeof *h);
    test_poison(h, n);
    TEST_OK(sakd_tensor_download(t, h));
    return h;
}

static void check_vec(const char *what, int step, const sakd_tensor *t, const double *ref,
                      double tol)
{
    size_t n = sakd_tensor_numel(t);
    float *h = vec_get(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(h[i] - ref[i]) <= tol,
                      "%s[%zu] after step %d = %.9g, reference %.9g "
                      "(seed %llu)",
                      what, i, step, h[i], ref[i], (unsigned long long)test_seed());
    free(h);
}

/* _i: momentum (0 / 0.9) × Nesterov (with momentum only) × weight decay (0 / 5e-4). */
START_TEST(test_sgd)
{
    static const struct {
        float mu;
        int nesterov;
        float wd;
    } cases[6] = {{0, 0, 0},        {0, 0, 5e-4f}, {0.9f, 0, 0},
                  {0.9f, 0, 5e-4f}, {0.9f, 1, 0},  {0.9f, 1, 5e-4f}};
    float mu = cases[_i].mu, wd = cases[_i].wd, lr = 0.1f;
    int nesterov = cases[_i].nesterov;
    test_rng r = test_rng_new(4000 + (uint64_t)_i);
    size_t n = _i == 0 ? 1 : test_rand_size(&r, 2, 5000) | 1;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *zero = calloc(n, sizeof *zero);
    double *pr = malloc(n * sizeof *pr), *br = calloc(n, sizeof *br);
    test_fill_uniform(&r, p, n, -1, 1);
    for (size_t i = 0; i < n; i++)
        pr[i] = p[i];
    sakd_tensor tp = vec_new("params", n, p), tb = vec_new("momentum", n, zero);
    sakd_tensor tg = vec_new("grads", n, NULL);
    for (int step = 1; step <= STEPS; step++) {
        test_fill_uniform(&r, g, n, -1, 1);
        TEST_OK(sakd_tensor_upload(&tg, g));
        TEST_OK(sakd_sgd_step(&tp, mu != 0 ? &tb : NULL, &tg, lr, mu, wd, nesterov));
        for (size_t i = 0; i < n; i++) { /* PyTorch SGD, written out in double */
            double d = (double)g[i] + (double)wd * pr[i];
            if (mu != 0) {
                br[i] = step == 1 ? d : (double)mu * br[i] + d;
                d = nesterov ? d + (double)mu * br[i] : br[i];
            }
            pr[i] -= (double)lr * d;
        }
        check_vec("params", step, &tp, pr, OPTIM_TOL);
        if (mu != 0)
            check_vec("momentum", step, &tb, br, OPTIM_TOL);
    }
    sakd_tensor_free(&tp), sakd_tensor_free(&tb), sakd_tensor_free(&tg);
    free(p), free(g), free(zero), free(pr), free(br);
}
END_TEST

/* AdamW with bias correction over steps t = 1..5; _i: weight decay 0 / 0.01, lr 1e-3 / 0.01. */
START_TEST(test_adamw)
{
    float lr = _i == 0 ? 1e-3f : 0.01f, wd = _i == 0 ? 0.0f : 0.01f;
    float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    test_rng r = test_rng_new(4100 + (uint64_t)_i);
    size_t n = _i == 0 ? 1 : test_rand_size(&r, 2, 5000) | 1;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *zero = calloc(n, sizeof *zero);
    double *pr = malloc(n * sizeof *pr), *mr = calloc(n, sizeof *mr), *vr = calloc(n, sizeof *vr);
    test_fill_uniform(&r, p, n, -1, 1);
    for (size_t i = 0; i < n; i++)
        pr[i] = p[i];
    sakd_tensor tp = vec_new("params", n, p), tm = vec_new("m", n, zero),
                tv = vec_new("v", n, zero), tg = vec_new("grads", n, NULL);
    for (long t = 1; t <= STEPS; t++) {
        test_fill_uniform(&r, g, n, -1, 1);
        TEST_OK(sakd_tensor_upload(&tg, g));
        TEST_OK(sakd_adamw_step(&tp, &tm, &tv, &tg, lr, b1, b2, eps, wd, t));
        for (size_t i = 0; i < n; i++) { /* the textbook AdamW in double */
            pr[i] -= (double)lr * wd * pr[i];
            mr[i] = b1 * mr[i] + (1.0 - b1) * g[i];
            vr[i] = b2 * vr[i] + (1.0 - b2) * (double)g[i] * g[i];
            double mh = mr[i] / (1 - pow(b1, (double)t)), vh = vr[i] / (1 - pow(b2, (double)t));
            pr[i] -= lr * mh / (sqrt(vh) + eps);
        }
        check_vec("params", (int)t, &tp, pr, OPTIM_TOL);
        check_vec("m", (int)t, &tm, mr, OPTIM_TOL);
        check_vec("v", (int)t, &tv, vr, OPTIM_TOL);
    }
    sakd_tensor_free(&tp), sakd_tensor_free(&tm), sakd_tensor_free(&tv), sakd_tensor_free(&tg);
    free(p), free(g), free(zero), free(pr), free(mr), free(vr);
}
END_TEST

/* Sizes: 1, odd small, odd large (many elements per chunk), 1024·k + 1. */
START_TEST(test_grad_norm)
{
    test_rng r = test_rng_new(4200 + (uint64_t)_i);
    size_t sizes[4] = {1, test_rand_size(&r, 2, 900) | 1, test_rand_size(&r, 30000, 60000) | 1,
                       1024 * test_rand_size(&r, 3, 9) + 1};
    size_t n = sizes[_i], off = test_rand_size(&r, 0, 7), total = n + off;
    float *g = malloc(total * sizeof *g);
    test_fill_uniform(&r, g, total, -2, 2);
    sakd_tensor base = vec_new("gbase", total, g), tg, tn = vec_new("norm", 1, NULL);
    TEST_OK(sakd_tensor_view(&tg, &base, "grads", off, 1, &n));
    TEST_OK(sakd_grad_norm(&tn, &tg));
    float got = NAN;
    TEST_OK(sakd_tensor_download(&tn, &got));
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[off + i] * g[off + i];
    size_t G = n < OPTIM_MAX_CHUNKS ? n : OPTIM_MAX_CHUNKS, chunk = (n + G - 1) / G;
    G = (n + chunk - 1) / chunk;
    ck_assert_msg(fabs(got - sqrt(ss)) <= NORM_TOL(chunk, G) * sqrt(ss),
                  "n %zu: norm %.9g, reference %.9g (seed %llu)", n, got, sqrt(ss),
                  (unsigned long long)test_seed());
    /* Determinism: the same bytes again. */
    float again = NAN;
    TEST_OK(sakd_grad_norm(&tn, &tg));
    TEST_OK(sakd_tensor_download(&tn, &again));
    ck_assert(memcmp(&got, &again, sizeof got) == 0);
    sakd_tensor_free(&base), sakd_tensor_free(&tn);
    free(g);
}
END_TEST

/* Clipping to max_norm below the norm scales by max_norm/(norm + 1e-6); above it leaves the
 * gradient untouched. Zeroing and scaling. */
START_TEST(test_grad_clip_zero_scale)
{
    test_rng r = test_rng_new(4300);
    size_t n = 777;
    float *g = malloc(n * sizeof *g);
    test_fill_uniform(&r, g, n, -1, 1);
    sakd_tensor tg = vec_new("grads", n, g), tn = vec_new("norm", 1, NULL);
    TEST_OK(sakd_grad_norm(&tn, &tg));
    float norm = NAN;
    TEST_OK(sakd_tensor_download(&tn, &norm));
    TEST_OK(sakd_grad_clip(&tg, &tn, 2 * norm));
    float *h = vec_get(&tg);
    ck_assert(memcmp(h, g, n * sizeof *g) == 0);
    free(h);
    TEST_OK(sakd_grad_clip(&tg, &tn, 1.0f));
    h = vec_get(&tg);
    double coef = 1.0 / ((double)norm + 1e-6);
    for (size_t i = 0; i < n; i++) /* coef rounded to float, then one product: 2 ulps */
        ck_assert_msg(fabs(h[i] - coef * g[i]) <= 2 * FLT_EPSILON * fabs(coef * g[i]),
                      "clipped [%zu] = %.9g, want %.9g", i, h[i], coef * g[i]);
    free(h);
    TEST_OK(sakd_grad_scale(&tg, 0.0f));
    TEST_OK(sakd_tensor_upload(&tg, g));
    TEST_OK(sakd_grad_scale(&tg, -3.0f));
    h = vec_get(&tg);
    for (size_t i = 0; i < n; i++)
        ck_assert(h[i] == -3.0f * g[i]);
    free(h);
    TEST_OK(sakd_tensor_fill(&tg, NAN));
    TEST_OK(sakd_grad_zero(&tg));
    h = vec_get(&tg);
    for (size_t i = 0; i < n; i++)
        ck_assert(h[i] == 0.0f);
    free(h);
    sakd_tensor_free(&tg), sakd_tensor_free(&tn);
    free(g);
}
END_TEST

/* The same SGD (Nesterov) and AdamW steps from the same state give identical bytes. */
START_TEST(test_optim_determinism)
{
    test_rng r = test_rng_new(4400);
    size_t n = 3001;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *zero = calloc(n, sizeof *zero);
    test_fill_uniform(&r, p, n, -1, 1);
    test_fill_uniform(&r, g, n, -1, 1);
    float *out[2][2];
    for (int run = 0; run < 2; run++) {
        sakd_tensor tp = vec_new("params", n, p), tb = vec_new("momentum", n, zero),
                    tm = vec_new("m", n, zero), tv = vec_new("v", n, zero),
                    tg = vec_new("grads", n, g);
        for (int s = 0; s < 3; s++)
            TEST_OK(sakd_sgd_step(&tp, &tb, &tg, 0.1f, 0.9f, 5e-4f, 1));
        out[run][0] = vec_get(&tp);
        for (long t = 1; t <= 3; t++)
            TEST_OK(sakd_adamw_step(&tp, &tm, &tv, &tg, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t));
        out[run][1] = vec_get(&tp);
        sakd_tensor_free(&tp), sakd_tensor_free(&tb), sakd_tensor_free(&tm);
        sakd_tensor_free(&tv), sakd_tensor_free(&tg);
    }
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(memcmp(out[0][k], out[1][k], n * sizeof(float)) == 0,
                      "%s differs between two identical runs", k ? "AdamW" : "SGD");
        free(out[0][k]), free(out[1][k]);
    }
    free(p), free(g), free(zero);
}
END_TEST

static void expect_arg_error(sakd_status st, const char *op, const char *name)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), op) && strstr(sakd_error_detail(), name),
                  "detail '%s' should name %s and %s", sakd_error_detail(), op, name);
}

START_TEST(test_optim_bad)
{
    sakd_tensor p = vec_new("params", 10, NULL), g = vec_new("grads", 11, NULL);
    sakd_tensor b = vec_new("buf", 9, NULL), ok = vec_new("ok", 10, NULL);
    sakd_tensor two = vec_new("twonorm", 2, NULL);
    expect_arg_error(sakd_sgd_step(&p, &ok, &g, 0.1f, 0.9f, 0, 0), "sgd_step", "grads");
    expect_arg_error(sakd_sgd_step(&p, &b, &ok, 0.1f, 0.9f, 0, 0), "sgd_step", "buf");
    expect_arg_error(sakd_sgd_step(&p, NULL, &ok, 0.1f, 0.9f, 0, 0), "sgd_step", "momentum");
    expect_arg_error(sakd_sgd_step(&p, NULL, &ok, 0.1f, 0.0f, 0, 1), "sgd_step", "Nesterov");
    expect_arg_error(sakd_adamw_step(&p, &ok, &b, &ok, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 1),
                     "adamw_step", "buf");
    expect_arg_error(sakd_adamw_step(&p, &ok, &ok, &g, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 1),
                     "adamw_step", "grads");
    expect_arg_error(sakd_adamw_step(&p, &ok, &ok, &ok, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 0),
                     "adamw_step", "step 0");
    expect_arg_error(sakd_grad_norm(&two, &g), "grad_norm", "twonorm");
    expect_arg_error(sakd_grad_clip(&g, &two, 1.0f), "grad_clip", "twonorm");
    sakd_tensor_free(&p), sakd_tensor_free(&g), sakd_tensor_free(&b), sakd_tensor_free(&ok);
    sakd_tensor_free(&two);
}
END_TEST

Suite *suite_optim(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_sgd, 0, 6);
    tcase_add_loop_test(tc, test_adamw, 0, 2);
    tcase_add_loop_test(tc, test_grad_norm, 0, 4);
    tcase_add_test(tc, test_grad_clip_zero_scale);
    tcase_add_test(tc, test_optim_determinism);
    tcase_add_test(tc, test_optim_bad);
    suite_add_tcase(s, tc);
    return s;
}
