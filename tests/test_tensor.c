/* test_tensor.c — device tensors: round trips, fill, copy, views, shape checks, memory
 * accounting, allocation failures that name the tensor, and the argument checks ops use. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_round_trip)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(400);
    size_t shape[5] = {test_rand_size(&r, 1, 3), test_rand_size(&r, 1, 5), test_rand_size(&r, 1, 7),
                       test_rand_size(&r, 1, 9), 3};
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "x", 5, shape));
    size_t n = sakd_tensor_numel(&t);
    ck_assert_uint_eq(n, shape[0] * shape[1] * shape[2] * shape[3] * shape[4]);
    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    test_fill_uniform(&r, in, n, -100, 100);
    test_poison(out, n);
    TEST_OK(sakd_tensor_upload(&t, in));
    TEST_OK(sakd_tensor_download(&t, out));
    ck_assert_mem_eq(in, out, n * sizeof *in);
    sakd_tensor_free(&t);
    ck_assert_ptr_null(t.buf);
    free(in);
    free(out);
}
END_TEST

START_TEST(test_fill_and_copy)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(401);
    size_t n = test_rand_size(&r, 1, 5000);
    sakd_tensor a, b;
    TEST_OK(sakd_tensor_new(&a, ctx, "a", 1, &n));
    TEST_OK(sakd_tensor_new(&b, ctx, "b", 1, &n));
    float value = (float)test_rand_uniform(&r, -5, 5);
    TEST_OK(sakd_tensor_fill(&a, value));
    TEST_OK(sakd_tensor_fill(&b, NAN));
    TEST_OK(sakd_tensor_copy(&b, &a));
    float *out = malloc(n * sizeof *out);
    test_poison(out, n);
    TEST_OK(sakd_tensor_download(&b, out));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == value, "b[%zu] = %g, want %g", i, out[i], value);
    /* Copy between tensors of different sizes is refused, naming both. */
    size_t m = n + 1;
    sakd_tensor c;
    TEST_OK(sakd_tensor_new(&c, ctx, "bigger", 1, &m));
    ck_assert_int_eq(sakd_tensor_copy(&c, &a), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "bigger"));
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
    free(out);
}
END_TEST

START_TEST(test_views)
{
    /* Writing through a view changes exactly its elements of the base. */
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(402);
    size_t shape[2] = {test_rand_size(&r, 3, 20), test_rand_size(&r, 2, 30)};
    sakd_tensor base, view, sub;
    TEST_OK(sakd_tensor_new(&base, ctx, "base", 2, shape));
    TEST_OK(sakd_tensor_fill(&base, 0.0f));
    size_t row = test_rand_size(&r, 0, shape[0] - 2), vshape[1] = {shape[1]};
    TEST_OK(sakd_tensor_view(&view, &base, "row", row * shape[1], 1, vshape));
    ck_assert_int_eq(view.owner, 0);
    ck_assert_uint_eq(view.offset, row * shape[1]);
    /* A view of a view adds offsets. */
    size_t half[1] = {shape[1] / 2};
    TEST_OK(sakd_tensor_view(&sub, &view, "half", shape[1] - half[0], 1, half));
    ck_assert_uint_eq(sub.offset, row * shape[1] + shape[1] - half[0]);
    TEST_OK(sakd_tensor_fill(&view, 1.0f));
    TEST_OK(sakd_tensor_fill(&sub, 2.0f));
    size_t n = shape[0] * shape[1];
    float *out = malloc(n * sizeof *out);
    TEST_OK(sakd_tensor_download(&base, out));
    for (size_t i = 0; i < n; i++) {
        float want = 0.0f;
        if (i >= row * shape[1] && i < (row + 1) * shape[1])
            want = i >= (row + 1) * shape[1] - half[0] ? 2.0f : 1.0f;
        ck_assert_msg(out[i] == want, "base[%zu] = %g, want %g", i, out[i], want);
    }
    /* Views that do not fit are refused, naming the view and the base. */
    ck_assert_int_eq(sakd_tensor_view(&sub, &base, "overhang", n - 1, 1, (size_t[]){2}),
                     SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "overhang"));
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "base"));
    sakd_tensor_free(&view); /* a view frees nothing */
    TEST_OK(sakd_tensor_download(&base, out));
    sakd_tensor_free(&base);
    free(out);
}
END_TEST

START_TEST(test_bad_shapes)
{
    sakd_ctx *ctx = test_ctx();
    sakd_tensor t;
    size_t shape[6] = {2, 2, 2, 2, 2, 2};
    ck_assert_int_eq(sakd_tensor_new(&t, ctx, "six", 6, shape), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "six"));
    ck_assert_int_eq(sakd_tensor_new(&t, ctx, "none", 0, shape), SAKD_ERR_ARG);
    size_t zero[2] = {3, 0};
    ck_assert_int_eq(sakd_tensor_new(&t, ctx, "empty", 2, zero), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "empty"));
}
END_TEST

START_TEST(test_memory_accounting)
{
    sakd_ctx *ctx = test_ctx();
    size_t before = ctx->mem_current, n1 = 1000, n2 = 3000;
    sakd_tensor a, b;
    TEST_OK(sakd_tensor_new(&a, ctx, "a", 1, &n1));
    TEST_OK(sakd_tensor_new(&b, ctx, "b", 1, &n2));
    ck_assert_uint_eq(ctx->mem_current, before + 4 * (n1 + n2));
    ck_assert_uint_ge(ctx->mem_peak, ctx->mem_current);
    sakd_tensor_free(&a);
    ck_assert_uint_eq(ctx->mem_current, before + 4 * n2);
    sakd_tensor_free(&b);
    ck_assert_uint_eq(ctx->mem_current, before);
}
END_TEST

START_TEST(test_allocation_too_large)
{
    /* Larger than the device's largest allocation: the message names the tensor, its shape
     * and the limit, and suggests a smaller batch. */
    sakd_ctx *ctx = test_ctx();
    size_t shape[2] = {(size_t)(ctx->info.max_alloc / 4096) + 1, 1024};
    sakd_tensor t;
    ck_assert_int_eq(sakd_tensor_new(&t, ctx, "activations.layer3", 2, shape), SAKD_ERR_NOMEM);
    const char *d = sakd_error_detail();
    ck_assert_msg(strstr(d, "activations.layer3") && strstr(d, "1024]") &&
                      strstr(d, "smaller batch"),
                  "%s", d);
    ck_assert_ptr_null(t.buf);
}
END_TEST

/* st is SAKD_ERR_ARG and the message holds each of the NULL-terminated strings. */
static void expect_refused(sakd_status st, ...)
{
    ck_assert_int_eq(st, SAKD_ERR_ARG);
    const char *d = sakd_error_detail();
    va_list ap;
    va_start(ap, st);
    for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *))
        ck_assert_msg(strstr(d, want) != NULL, "message '%s' lacks '%s'", d, want);
    va_end(ap);
}

/* The checks of runtime/tensor: a NULL tensor, one without a buffer and a wrong shape are
 * refused with "<op>: <role> '<name>' <problem>". */
START_TEST(test_require_present)
{
    sakd_ctx *ctx = test_ctx();
    size_t shape[2] = {2, 3};
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "w.conv1", 2, shape));
    TEST_OK(sakd_tensor_require("op_a", "weight", &t));
    expect_refused(sakd_tensor_require("op_a", "weight", NULL), "op_a: weight is missing",
                   "NULL tensor", NULL);
    sakd_tensor nobuf = t;
    nobuf.buf = NULL;
    expect_refused(sakd_tensor_require("op_b", "bias", &nobuf),
                   "op_b: bias 'w.conv1' is missing (no buffer)", NULL);
    sakd_tensor_free(&t);
}
END_TEST

START_TEST(test_require_shape)
{
    sakd_ctx *ctx = test_ctx();
    size_t shape[3] = {2, 3, 4};
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "x.in", 3, shape));
    TEST_OK(sakd_tensor_require_shape("op", "input", &t, 3, (size_t[]){2, 3, 4}));
    expect_refused(sakd_tensor_require_shape("op_c", "input", &t, 3, (size_t[]){2, 4, 4}),
                   "op_c: input 'x.in' has shape [2, 3, 4], expected [2, 4, 4]", NULL);
    /* the same numbers in fewer dimensions are another shape */
    expect_refused(sakd_tensor_require_shape("op_c", "input", &t, 2, (size_t[]){2, 3}),
                   "has shape [2, 3, 4], expected [2, 3]", NULL);
    expect_refused(sakd_tensor_require_shape("op_c", "input", NULL, 1, shape),
                   "op_c: input is missing (NULL tensor)", NULL);
    sakd_tensor nobuf = t;
    nobuf.buf = NULL;
    expect_refused(sakd_tensor_require_shape("op_c", "input", &nobuf, 3, shape),
                   "op_c: input 'x.in' is missing (no buffer)", NULL);
    sakd_tensor_free(&t);
}
END_TEST

START_TEST(test_require_numel)
{
    sakd_ctx *ctx = test_ctx();
    size_t shape[2] = {2, 3};
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "norm", 2, shape));
    TEST_OK(sakd_tensor_require_numel("op", "norm", &t, 6));
    expect_refused(sakd_tensor_require_numel("grad_norm", "norm", &t, 1),
                   "grad_norm: norm 'norm' has 6 elements, expected 1", NULL);
    expect_refused(sakd_tensor_require_numel("grad_norm", "norm", NULL, 1),
                   "grad_norm: norm is missing (NULL tensor)", NULL);
    sakd_tensor nobuf = t;
    nobuf.buf = NULL;
    expect_refused(sakd_tensor_require_numel("grad_norm", "norm", &nobuf, 6),
                   "grad_norm: norm 'norm' is missing (no buffer)", NULL);
    sakd_tensor_free(&t);
}
END_TEST

START_TEST(test_require_same_shape)
{
    sakd_ctx *ctx = test_ctx();
    sakd_tensor a, b, c;
    TEST_OK(sakd_tensor_new(&a, ctx, "spikes", 2, (size_t[]){4, 5}));
    TEST_OK(sakd_tensor_new(&b, ctx, "membrane", 2, (size_t[]){4, 5}));
    TEST_OK(sakd_tensor_new(&c, ctx, "flat", 1, (size_t[]){20}));
    TEST_OK(sakd_tensor_require_same_shape("op", "output", &a, "input", &b));
    expect_refused(sakd_tensor_require_same_shape("lif_x", "output", &c, "input", &a),
                   "lif_x: output 'flat' has shape [20], expected [4, 5] (that of input 'spikes')",
                   NULL);
    expect_refused(sakd_tensor_require_same_shape("lif_x", "output", NULL, "input", &a),
                   "lif_x: output is missing (NULL tensor)", NULL);
    expect_refused(sakd_tensor_require_same_shape("lif_x", "output", &a, "input", NULL),
                   "lif_x: input is missing (NULL tensor)", NULL);
    sakd_tensor nobuf = b;
    nobuf.buf = NULL;
    expect_refused(sakd_tensor_require_same_shape("lif_x", "output", &a, "input", &nobuf),
                   "lif_x: input 'membrane' is missing (no buffer)", NULL);
    sakd_tensor_free(&a);
    sakd_tensor_free(&b);
    sakd_tensor_free(&c);
}
END_TEST

START_TEST(test_require_same_numel)
{
    sakd_ctx *ctx = test_ctx();
    sakd_tensor p, g, m;
    TEST_OK(sakd_tensor_new(&p, ctx, "params", 2, (size_t[]){4, 5}));
    TEST_OK(sakd_tensor_new(&g, ctx, "grads", 1, (size_t[]){20}));
    TEST_OK(sakd_tensor_new(&m, ctx, "moment", 1, (size_t[]){21}));
    /* another shape of as many elements passes */
    TEST_OK(sakd_tensor_require_same_numel("op", "grads", &g, "params", &p));
    expect_refused(sakd_tensor_require_same_numel("adamw", "m", &m, "params", &p),
                   "adamw: m 'moment' has 21 elements, expected 20 (those of params 'params')",
                   NULL);
    expect_refused(sakd_tensor_require_same_numel("adamw", "m", NULL, "params", &p),
                   "adamw: m is missing (NULL tensor)", NULL);
    sakd_tensor nobuf = g;
    nobuf.buf = NULL;
    expect_refused(sakd_tensor_require_same_numel("adamw", "m", &m, "grads", &nobuf),
                   "adamw: grads 'grads' is missing (no buffer)", NULL);
    sakd_tensor_free(&p);
    sakd_tensor_free(&g);
    sakd_tensor_free(&m);
}
END_TEST

Suite *suite_tensor(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_fill_and_copy);
    tcase_add_test(tc, test_views);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_memory_accounting);
    tcase_add_test(tc, test_allocation_too_large);
    tcase_add_test(tc, test_require_present);
    tcase_add_test(tc, test_require_shape);
    tcase_add_test(tc, test_require_numel);
    tcase_add_test(tc, test_require_same_shape);
    tcase_add_test(tc, test_require_same_numel);
    suite_add_tcase(s, tc);
    return s;
}
