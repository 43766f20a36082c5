/* test_activation.c — ReLU forward and backward against a CPU reference (exact: no rounding),
 * finite differences away from the kink, determinism and bad shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Finite differences of max(x, 0) in double, inputs at least 1e-3 from the kink. */
#define RELU_FD_STEP 1e-6
#define RELU_FD_TOL 1e-9

static const size_t relu_shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 1, 9, 11}, {6, 17, 3, 5}};

START_TEST(test_relu)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(3500 + (uint64_t)_i);
    const size_t *shape = relu_shapes[_i];
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *x = malloc(n * 4), *gy = malloc(n * 4), *y = malloc(n * 4), *gx = malloc(n * 4);
    test_fill_uniform(&r, x, n, -2, 2);
    test_fill_uniform(&r, gy, n, -1, 1);
    x[0] = 0.0f; /* the kink: gradient 0 */
    sakd_tensor tx, ty, tgy, tgx;
    TEST_OK(sakd_tensor_new(&tx, ctx, "x", 4, shape));
    TEST_OK(sakd_tensor_new(&ty, ctx, "y", 4, shape));
    TEST_OK(sakd_tensor_new(&tgy, ctx, "gy", 4, shape));
    TEST_OK(sakd_tensor_new(&tgx, ctx, "gx", 4, shape));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_upload(&tgy, gy));
    TEST_OK(sakd_tensor_fill(&ty, NAN));
    TEST_OK(sakd_tensor_fill(&tgx, NAN));
    TEST_OK(sakd_relu_forward(&ty, &tx));
    TEST_OK(sakd_relu_backward(&tgx, &tx, &tgy));
    TEST_OK(sakd_tensor_download(&ty, y));
    TEST_OK(sakd_tensor_download(&tgx, gx));
    for (size_t i = 0; i < n; i++) {
        double ry = x[i] > 0 ? x[i] : 0.0, rg = x[i] > 0 ? gy[i] : 0.0;
        ck_assert_msg(y[i] == ry, "y[%zu] = %g, x = %g", i, y[i], x[i]);
        ck_assert_msg(gx[i] == rg, "gx[%zu] = %g, expected %g", i, gx[i], rg);
        if (fabs(x[i]) > 1e-3) { /* reference gradient vs central differences */
            double xp = x[i] + RELU_FD_STEP, xm = x[i] - RELU_FD_STEP;
            double fd = gy[i] * (fmax(xp, 0) - fmax(xm, 0)) / (2 * RELU_FD_STEP);
            ck_assert_msg(fabs(fd - rg) <= RELU_FD_TOL, "fd %g vs %g", fd, rg);
        }
    }
    /* In place and deterministic. */
    float *y2 = malloc(n * 4);
    TEST_OK(sakd_relu_forward(&tx, &tx));
    TEST_OK(sakd_tensor_download(&tx, y2));
    ck_assert(memcmp(y, y2, n * 4) == 0);
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    sakd_tensor_free(&tgy);
    sakd_tensor_free(&tgx);
    free(x), free(gy), free(y), free(gx), free(y2);
}
END_TEST

START_TEST(test_relu_bad_shapes)
{
    sakd_ctx *ctx = test_ctx();
    size_t a[2] = {4, 5}, b[2] = {5, 4};
    sakd_tensor x, y;
    TEST_OK(sakd_tensor_new(&x, ctx, "relu x", 2, a));
    TEST_OK(sakd_tensor_new(&y, ctx, "relu y", 2, b));
    ck_assert_int_eq(sakd_relu_forward(&y, &x), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "relu_forward") &&
                      strstr(sakd_error_detail(), "relu x") &&
                      strstr(sakd_error_detail(), "relu y"),
                  "%s", sakd_error_detail());
    ck_assert_int_eq(sakd_relu_backward(&x, &x, &y), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "relu_backward"), "%s", sakd_error_detail());
    sakd_tensor_free(&x);
    sakd_tensor_free(&y);
}
END_TEST

Suite *suite_activation(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_relu, 0, 4);
    tcase_add_test(tc, test_relu_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}
