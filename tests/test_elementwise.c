/* test_elementwise.c — axpby and scale kernels against a double-precision CPU reference, with
 * poisoned outputs, odd sizes and offsets. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* a·x + b·y in float, possibly contracted to an fma: a few ulps of |a·x| + |b·y|. */
#define AXPBY_RTOL (4.0 * FLT_EPSILON)

START_TEST(test_axpby)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(500 + (uint64_t)_i);
    /* n = 1 and odd sizes that are not multiples of any work-group size. */
    size_t n = _i == 0 ? 1 : test_rand_size(&r, 2, 20000) | 1;
    size_t xo = test_rand_size(&r, 0, 9), yo = test_rand_size(&r, 0, 9);
    size_t nx = n + xo + 5, ny = n + yo + 5;
    float *x = malloc(nx * sizeof *x), *y0 = malloc(ny * sizeof *y0), *y = malloc(ny * sizeof *y);
    test_fill_uniform(&r, x, nx, -10, 10);
    test_fill_uniform(&r, y0, ny, -10, 10);
    float a = (float)test_rand_uniform(&r, -3, 3), b = (float)test_rand_uniform(&r, -3, 3);
    sakd_tensor tx, ty, vx, vy;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 1, &nx));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 1, &ny));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&ty, y0));
    TEST_OK(sakd_tensor_view(&vx, &tx, "x view", xo, 1, &n));
    TEST_OK(sakd_tensor_view(&vy, &ty, "y view", yo, 1, &n));
    TEST_OK(sakd_axpby(&vy, &vx, a, b));
    test_poison(y, ny);
    TEST_OK(sakd_tensor_download(&ty, y));
    for (size_t i = 0; i < ny; i++) {
        if (i < yo || i >= yo + n) {
            ck_assert_msg(y[i] == y0[i], "y[%zu] outside the view changed", i);
            continue;
        }
        double xi = x[xo + i - yo], ref = (double)a * xi + (double)b * y0[i];
        double tol = AXPBY_RTOL * (fabs(a * xi) + fabs(b * y0[i]));
        ck_assert_msg(fabs(y[i] - ref) <= tol, "n %zu: y[%zu] = %.9g, reference %.9g (seed %llu)",
                      n, i, y[i], ref, (unsigned long long)test_seed());
    }
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    free(x);
    free(y0);
    free(y);
}
END_TEST

START_TEST(test_scale)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(510);
    size_t n = test_rand_size(&r, 1, 9999);
    float *y0 = malloc(n * sizeof *y0), *y = malloc(n * sizeof *y);
    test_fill_uniform(&r, y0, n, -10, 10);
    float a = (float)test_rand_uniform(&r, -3, 3);
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "y", 1, &n));
    TEST_OK(sakd_tensor_upload(&t, y0));
    TEST_OK(sakd_scale(&t, a));
    test_poison(y, n);
    TEST_OK(sakd_tensor_download(&t, y));
    for (size_t i = 0; i < n; i++) /* one rounding: half an ulp */
        ck_assert_msg(fabs(y[i] - (double)a * y0[i]) <= 0.5 * FLT_EPSILON * fabs(a * y0[i]),
                      "y[%zu] = %.9g", i, y[i]);
    sakd_tensor_free(&t);
    free(y0);
    free(y);
}
END_TEST

START_TEST(test_size_mismatch)
{
    sakd_ctx *ctx = test_ctx();
    size_t n = 10, m = 11;
    sakd_tensor a, b;
    TEST_OK(sakd_tensor_new(&a, ctx, "short", 1, &n));
    TEST_OK(sakd_tensor_new(&b, ctx, "long", 1, &m));
    ck_assert_int_eq(sakd_axpby(&a, &b, 1.0f, 1.0f), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "short") && strstr(sakd_error_detail(), "long"), "%s",
                  sakd_error_detail());
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
}
END_TEST

Suite *suite_elementwise(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_axpby, 0, 4);
    tcase_add_test(tc, test_scale);
    tcase_add_test(tc, test_size_mismatch);
    suite_add_tcase(s, tc);
    return s;
}
