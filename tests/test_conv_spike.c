/* test_conv_spike.c — the spike-driven convolution of ops/conv_spike.h, host and device paths,
 * against a double-precision dense reference, on fresh random spike tensors at densities 0,
 * 0.01, 0.1, 0.5 and 1, odd shapes, strides 1 and 2, padding 0–2, kernels 1×1 to 5×3, with and
 * without bias (element offsets exercised on the device), more than 64 input channels and output
 * channels over several vector blocks; the host's results the same for 1 and 3 threads; the
 * bias gradient; the operation count against a direct count; the early-ending spike count;
 * refusals. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_spike.h"
#include "testutil.h"

typedef struct spike_case {
    size_t n, c, h, w, m, kh, kw, stride, pad;
} spike_case;

static const spike_case cases[] = {
    {2, 3, 7, 5, 4, 3, 3, 1, 1},
    {3, 2, 9, 9, 5, 3, 3, 2, 1},
    {1, 4, 6, 7, 3, 1, 1, 1, 0},
    {2, 3, 8, 6, 7, 1, 1, 2, 0},
    {2, 2, 7, 7, 3, 5, 3, 1, 2},
    {4, 5, 5, 4, 16, 3, 3, 1, 1},
    {1, 1, 11, 3, 2, 3, 3, 2, 0},
    {3, 6, 4, 4, 9, 3, 3, 2, 2},
    /* more than 64 input channels (two mask words), output channels in 1–5 blocks of 16 */
    {2, 70, 5, 6, 33, 3, 3, 1, 1},
    {1, 9, 6, 5, 77, 3, 3, 2, 1},
};
#define N_CASES (sizeof cases / sizeof cases[0])
static const double densities[] = {0.0, 0.01, 0.1, 0.5, 1.0};
#define N_DENS (sizeof densities / sizeof densities[0])

static size_t out_size(size_t in, size_t k, size_t stride, size_t pad)
{
    return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

static sakd_spike_conv_shape shape_of(const spike_case *k)
{
    sakd_spike_conv_shape s = {k->n,      k->c,      k->h,   k->w,   k->m, k->kh, k->kw,
                               k->stride, k->stride, k->pad, k->pad, 0,    0};
    s.ho = out_size(k->h, k->kh, k->stride, k->pad);
    s.wo = out_size(k->w, k->kw, k->stride, k->pad);
    return s;
}

/* The input position a tap reads for an output position, or -1 in the padding. */
static long src(size_t o, size_t tap, size_t stride, size_t pad, size_t in)
{
    long i = (long)(o * stride + tap) - (long)pad;
    return i < 0 || i >= (long)in ? -1 : i;
}

/* Dense references in double: out = conv(x, W) + b, and dW = Σ gy·x over the taps. */
static void reference(const sakd_spike_conv_shape *s, const float *x, const float *wt,
                      const float *b, const float *gy, double *out, double *gw, double *mag_out,
                      double *mag_gw)
{
    size_t P = s->ho * s->wo, K = s->c * s->kh * s->kw;
    memset(gw, 0, s->m * K * sizeof *gw);
    memset(mag_gw, 0, s->m * K * sizeof *mag_gw);
    for (size_t n = 0; n < s->n; n++)
        for (size_t m = 0; m < s->m; m++)
            for (size_t ho = 0; ho < s->ho; ho++)
                for (size_t wo = 0; wo < s->wo; wo++) {
                    double acc = b ? b[m] : 0.0, mag = b ? fabs(b[m]) : 0.0;
                    double g = gy[((n * s->m + m) * s->ho + ho) * s->wo + wo];
                    for (size_t c = 0; c < s->c; c++)
                        for (size_t i = 0; i < s->kh; i++)
                            for (size_t j = 0; j < s->kw; j++) {
                                long y = src(ho, i, s->stride_h, s->pad_h, s->h);
                                long z = src(wo, j, s->stride_w, s->pad_w, s->w);
                                if (y < 0 || z < 0)
                                    continue;
                                double v =
                                    x[((n * s->c + c) * s->h + (size_t)y) * s->w + (size_t)z];
                                size_t wi = ((m * s->c + c) * s->kh + i) * s->kw + j;
                                acc += v * wt[wi];
                                mag += fabs(v * wt[wi]);
                                gw[wi] += v * g;
                                mag_gw[wi] += fabs(v * g);
                            }
                    out[(n * s->m + m) * P + ho * s->wo + wo] = acc;
                    mag_out[(n * s->m + m) * P + ho * s->wo + wo] = mag;
                }
}

/* The device kernels on x (spikes of `value`) as tensors at an element offset `offset` in
 * guarded buffers: forward (with bias b unless NULL) into dout, weight gradient into dgw; when
 * `wrong` is not 0, the gradient for spikes of that value is refused too. */
static void device_passes(const sakd_spike_conv_shape *s, const float *x, float value,
                          const float *wt, const float *b, const float *gy, size_t offset,
                          float wrong, float *dout, float *dgw)
{
    size_t xs[4] = {s->n, s->c, s->h, s->w}, ws[4] = {s->m, s->c, s->kh, s->kw},
           ys[4] = {s->n, s->m, s->ho, s->wo};
    sakd_tensor tx, tw, tb, ty, tgy, tgw;
    sakd_conv2d_params cp = {s->stride_h, s->stride_w, s->pad_h, s->pad_w};
    test_guard_offset(offset);
    test_guarded_tensor(&tx, "x", 4, xs, x);
    test_guarded_tensor(&tw, "weight", 4, ws, wt);
    test_guarded_tensor(&tb, "bias", 1, &s->m, b ? b : wt);
    test_guarded_tensor(&ty, "y", 4, ys, NULL);
    test_guarded_tensor(&tgy, "grad_out", 4, ys, gy);
    test_guarded_tensor(&tgw, "grad_weight", 4, ws, NULL);
    TEST_OK(sakd_spike_conv_forward_device(&ty, &tx, value, &tw, b ? &tb : NULL, &cp));
    TEST_OK(sakd_spike_conv_grad_weight_device(&tgw, &tx, value, &tgy, &cp));
    TEST_OK(sakd_tensor_download(&ty, dout));
    TEST_OK(sakd_tensor_download(&tgw, dgw));
    if (wrong != 0.0f) {
        ck_assert_int_eq(sakd_spike_conv_grad_weight_device(&tgw, &tx, wrong, &tgy, &cp),
                         SAKD_ERR_ARG);
        sakd_error_clear();
    }
    sakd_tensor *ts[] = {&tx, &tw, &tb, &ty, &tgy, &tgw};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        sakd_tensor_free(ts[i]);
    test_guarded_free();
    test_guard_offset(0);
}

static void run_case(const spike_case *k, double density, uint64_t salt, int with_bias)
{
    sakd_spike_conv_shape s = shape_of(k);
    size_t nx = s.n * s.c * s.h * s.w, K = s.c * s.kh * s.kw, nw = s.m * K;
    size_t ny = s.n * s.m * s.ho * s.wo;
    test_rng r = test_rng_new(salt);
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(s.m * 4), *gy = malloc(ny * 4);
    for (size_t i = 0; i < nx; i++)
        x[i] = test_rand_uniform(&r, 0, 1) < density ? 1.0f : 0.0f;
    test_fill_uniform(&r, wt, nw, -1, 1);
    test_fill_uniform(&r, b, s.m, -1, 1);
    test_fill_uniform(&r, gy, ny, -1, 1);
    sakd_spike_set set = {0};
    TEST_OK(sakd_spike_set_build(&set, x, 1.0f, s.n, s.c, s.h, s.w, 2));
    size_t active = 0;
    for (size_t i = 0; i < nx; i++)
        active += x[i] != 0.0f;
    ck_assert_uint_eq(set.active, active);

    float *out1 = malloc(ny * 4), *out3 = malloc(ny * 4), *gw1 = malloc(nw * 4),
          *gw3 = malloc(nw * 4), *gb = malloc(s.m * 4);
    const float *bias = with_bias ? b : NULL;
    for (size_t i = 0; i < ny; i++) /* poisoned: every output must be written */
        out1[i] = out3[i] = NAN;
    for (size_t i = 0; i < nw; i++)
        gw1[i] = gw3[i] = NAN;
    TEST_OK(sakd_spike_conv_forward(out1, &set, wt, bias, &s, 1));
    TEST_OK(sakd_spike_conv_forward(out3, &set, wt, bias, &s, 3));
    TEST_OK(sakd_spike_conv_grad_weight(gw1, gb, &set, gy, &s, 1));
    TEST_OK(sakd_spike_conv_grad_weight(gw3, NULL, &set, gy, &s, 3));
    for (size_t m = 0; m < s.m; m++) { /* the bias gradient: Σ of grad_out over n and pixels */
        double acc = 0, mag = 0;
        for (size_t i = 0; i < s.n * s.ho * s.wo; i++) {
            double g = gy[(i / (s.ho * s.wo) * s.m + m) * s.ho * s.wo + i % (s.ho * s.wo)];
            acc += g;
            mag += fabs(g);
        }
        ck_assert_msg(fabs(gb[m] - acc) <= (double)(s.n * s.ho * s.wo) * FLT_EPSILON * mag,
                      "grad_bias[%zu] = %.9g, reference %.9g", m, (double)gb[m], acc);
    }
    ck_assert_msg(memcmp(out1, out3, ny * 4) == 0, "forward differs between 1 and 3 threads");
    ck_assert_msg(memcmp(gw1, gw3, nw * 4) == 0, "grad_weight differs between 1 and 3 threads");

    /* The device path, every tensor a view at an offset in a guarded buffer. */
    float *dout = malloc(ny * 4), *dgw = malloc(nw * 4);
    device_passes(&s, x, 1.0f, wt, with_bias ? b : NULL, gy, 5, 0.0f, dout, dgw);

    double *ro = malloc(ny * 8), *rg = malloc(nw * 8), *mo = malloc(ny * 8), *mg = malloc(nw * 8);
    reference(&s, x, wt, bias, gy, ro, rg, mo, mg);
    /* Each result is a float sum of at most C·KH·KW (+1) terms, or N·Ho·Wo for grad W. */
    double terms_o = (double)K + 2, terms_g = (double)(s.n * s.ho * s.wo) + 1;
    const float *outs[2] = {out1, dout}, *gws[2] = {gw1, dgw};
    const char *path[2] = {"host", "device"};
    for (int v = 0; v < 2; v++) {
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(fabs(outs[v][i] - ro[i]) <= terms_o * FLT_EPSILON * mo[i] + 1e-30,
                          "%s, case %zux%zux%zux%zu k%zux%zu s%zu p%zu density %g: out[%zu] = "
                          "%.9g, reference %.9g",
                          path[v], s.n, s.c, s.h, s.w, s.kh, s.kw, s.stride_h, s.pad_h, density, i,
                          (double)outs[v][i], ro[i]);
        for (size_t i = 0; i < nw; i++)
            ck_assert_msg(fabs(gws[v][i] - rg[i]) <= terms_g * FLT_EPSILON * mg[i] + 1e-30,
                          "%s, case %zux%zux%zux%zu k%zux%zu s%zu p%zu density %g: "
                          "grad_weight[%zu] = %.9g, reference %.9g",
                          path[v], s.n, s.c, s.h, s.w, s.kh, s.kw, s.stride_h, s.pad_h, density, i,
                          (double)gws[v][i], rg[i]);
    }

    /* The operations: M per (active input, tap reaching an output), counted directly. */
    double ops = 0;
    for (size_t n = 0; n < s.n; n++)
        for (size_t ho = 0; ho < s.ho; ho++)
            for (size_t wo = 0; wo < s.wo; wo++)
                for (size_t c = 0; c < s.c; c++)
                    for (size_t i = 0; i < s.kh; i++)
                        for (size_t j = 0; j < s.kw; j++) {
                            long y = src(ho, i, s.stride_h, s.pad_h, s.h);
                            long z = src(wo, j, s.stride_w, s.pad_w, s.w);
                            if (y >= 0 && z >= 0)
                                ops += x[((n * s.c + c) * s.h + (size_t)y) * s.w + (size_t)z];
                        }
    ck_assert_double_eq(sakd_spike_conv_ops(&set, &s), ops * (double)s.m);

    void *all[] = {x, wt, b, gy, out1, out3, gw1, gw3, gb, ro, rg, mo, mg, dout, dgw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    sakd_spike_set_free(&set);
}

/* Spikes of another value than 1 (LIF, then an inverted dropout of p = 0.3): the host passes
 * sum as for 1 and are scaled here, the device kernels scale themselves; against the double
 * reference on fresh inputs, for a 3x3 convolution and for a linear layer (a 1x1 convolution of
 * 1x1 maps: what the graph runs spike-fed linear layers as). */
START_TEST(test_spike_value)
{
    static const spike_case vcases[] = {{3, 5, 6, 5, 7, 3, 3, 1, 1}, {6, 70, 1, 1, 37, 1, 1, 1, 0}};
    const spike_case *k = &vcases[_i];
    const float value = 1.0f / (1.0f - 0.3f);
    sakd_spike_conv_shape s = shape_of(k);
    size_t nx = s.n * s.c * s.h * s.w, nw = s.m * s.c * s.kh * s.kw, ny = s.n * s.m * s.ho * s.wo;
    test_rng r = test_rng_new(test_seed() + 9100 + (uint64_t)_i);
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(s.m * 4), *gy = malloc(ny * 4);
    float *hy = malloc(ny * 4), *hgw = malloc(nw * 4), *dy = malloc(ny * 4), *dgw = malloc(nw * 4);
    for (size_t i = 0; i < nx; i++)
        x[i] = test_rand_uniform(&r, 0, 1) < 0.3 ? value : 0.0f;
    test_fill_uniform(&r, wt, nw, -1, 1);
    test_fill_uniform(&r, b, s.m, -1, 1);
    test_fill_uniform(&r, gy, ny, -1, 1);
    sakd_spike_set set = {0};
    TEST_OK(sakd_spike_set_build(&set, x, value, s.n, s.c, s.h, s.w, 2));
    TEST_OK(sakd_spike_conv_forward(hy, &set, wt, NULL, &s, 2));
    TEST_OK(sakd_spike_conv_grad_weight(hgw, NULL, &set, gy, &s, 2));
    for (size_t i = 0; i < ny; i++)
        hy[i] = b[i / (s.ho * s.wo) % s.m] + value * hy[i];
    for (size_t i = 0; i < nw; i++)
        hgw[i] *= value;
    /* The device kernels scale by the value themselves; 1 is not these spikes' value. */
    device_passes(&s, x, value, wt, b, gy, 0, 1.0f, dy, dgw);
    double *ro = malloc(ny * 8), *rg = malloc(nw * 8), *mo = malloc(ny * 8), *mg = malloc(nw * 8);
    reference(&s, x, wt, b, gy, ro, rg, mo, mg);
    double terms_o = (double)(s.c * s.kh * s.kw) + 3, terms_g = (double)(s.n * s.ho * s.wo) + 2;
    const float *outs[2] = {hy, dy}, *gws[2] = {hgw, dgw};
    for (int v = 0; v < 2; v++) {
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(fabs(outs[v][i] - ro[i]) <= terms_o * FLT_EPSILON * mo[i] + 1e-30,
                          "%s, case %d: out[%zu] = %.9g, reference %.9g", v ? "device" : "host", _i,
                          i, (double)outs[v][i], ro[i]);
        for (size_t i = 0; i < nw; i++)
            ck_assert_msg(fabs(gws[v][i] - rg[i]) <= terms_g * FLT_EPSILON * mg[i] + 1e-30,
                          "%s, case %d: grad_weight[%zu] = %.9g, reference %.9g",
                          v ? "device" : "host", _i, i, (double)gws[v][i], rg[i]);
    }
    void *all[] = {x, wt, b, gy, hy, hgw, dy, dgw, ro, rg, mo, mg};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    sakd_spike_set_free(&set);
}
END_TEST

START_TEST(test_spike_conv_against_dense)
{
    const spike_case *k = &cases[(size_t)_i / N_DENS];
    double d = densities[(size_t)_i % N_DENS];
    run_case(k, d, test_seed() + 31 * (uint64_t)_i, _i % 2);
}
END_TEST

START_TEST(test_spike_set_refuses_non_spikes)
{
    float x[2 * 3 * 2 * 2] = {0};
    x[3] = 1.0f;
    x[17] = 0.5f; /* sample 1, channel 1, row 0, column 1 */
    sakd_spike_set set = {0};
    ck_assert_int_eq(sakd_spike_set_build(&set, x, 1.0f, 2, 3, 2, 2, 2), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "[1, 1, 0, 1] is 0.5, not a spike (0 or 1)"));
    sakd_spike_set_free(&set);
    /* Spikes of another value (a dropout's scale) are refused as well as 1 is where 2 is due. */
    ck_assert_int_eq(sakd_spike_set_build(&set, x, 2.0f, 2, 3, 2, 2, 2), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "[0, 0, 1, 1] is 1, not a spike (0 or 2)"));
    sakd_spike_set_free(&set);
    /* A shape that disagrees with the set is refused. */
    x[17] = 1.0f;
    TEST_OK(sakd_spike_set_build(&set, x, 1.0f, 2, 3, 2, 2, 1));
    sakd_spike_conv_shape s = {2, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 2, 2};
    float out[16] = {0}, w[4] = {1, 1, 1, 1};
    ck_assert_int_eq(sakd_spike_conv_forward(out, &set, w, NULL, &s, 1), SAKD_ERR_ARG);
    sakd_spike_set_free(&set);
    /* The device's gradient refuses a non-spike input too. */
    x[17] = 0.5f;
    size_t xs[4] = {2, 3, 2, 2}, ws[4] = {1, 3, 1, 1}, ys[4] = {2, 1, 2, 2};
    sakd_tensor tx, tw, tgy;
    test_guarded_tensor(&tx, "spikes", 4, xs, x);
    test_guarded_tensor(&tw, "grad_weight", 4, ws, NULL);
    test_guarded_tensor(&tgy, "grad_out", 4, ys, out);
    sakd_conv2d_params cp = {1, 1, 0, 0};
    ck_assert_int_eq(sakd_spike_conv_grad_weight_device(&tw, &tx, 1.0f, &tgy, &cp), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "'spikes' holds a value other than 0 and 1"));
    sakd_tensor_free(&tx);
    sakd_tensor_free(&tw);
    sakd_tensor_free(&tgy);
    test_guarded_free();
}
END_TEST

/* The early-ending count the auto choice uses: exact when the count stays below stop_at, at
 * least stop_at when the true count reaches it; against a plain count over fresh tensors whose
 * sizes straddle the 4096-element blocks, with non-zeros of either sign; and the device's count
 * on some of them. */
START_TEST(test_spike_count)
{
    test_rng r = test_rng_new(test_seed() + 7700);
    for (int round = 0; round < 40; round++) {
        size_t n = test_rand_size(&r, 0, 20000);
        double d = test_rand_uniform(&r, 0.0, 1.0);
        float *x = malloc((n ? n : 1) * sizeof *x);
        ck_assert_ptr_nonnull(x);
        size_t want = 0;
        for (size_t i = 0; i < n; i++) {
            double u = test_rand_uniform(&r, 0.0, 1.0);
            x[i] = u < d ? (u < d / 2 ? 1.0f : -2.5f) : 0.0f;
            want += x[i] != 0.0f;
        }
        ck_assert_uint_eq(sakd_spike_count(x, n, SIZE_MAX), want);
        if (n && round % 4 == 0) { /* the device's count (cl/conv_spike.cl), at an offset */
            size_t shape[1] = {n}, fired = 0;
            sakd_tensor t;
            test_guard_offset(3);
            test_guarded_tensor(&t, "spikes", 1, shape, x);
            TEST_OK(sakd_spike_count_device(&t, &fired));
            ck_assert_uint_eq(fired, want);
            sakd_tensor_free(&t);
            test_guarded_free();
            test_guard_offset(0);
        }
        size_t stop = test_rand_size(&r, 0, n + 10);
        size_t got = sakd_spike_count(x, n, stop);
        if (want < stop)
            ck_assert_uint_eq(got, want);
        else
            ck_assert_msg(got >= stop && got <= want, "count %zu, stop %zu, true %zu", got, stop,
                          want);
        free(x);
    }
}
END_TEST

Suite *suite_conv_spike(void)
{
    Suite *s = suite_create("conv_spike");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_spike_conv_against_dense, 0, (int)(N_CASES * N_DENS));
    tcase_add_test(tc, test_spike_set_refuses_non_spikes);
    tcase_add_test(tc, test_spike_count);
    tcase_add_loop_test(tc, test_spike_value, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
