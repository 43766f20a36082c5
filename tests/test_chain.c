/* test_chain.c — determinism of a layer chain: conv → BN (train) → LIF forward, then the
 * backward through all three, run twice on the same inputs, must give identical bytes for the
 * output, every gradient and the BN running statistics. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { T = 3, B = 2, CIN = 3, COUT = 5, H = 9, W = 7, K = 3 };

typedef struct chain_out {
    float *spikes, *gx, *gw, *gb, *ggamma, *gbeta, *rmean, *rvar;
} chain_out;

static float *download(const sakd_tensor *t)
{
    float *h = malloc(sakd_tensor_numel(t) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    TEST_OK(sakd_tensor_download(t, h));
    return h;
}

static void upload_new(sakd_tensor *t, const char *name, int ndim, const size_t *shape,
                       const float *host)
{
    TEST_OK(sakd_tensor_new(t, test_ctx(), name, ndim, shape));
    TEST_OK(sakd_tensor_upload(t, host));
}

/* One forward/backward pass of the chain from the given host inputs. */
static chain_out run_chain(const float *x_h, const float *w_h, const float *b_h,
                           const float *gamma_h, const float *beta_h, const float *gs_h)
{
    sakd_ctx *ctx = test_ctx();
    const size_t N = T * B;
    size_t xs[4] = {N, CIN, H, W}, ws[4] = {COUT, CIN, K, K}, cs[1] = {COUT};
    size_t ys[4] = {N, COUT, H, W};
    sakd_tensor x, w, b, gamma, beta, y, z, s, gs, gz, gy, gx, gw, gb, ggamma, gbeta;
    sakd_tensor mean, invstd, rmean, rvar, work;
    upload_new(&x, "x", 4, xs, x_h);
    upload_new(&w, "w", 4, ws, w_h);
    upload_new(&b, "b", 1, cs, b_h);
    upload_new(&gamma, "gamma", 1, cs, gamma_h);
    upload_new(&beta, "beta", 1, cs, beta_h);
    upload_new(&gs, "grad spikes", 4, ys, gs_h);
    const char *names[] = {"y", "z", "s", "gz", "gy"};
    sakd_tensor *outs[] = {&y, &z, &s, &gz, &gy};
    for (int i = 0; i < 5; i++)
        TEST_OK(sakd_tensor_new(outs[i], ctx, names[i], 4, ys));
    TEST_OK(sakd_tensor_new(&gx, ctx, "gx", 4, xs));
    TEST_OK(sakd_tensor_new(&gw, ctx, "gw", 4, ws));
    sakd_tensor *vecs[] = {&gb, &ggamma, &gbeta, &mean, &invstd, &rmean, &rvar};
    const char *vnames[] = {"gb", "ggamma", "gbeta", "mean", "invstd", "rmean", "rvar"};
    for (int i = 0; i < 7; i++)
        TEST_OK(sakd_tensor_new(vecs[i], ctx, vnames[i], 1, cs));
    TEST_OK(sakd_tensor_fill(&rmean, 0.0f));
    TEST_OK(sakd_tensor_fill(&rvar, 1.0f));
    /* A workspace for two samples per GEMM chunk: exercises the chunked, ordered sum. */
    size_t wsz = sakd_conv2d_workspace_floats(2, CIN, COUT, K, K, H, W);
    TEST_OK(sakd_tensor_new(&work, ctx, "workspace", 1, &wsz));
    sakd_conv2d_params p = {1, 1, 1, 1};
    sakd_lif_params lp = sakd_lif_params_default();
    sakd_lif_cache cache;
    TEST_OK(sakd_lif_cache_new(&cache, ctx, "lif", 4, ys));

    TEST_OK(sakd_conv2d_forward(&y, &work, &x, &w, &b, &p));
    TEST_OK(sakd_batchnorm_forward(&z, &mean, &invstd, &rmean, &rvar, &y, &gamma, &beta, 1,
                                   SAKD_BN_MOMENTUM, SAKD_BN_EPS));
    TEST_OK(sakd_lif_forward(&s, &cache, &z, T, &lp));
    TEST_OK(sakd_lif_backward(&gz, &cache, &gs, T, &lp));
    TEST_OK(sakd_batchnorm_backward(&gy, &ggamma, &gbeta, &mean, &invstd, &gz, &y, &gamma, 1));
    TEST_OK(sakd_conv2d_backward(&gx, &gw, &gb, &work, &gy, &x, &w, &p));

    chain_out o = {download(&s),      download(&gx),    download(&gw),    download(&gb),
                   download(&ggamma), download(&gbeta), download(&rmean), download(&rvar)};
    sakd_lif_cache_free(&cache);
    sakd_tensor *all[] = {&x,  &w,  &b,  &gamma,  &beta,  &y,    &z,      &s,     &gs,   &gz,  &gy,
                          &gx, &gw, &gb, &ggamma, &gbeta, &mean, &invstd, &rmean, &rvar, &work};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sakd_tensor_free(all[i]);
    return o;
}

START_TEST(test_chain_bit_identical)
{
    test_rng r = test_rng_new(900);
    const size_t nx = T * B * CIN * H * W, nw = COUT * CIN * K * K, ny = T * B * COUT * H * W;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *gs = malloc(ny * sizeof *gs);
    float b[COUT], gamma[COUT], beta[COUT];
    test_fill_uniform(&r, x, nx, -1, 1);
    test_fill_uniform(&r, w, nw, -0.5, 0.5);
    test_fill_uniform(&r, gs, ny, -1, 1);
    test_fill_uniform(&r, b, COUT, -0.1, 0.1);
    test_fill_uniform(&r, gamma, COUT, 0.5, 1.5);
    test_fill_uniform(&r, beta, COUT, 0.5, 1.5); /* shift up so that some neurons fire */
    chain_out a = run_chain(x, w, b, gamma, beta, gs), c = run_chain(x, w, b, gamma, beta, gs);
    struct {
        const char *name;
        float *p, *q;
        size_t n;
    } cmp[] = {{"spikes", a.spikes, c.spikes, ny},       {"grad x", a.gx, c.gx, nx},
               {"grad weight", a.gw, c.gw, nw},          {"grad bias", a.gb, c.gb, COUT},
               {"grad gamma", a.ggamma, c.ggamma, COUT}, {"grad beta", a.gbeta, c.gbeta, COUT},
               {"running mean", a.rmean, c.rmean, COUT}, {"running var", a.rvar, c.rvar, COUT}};
    size_t fired = 0;
    for (size_t i = 0; i < ny; i++)
        fired += a.spikes[i] != 0.0f;
    /* The chain must be non-trivial: some, not all, neurons fire. */
    ck_assert_msg(fired > 0 && fired < ny, "%zu of %zu neurons fired", fired, ny);
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        ck_assert_msg(memcmp(cmp[i].p, cmp[i].q, cmp[i].n * sizeof(float)) == 0,
                      "%s differs between two identical runs (seed %llu)", cmp[i].name,
                      (unsigned long long)test_seed());
        free(cmp[i].p);
        free(cmp[i].q);
    }
    free(x);
    free(w);
    free(gs);
}
END_TEST

Suite *suite_chain(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_chain_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}
