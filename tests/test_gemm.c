/* test_gemm.c — sakd_gemm and sakd_gemm_batched (CLBlast) against a double-precision CPU
 * reference on fresh random inputs of odd sizes, every transpose, offsets and padded leading
 * dimensions; argument errors reported by name. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_state.h"
#include "testutil.h"

/* A float dot product of k terms errs by at most about k·eps·Σ|a_i b_i| (Higham, gamma_k);
 * alpha and beta add two more roundings. */
#define GEMM_ERR_FACTOR 1.0

typedef struct gemm_shape {
    size_t m, n, k, batch;
    int ta, tb;
    size_t pad, off;
    float alpha, beta;
} gemm_shape;

/* Runs one GEMM on the device and checks every element of C, padding included. */
static void check_gemm(const gemm_shape *g)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(g->m * 1000003 + g->n * 1009 + g->k);
    size_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
    size_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
    size_t lda = ac + g->pad, ldb = bc + g->pad, ldc = g->n + g->pad;
    size_t sa = ar * lda + g->pad, sb = br * ldb, sc = g->m * ldc + 3;
    size_t na = g->off + g->batch * sa, nb = g->off + g->batch * sb, nc = g->off + g->batch * sc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c), *out = malloc(nc * sizeof *out);
    ck_assert(a && b && c && out);
    test_fill_uniform(&r, a, na, -1, 1);
    test_fill_uniform(&r, b, nb, -1, 1);
    test_fill_uniform(&r, c, nc, -1, 1);
    sakd_tensor ta, tb, tc;
    TEST_OK(sakd_tensor_new(&ta, ctx, "A", 1, &na));
    TEST_OK(sakd_tensor_new(&tb, ctx, "B", 1, &nb));
    TEST_OK(sakd_tensor_new(&tc, ctx, "C", 1, &nc));
    TEST_OK(sakd_tensor_upload(&ta, a));
    TEST_OK(sakd_tensor_upload(&tb, b));
    TEST_OK(sakd_tensor_upload(&tc, c));
    sakd_mat ma = {ta.buf, g->off, lda}, mb = {tb.buf, g->off, ldb}, mc = {tc.buf, g->off, ldc};
    if (g->batch == 1)
        TEST_OK(sakd_gemm(ctx, g->ta, g->tb, g->m, g->n, g->k, g->alpha, ma, mb, g->beta, mc));
    else
        TEST_OK(sakd_gemm_batched(ctx, g->ta, g->tb, g->m, g->n, g->k, g->alpha, ma, sa, mb, sb,
                                  g->beta, mc, sc, g->batch));
    test_poison(out, nc);
    TEST_OK(sakd_tensor_download(&tc, out));

    /* Elements of C outside the batch's m x n blocks must be untouched. */
    char *inside = calloc(nc, 1);
    ck_assert(inside);
    for (size_t p = 0; p < g->batch; p++)
        for (size_t i = 0; i < g->m; i++)
            for (size_t j = 0; j < g->n; j++) {
                size_t ci = g->off + p * sc + i * ldc + j;
                inside[ci] = 1;
                double acc = 0, mag = 0;
                for (size_t l = 0; l < g->k; l++) {
                    double x = a[g->off + p * sa + (g->ta ? l * lda + i : i * lda + l)];
                    double y = b[g->off + p * sb + (g->tb ? j * ldb + l : l * ldb + j)];
                    acc += x * y;
                    mag += fabs(x * y);
                }
                double ref = g->alpha * acc + (g->beta != 0 ? g->beta * (double)c[ci] : 0.0);
                double tol = GEMM_ERR_FACTOR * (double)(g->k + 2) * FLT_EPSILON *
                                 (fabs(g->alpha) * mag + fabs(g->beta * c[ci])) +
                             FLT_MIN;
                ck_assert_msg(fabs(out[ci] - ref) <= tol,
                              "%zux%zux%zu batch %zu %c%c: C[%zu][%zu][%zu] = %.9g, reference "
                              "%.9g (tolerance %.3g, seed %llu)",
                              g->m, g->n, g->k, g->batch, g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', p,
                              i, j, out[ci], ref, tol, (unsigned long long)test_seed());
            }
    for (size_t i = 0; i < nc; i++)
        if (!inside[i])
            ck_assert_msg(out[i] == c[i], "C[%zu] outside the result was overwritten", i);
    free(inside);
    sakd_tensor_free(&ta);
    sakd_tensor_free(&tb);
    sakd_tensor_free(&tc);
    free(a);
    free(b);
    free(c);
    free(out);
}

/* A random size in [lo, hi] that is not a multiple of 16. */
static size_t odd_size(test_rng *r, size_t lo, size_t hi)
{
    size_t v;
    do
        v = test_rand_size(r, lo, hi);
    while (v % 16 == 0);
    return v;
}

START_TEST(test_gemm_random_shapes)
{
    /* _i is the transpose combination: NN, TN, NT, TT. */
    test_rng r = test_rng_new(100 + (uint64_t)_i);
    for (int trial = 0; trial < 3; trial++) {
        gemm_shape g = {odd_size(&r, 1, 90),
                        odd_size(&r, 1, 90),
                        odd_size(&r, 1, 130),
                        1,
                        _i & 1,
                        (_i >> 1) & 1,
                        test_rand_size(&r, 0, 5),
                        test_rand_size(&r, 0, 7),
                        (float)test_rand_uniform(&r, -2, 2),
                        (float)test_rand_uniform(&r, -1, 1)};
        check_gemm(&g);
    }
}
END_TEST

START_TEST(test_gemm_edges)
{
    /* 1x1x1, a single row, a single column, a long reduction, alpha = 1 beta = 0. */
    const gemm_shape shapes[] = {
        {1, 1, 1, 1, 0, 0, 0, 0, 1.0f, 0.0f},    {1, 37, 19, 1, 0, 1, 2, 3, 0.5f, 1.0f},
        {41, 1, 23, 1, 1, 0, 1, 1, -1.0f, 0.5f}, {7, 9, 1001, 1, 0, 0, 0, 0, 1.0f, 0.0f},
        {33, 17, 65, 1, 1, 1, 0, 0, 1.0f, 1.0f},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_gemm(&shapes[i]);
}
END_TEST

START_TEST(test_gemm_batched)
{
    test_rng r = test_rng_new(200);
    for (int tr = 0; tr < 4; tr++) {
        gemm_shape g = {odd_size(&r, 1, 40),
                        odd_size(&r, 1, 40),
                        odd_size(&r, 1, 60),
                        test_rand_size(&r, 2, 5),
                        tr & 1,
                        tr >> 1,
                        test_rand_size(&r, 0, 3),
                        test_rand_size(&r, 0, 5),
                        (float)test_rand_uniform(&r, -2, 2),
                        (float)test_rand_uniform(&r, -1, 1)};
        check_gemm(&g);
    }
}
END_TEST

START_TEST(test_gemm_beta_zero_ignores_nan)
{
    /* With beta = 0, C is output only: NaN already in C must not leak into the result,
     * as BLAS specifies (layers write into uninitialised buffers this way). */
    sakd_ctx *ctx = test_ctx();
    const size_t m = 5, n = 3, k = 4, na = m * k, nb = k * n, nc = m * n;
    float a[20], b[12], c[15];
    test_rng r = test_rng_new(300);
    test_fill_uniform(&r, a, na, -1, 1);
    test_fill_uniform(&r, b, nb, -1, 1);
    sakd_tensor ta, tb, tc;
    TEST_OK(sakd_tensor_new(&ta, ctx, "A", 1, &na));
    TEST_OK(sakd_tensor_new(&tb, ctx, "B", 1, &nb));
    TEST_OK(sakd_tensor_new(&tc, ctx, "C", 1, &nc));
    TEST_OK(sakd_tensor_upload(&ta, a));
    TEST_OK(sakd_tensor_upload(&tb, b));
    TEST_OK(sakd_tensor_fill(&tc, NAN));
    TEST_OK(sakd_gemm(ctx, 0, 0, m, n, k, 1.0f, (sakd_mat){ta.buf, 0, k}, (sakd_mat){tb.buf, 0, n},
                      0.0f, (sakd_mat){tc.buf, 0, n}));
    TEST_OK(sakd_tensor_download(&tc, c));
    for (size_t i = 0; i < nc; i++)
        ck_assert_msg(isfinite(c[i]), "C[%zu] = %g after beta = 0", i, c[i]);
    sakd_tensor_free(&ta);
    sakd_tensor_free(&tb);
    sakd_tensor_free(&tc);
}
END_TEST

START_TEST(test_gemm_bad_arguments)
{
    sakd_ctx *ctx = test_ctx();
    const size_t n = 64;
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "M", 1, &n));
    sakd_mat m8 = {t.buf, 0, 8}, m2 = {t.buf, 0, 2};
    /* Each provider names the problem in its own words. */
    int host = strcmp(sakd_gemm_provider_name(ctx), "host") == 0;
    sakd_status bad = host ? SAKD_ERR_ARG : SAKD_ERR_CLBLAST;
    /* lda smaller than the row length of A. */
    ck_assert_int_eq(sakd_gemm(ctx, 0, 0, 4, 4, 8, 1.0f, m2, m8, 0.0f, m8), bad);
    ck_assert_msg(strstr(sakd_error_detail(),
                         host ? "leading dimension (2, 8, 8) is below" : "CLBlastInvalidLeadDimA"),
                  "%s", sakd_error_detail());
    /* C does not fit in its buffer. */
    ck_assert_int_eq(sakd_gemm(ctx, 0, 0, 16, 8, 8, 1.0f, m8, m8, 0.0f, m8), bad);
    ck_assert_msg(strstr(sakd_error_detail(), host
                                                  ? "GEMM A needs floats 0 to 128 of a buffer of 64"
                                                  : "CLBlastInsufficientMemory"),
                  "%s", sakd_error_detail());
    /* k = 0 with beta != 1 has no meaning here. */
    ck_assert_int_eq(sakd_gemm(ctx, 0, 0, 4, 4, 0, 1.0f, m8, m8, 0.5f, m8), SAKD_ERR_ARG);
    /* Empty products are no-ops. */
    TEST_OK(sakd_gemm(ctx, 0, 0, 0, 4, 4, 1.0f, m8, m8, 0.0f, m8));
    TEST_OK(sakd_gemm(ctx, 0, 0, 4, 4, 0, 1.0f, m8, m8, 1.0f, m8));
    sakd_tensor_free(&t);
}
END_TEST

/* The provider choice: automatic, by name, by SAKD_GEMM_PROVIDER; unknown names refused by
 * name; on a CPU device with host memory (PoCL) the host provider passes its zero-copy check. */
START_TEST(test_gemm_provider_choice)
{
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    TEST_OK(sakd_gemm_provider_set(ctx, "clblast"));
    ck_assert_str_eq(sakd_gemm_provider_name(ctx), "clblast");
    ck_assert_int_eq(sakd_gemm_provider_set(ctx, "cublas"), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "'cublas'") &&
                      strstr(sakd_error_detail(), "auto, clblast, host"),
                  "%s", sakd_error_detail());
    setenv("SAKD_GEMM_PROVIDER", "bogus", 1);
    ck_assert_int_eq(sakd_gemm_provider_set(ctx, NULL), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "SAKD_GEMM_PROVIDER"), "%s", sakd_error_detail());
    setenv("SAKD_GEMM_PROVIDER", "clblast", 1);
    TEST_OK(sakd_gemm_provider_set(ctx, NULL));
    ck_assert_str_eq(sakd_gemm_provider_name(ctx), "clblast");
    unsetenv("SAKD_GEMM_PROVIDER");
    int cpu_host = (ctx->info.type & CL_DEVICE_TYPE_CPU) && ctx->info.host_unified;
    TEST_OK(sakd_gemm_provider_set(ctx, NULL));
    if (test_providers() == 2 && cpu_host) {
        /* auto takes the host BLAS here, after the zero-copy check passed */
        ck_assert_str_eq(sakd_gemm_provider_name(ctx), "host");
        ck_assert_int_eq(sakd_ops_state_peek(ctx)->host_checked, 1);
        char desc[512];
        sakd_gemm_provider_describe(ctx, desc, sizeof desc);
        ck_assert_msg(strstr(desc, "kernels") && strstr(desc, "thread"), "%s", desc);
    } else {
        ck_assert_str_eq(sakd_gemm_provider_name(ctx), "clblast");
        ck_assert_int_ne(sakd_gemm_provider_set(ctx, "host"), SAKD_OK);
    }
    sakd_ctx_free(ctx);
}
END_TEST

Suite *suite_gemm(void)
{
    Suite *s = suite_create("gemm");
    /* Every case under each GEMM provider. */
    TCase *choice = tcase_create("choice");
    tcase_add_test(choice, test_gemm_provider_choice);
    suite_add_tcase(s, choice);
    for (int p = 0; p < test_providers(); p++) {
        TCase *tc = test_provider_tcase(p);
        tcase_set_timeout(tc, 900); /* the first CLBlast call compiles its kernels */
        tcase_add_loop_test(tc, test_gemm_random_shapes, 0, 4);
        tcase_add_test(tc, test_gemm_edges);
        tcase_add_test(tc, test_gemm_batched);
        tcase_add_test(tc, test_gemm_beta_zero_ignores_nan);
        tcase_add_test(tc, test_gemm_bad_arguments);
        suite_add_tcase(s, tc);
    }
    return s;
}
