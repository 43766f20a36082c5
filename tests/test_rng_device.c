/* test_rng_device.c — the OpenCL Philox against Random123 on the host: known answers, random
 * counters and keys, uniform/normal fills at odd sizes, offsets and counter bases, and dropout
 * masks against the host's uniforms. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

/* Normals: the device's float log/sqrt/sin/cos (each within 4 ulp in OpenCL 1.2) against the
 * host's; r <= 5.7, so 1e-5·(1 + |z|) leaves room for a few ulps of each. */
#define NORMAL_TOL 1e-5

START_TEST(test_philox_raw)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(600);
    enum { N = 257 };
    static uint32_t in[6 * N], out[4 * N];
    for (size_t i = 0; i < 6 * N; i++)
        in[i] = (uint32_t)test_rand_u64(&r);
    /* The Random123 known-answer inputs first. */
    const uint32_t kat_in[3][6] = {
        {0, 0, 0, 0, 0, 0},
        {~0u, ~0u, ~0u, ~0u, ~0u, ~0u},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0}};
    const uint32_t kat_out[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                    {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                    {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int k = 0; k < 3; k++)
        for (int w = 0; w < 6; w++)
            in[6 * k + w] = kat_in[k][w];
    cl_mem bin, bout;
    TEST_OK(sakd_buffer_new(ctx, "philox in", sizeof in, &bin));
    TEST_OK(sakd_buffer_new(ctx, "philox out", sizeof out, &bout));
    ck_assert_int_eq(
        clEnqueueWriteBuffer(ctx->queue, bin, CL_TRUE, 0, sizeof in, in, 0, NULL, NULL),
        CL_SUCCESS);
    cl_kernel k;
    TEST_OK(sakd_kernel_get(ctx, "random", NULL, "philox_raw", &k));
    cl_ulong n = N;
    TEST_OK(sakd_launch_1d(ctx, k, N, 3, (sakd_arg[]){SAKD_ARG(bout), SAKD_ARG(bin), SAKD_ARG(n)}));
    ck_assert_int_eq(
        clEnqueueReadBuffer(ctx->queue, bout, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL),
        CL_SUCCESS);
    for (int v = 0; v < 3; v++)
        for (int w = 0; w < 4; w++)
            ck_assert_msg(out[4 * v + w] == kat_out[v][w], "KAT %d word %d: %08x", v, w,
                          out[4 * v + w]);
    for (size_t j = 0; j < N; j++) {
        uint32_t ref[4];
        sakd_philox4x32_10(in + 6 * j, in + 6 * j + 4, ref);
        for (int w = 0; w < 4; w++)
            ck_assert_msg(out[4 * j + w] == ref[w], "item %zu word %d: device %08x, host %08x", j,
                          w, out[4 * j + w], ref[w]);
    }
    sakd_buffer_free(ctx, bin, sizeof in);
    sakd_buffer_free(ctx, bout, sizeof out);
}
END_TEST

START_TEST(test_fills_match_host)
{
    /* _i = 0: n = 1 at a base in the middle of a block; else random n, base, seed, offset. */
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(610 + (uint64_t)_i);
    size_t n = _i == 0 ? 1 : test_rand_size(&r, 2, 10000), off = test_rand_size(&r, 0, 7);
    size_t total = n + off + 3;
    uint64_t seed = test_rand_u64(&r), base = _i == 0 ? 4 * 1000 + 3 : test_rand_u64(&r) >> 3;
    float lo = (float)test_rand_uniform(&r, -2, 0), hi = (float)test_rand_uniform(&r, 0.5, 3);
    float mean = (float)test_rand_uniform(&r, -1, 1), sd = (float)test_rand_uniform(&r, 0.1, 2);
    sakd_tensor t, v;
    TEST_OK(sakd_tensor_new(&t, ctx, "random", 1, &total));
    TEST_OK(sakd_tensor_view(&v, &t, "random view", off, 1, &n));
    float *out = malloc(total * sizeof *out);

    TEST_OK(sakd_tensor_fill(&t, NAN));
    TEST_OK(sakd_rng_uniform_fill(&v, seed, base, lo, hi));
    TEST_OK(sakd_tensor_download(&t, out));
    for (size_t i = 0; i < total; i++) {
        if (i < off || i >= off + n) {
            ck_assert_msg(isnan(out[i]), "element %zu outside the view was written", i);
            continue;
        }
        float ref = lo + (hi - lo) * sakd_rng_uniform(seed, base + i - off);
        /* Same float formula on both sides; allow one rounding for a fused multiply-add. */
        ck_assert_msg(fabsf(out[i] - ref) <= 2e-7f * (fabsf(lo) + fabsf(hi)),
                      "uniform %zu: %.9g vs %.9g (seed %llu)", i, out[i], ref,
                      (unsigned long long)test_seed());
    }
    TEST_OK(sakd_rng_uniform_fill(&v, seed, base, 0.0f, 1.0f));
    TEST_OK(sakd_tensor_download(&t, out));
    for (size_t i = 0; i < n; i++) /* unscaled: bit-identical */
        ck_assert(out[off + i] == sakd_rng_uniform(seed, base + i));

    TEST_OK(sakd_tensor_fill(&t, NAN));
    TEST_OK(sakd_rng_normal_fill(&v, seed, base, mean, sd));
    TEST_OK(sakd_tensor_download(&t, out));
    for (size_t i = 0; i < total; i++) {
        if (i < off || i >= off + n) {
            ck_assert(isnan(out[i]));
            continue;
        }
        double z = sakd_rng_normal(seed, base + i - off), ref = mean + sd * z;
        ck_assert_msg(fabs(out[i] - ref) <= NORMAL_TOL * (1.0 + fabs(ref)) * (1.0 + sd),
                      "normal %zu: %.9g vs %.9g (seed %llu)", i, out[i], ref,
                      (unsigned long long)test_seed());
    }
    sakd_tensor_free(&t);
    free(out);
}
END_TEST

/* Dropout: y = x/(1 − p) where the host's U(seed, base + i mod period) ≥ p, else exactly 0; the
 * same mask at every time step; the kept fraction within 6 standard deviations of 1 − p; p = 0
 * copies; in place works; bad probabilities and periods are refused naming the tensor. */
START_TEST(test_dropout_mask)
{
    sakd_ctx *ctx = test_ctx();
    test_rng r = test_rng_new(640 + (uint64_t)_i);
    static const float ps[] = {0.5f, 0.1f, 0.8f, 0.0f};
    float p = ps[_i];
    size_t T = 1 + test_rand_u64(&r) % 4, B = 3 + test_rand_u64(&r) % 5,
           F = 601 + test_rand_u64(&r) % 900;
    size_t period = B * F, n = T * period, shape[2] = {T * B, F};
    uint64_t seed = test_rand_u64(&r), base = test_rand_u64(&r) >> 4;
    float *x = malloc(n * 4), *y = malloc(n * 4), *y2 = malloc(n * 4);
    test_fill_uniform(&r, x, n, -2, 2);
    sakd_tensor tx, ty;
    TEST_OK(sakd_tensor_new(&tx, ctx, "dropout in", 2, shape));
    TEST_OK(sakd_tensor_new(&ty, ctx, "dropout out", 2, shape));
    TEST_OK(sakd_tensor_upload(&tx, x));
    TEST_OK(sakd_tensor_fill(&ty, NAN));
    TEST_OK(sakd_dropout_apply(&ty, &tx, p, seed, base, period));
    TEST_OK(sakd_tensor_download(&ty, y));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int keep = sakd_rng_uniform(seed, base + i % period) >= p;
        double ref = keep ? (double)x[i] / (1.0 - (double)p) : 0.0;
        ck_assert_msg(keep ? fabs(y[i] - ref) <= 2 * FLT_EPSILON * fabs(ref) : y[i] == 0.0f,
                      "dropout p %g: y[%zu] = %.9g, reference %.9g", (double)p, i, y[i], ref);
        if (i >= period) /* the mask of step 0 */
            ck_assert_msg((y[i] == 0.0f) == (y[i % period] == 0.0f) || x[i] == 0.0f ||
                              x[i % period] == 0.0f,
                          "element %zu is dropped at one time step and not at another", i % period);
        kept += i < period && keep;
    }
    double q = 1.0 - (double)p, sd = sqrt(p * q / (double)period);
    ck_assert_msg(fabs((double)kept / (double)period - q) <= 6 * sd + 1e-12,
                  "kept %zu of %zu with p %g", kept, period, (double)p);
    /* In place gives the same result. */
    TEST_OK(sakd_dropout_apply(&tx, &tx, p, seed, base, period));
    TEST_OK(sakd_tensor_download(&tx, y2));
    ck_assert(memcmp(y, y2, n * 4) == 0);
    ck_assert_int_eq(sakd_dropout_apply(&ty, &tx, 1.0f, seed, base, period), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "dropout in"), "%s", sakd_error_detail());
    ck_assert_int_eq(sakd_dropout_apply(&ty, &tx, p, seed, base, period + 1), SAKD_ERR_ARG);
    ck_assert_msg(strstr(sakd_error_detail(), "period"), "%s", sakd_error_detail());
    sakd_tensor_free(&tx);
    sakd_tensor_free(&ty);
    free(x), free(y), free(y2);
}
END_TEST

Suite *suite_rng_device(void)
{
    Suite *s = suite_create("rng_device");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_philox_raw);
    tcase_add_loop_test(tc, test_fills_match_host, 0, 4);
    tcase_add_loop_test(tc, test_dropout_mask, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
