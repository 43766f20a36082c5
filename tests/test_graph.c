/* test_graph.c — the graph engine against a double-precision CPU forward and backward of the
 * same small residual network, written here independently: ANN (ReLU) and SNN (LIF, T = 2 and
 * 3), checking logits and the gradient of every parameter, after a train-mode forward (batch
 * statistics) and after an eval-mode one (running statistics, which the backward must
 * differentiate too). And a dropout node: its mask over time steps and in the gradient. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/spike_route.h"
#include "testutil.h"

enum { B = 2, CI = 2, C = 3, H = 5, W = 5, K = 4, HW = H * W };
/* Float32 through two convolutions, two batch norms and a linear layer: errors of a few
 * hundred ulps of the largest value; 2e-4 relative to the largest magnitude leaves room. */
#define GRAPH_RTOL 2e-4
/* Inputs whose membrane potential comes this close to the threshold are redrawn: a float and
 * a double run could take different spike decisions there. */
#define THRESHOLD_MARGIN 1e-3

typedef struct net {
    double w1[C][CI][3][3], w2[C][C][3][3], g1[C], b1[C], g2[C], b2[C], fw[K][C], fb[K];
    double rm1[C], rv1[C], rm2[C], rv2[C]; /* BN running statistics (used in eval mode) */
    int eval;
} net;

static void conv(int n, int ci, const double *in, const double *w, double *out)
{
    /* out[n][C][H][W], 3x3, stride 1, pad 1 */
    for (int s = 0; s < n; s++)
        for (int o = 0; o < C; o++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double acc = 0;
                    for (int i = 0; i < ci; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                    acc += in[((s * ci + i) * H + yy) * W + xx] *
                                           w[((o * ci + i) * 3 + ky) * 3 + kx];
                            }
                    out[((s * C + o) * H + y) * W + x] = acc;
                }
}

static void conv_bwd(int n, int ci, const double *in, const double *w, const double *gy,
                     double *gin, double *gw)
{
    memset(gw, 0, sizeof(double) * C * ci * 9);
    if (gin)
        memset(gin, 0, sizeof(double) * n * ci * HW);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < C; o++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double g = gy[((s * C + o) * H + y) * W + x];
                    for (int i = 0; i < ci; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                                    continue;
                                int ii = ((s * ci + i) * H + yy) * W + xx;
                                int wi = ((o * ci + i) * 3 + ky) * 3 + kx;
                                gw[wi] += g * in[ii];
                                if (gin)
                                    gin[ii] += g * w[wi];
                            }
                }
}

/* Batch norm over (n, H, W) per channel with the batch statistics, or in eval mode (rm, rv
 * not NULL) with the running ones; keeps xhat and invstd for backward. */
static void bn(int n, const double *x, const double *g, const double *b, const double *rm,
               const double *rv, double *y, double *xhat, double *invstd)
{
    for (int c = 0; c < C; c++) {
        if (rm) {
            invstd[c] = 1.0 / sqrt(rv[c] + 1e-5);
            for (int s = 0; s < n; s++)
                for (int j = 0; j < HW; j++) {
                    int i = (s * C + c) * HW + j;
                    xhat[i] = (x[i] - rm[c]) * invstd[c];
                    y[i] = g[c] * xhat[i] + b[c];
                }
            continue;
        }
        double m = 0, v = 0;
        for (int s = 0; s < n; s++)
            for (int j = 0; j < HW; j++)
                m += x[(s * C + c) * HW + j];
        m /= n * HW;
        for (int s = 0; s < n; s++)
            for (int j = 0; j < HW; j++) {
                double d = x[(s * C + c) * HW + j] - m;
                v += d * d;
            }
        v /= n * HW;
        invstd[c] = 1.0 / sqrt(v + 1e-5);
        for (int s = 0; s < n; s++)
            for (int j = 0; j < HW; j++) {
                int i = (s * C + c) * HW + j;
                xhat[i] = (x[i] - m) * invstd[c];
                y[i] = g[c] * xhat[i] + b[c];
            }
    }
}

/* The gradients of bn(); eval: the normalization by fixed statistics, gx = g·invstd·gy. */
static void bn_bwd(int n, int eval, const double *xhat, const double *invstd, const double *g,
                   const double *gy, double *gx, double *gg, double *gb)
{
    for (int c = 0; c < C; c++) {
        double sg = 0, sgx = 0, m = n * HW;
        for (int s = 0; s < n; s++)
            for (int j = 0; j < HW; j++) {
                int i = (s * C + c) * HW + j;
                sg += gy[i];
                sgx += gy[i] * xhat[i];
            }
        gg[c] = sgx;
        gb[c] = sg;
        for (int s = 0; s < n; s++)
            for (int j = 0; j < HW; j++) {
                int i = (s * C + c) * HW + j;
                gx[i] = eval ? g[c] * invstd[c] * gy[i]
                             : g[c] * invstd[c] / m * (m * gy[i] - sg - xhat[i] * sgx);
            }
    }
}

/* Activation over rows of time-major [T·B, rest]: ReLU when T = 0, else hard-reset LIF with
 * λ = 0.5, V_th = 1 and the triangle surrogate; keeps h for backward. Returns the smallest
 * |h - V_th| seen. */
static double act(int T, int rest, const double *x, double *s, double *h)
{
    double closest = INFINITY;
    if (T == 0) {
        for (int i = 0; i < B * rest; i++)
            s[i] = x[i] > 0 ? x[i] : 0;
        return closest;
    }
    for (int i = 0; i < B * rest; i++) {
        double v = 0;
        for (int t = 0; t < T; t++) {
            int j = t * B * rest + i;
            h[j] = 0.5 * v + x[j];
            s[j] = h[j] - 1.0 >= 0 ? 1.0 : 0.0;
            v = h[j] * (1 - s[j]);
            if (fabs(h[j] - 1.0) < closest)
                closest = fabs(h[j] - 1.0);
        }
    }
    return closest;
}

static void act_bwd(int T, int rest, const double *x, const double *s, const double *h,
                    const double *gs, double *gx)
{
    if (T == 0) {
        for (int i = 0; i < B * rest; i++)
            gx[i] = x[i] > 0 ? gs[i] : 0;
        return;
    }
    for (int i = 0; i < B * rest; i++) {
        double gh = 0;
        for (int t = T - 1; t >= 0; t--) {
            int j = t * B * rest + i;
            double u = h[j] - 1.0, sg = fabs(u) < 1 ? 1 - fabs(u) : 0;
            double dvdh = (1 - s[j]) - h[j] * sg;
            gh = gs[j] * sg + 0.5 * gh * dvdh;
            gx[j] = gh;
        }
    }
}

typedef struct grads {
    double logits[B][K];
    double w1[C * CI * 9], w2[C * C * 9], g1[C], b1[C], g2[C], b2[C], fw[K][C], fb[K];
    double closest; /* smallest |h - V_th| (SNN) */
} grads;

/* The network: conv1–bn1–[repeat T]–act1; conv2–bn2 + act1 → act2; gap; [mean T]; fc. */
static void reference(const net *p, const double *in, const double *dlogits, int T, grads *g)
{
    int steps = T ? T : 1, n = steps * B, rest = C * HW;
    double *a = calloc((size_t)B * rest, sizeof *a), *z1 = calloc((size_t)B * rest, sizeof *a);
    double *xh1 = calloc((size_t)B * rest, sizeof *a), inv1[C], inv2[C];
    double *r = calloc((size_t)n * rest, sizeof *a), *s1 = calloc((size_t)n * rest, sizeof *a);
    double *h1 = calloc((size_t)n * rest, sizeof *a), *c2 = calloc((size_t)n * rest, sizeof *a);
    double *z2 = calloc((size_t)n * rest, sizeof *a), *xh2 = calloc((size_t)n * rest, sizeof *a);
    double *sum = calloc((size_t)n * rest, sizeof *a), *s2 = calloc((size_t)n * rest, sizeof *a);
    double *h2 = calloc((size_t)n * rest, sizeof *a), gap[64][C], feat[B][C];
    conv(B, CI, in, &p->w1[0][0][0][0], a);
    bn(B, a, p->g1, p->b1, p->eval ? p->rm1 : NULL, p->rv1, z1, xh1, inv1);
    for (int t = 0; t < steps; t++)
        memcpy(r + (size_t)t * B * rest, z1, sizeof(double) * B * rest);
    g->closest = act(T, rest, r, s1, h1);
    conv(n, C, s1, &p->w2[0][0][0][0], c2);
    bn(n, c2, p->g2, p->b2, p->eval ? p->rm2 : NULL, p->rv2, z2, xh2, inv2);
    for (int i = 0; i < n * rest; i++)
        sum[i] = z2[i] + s1[i];
    double closest2 = act(T, rest, sum, s2, h2);
    if (closest2 < g->closest)
        g->closest = closest2;
    for (int s = 0; s < n; s++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int j = 0; j < HW; j++)
                acc += s2[(s * C + c) * HW + j];
            gap[s][c] = acc / HW;
        }
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int t = 0; t < steps; t++)
                acc += gap[t * B + b][c];
            feat[b][c] = acc / steps;
        }
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            double acc = p->fb[k];
            for (int c = 0; c < C; c++)
                acc += p->fw[k][c] * feat[b][c];
            g->logits[b][k] = acc;
        }
    /* Backward. */
    double gfeat[B][C] = {{0}};
    for (int k = 0; k < K; k++) {
        g->fb[k] = 0;
        for (int c = 0; c < C; c++)
            g->fw[k][c] = 0;
        for (int b = 0; b < B; b++) {
            double d = dlogits[b * K + k];
            g->fb[k] += d;
            for (int c = 0; c < C; c++) {
                g->fw[k][c] += d * feat[b][c];
                gfeat[b][c] += d * p->fw[k][c];
            }
        }
    }
    double *gs2 = calloc((size_t)n * rest, sizeof *a), *gsum = calloc((size_t)n * rest, sizeof *a);
    double *gc2 = calloc((size_t)n * rest, sizeof *a), *gs1 = calloc((size_t)n * rest, sizeof *a);
    double *gr = calloc((size_t)n * rest, sizeof *a), *gz1 = calloc((size_t)B * rest, sizeof *a);
    double *ga = calloc((size_t)B * rest, sizeof *a);
    for (int s = 0; s < n; s++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < HW; j++)
                gs2[(s * C + c) * HW + j] = gfeat[s % B][c] / steps / HW;
    act_bwd(T, rest, sum, s2, h2, gs2, gsum);
    bn_bwd(n, p->eval, xh2, inv2, p->g2, gsum, gc2, g->g2, g->b2);
    conv_bwd(n, C, s1, &p->w2[0][0][0][0], gc2, gs1, g->w2);
    for (int i = 0; i < n * rest; i++)
        gs1[i] += gsum[i]; /* the residual path */
    act_bwd(T, rest, r, s1, h1, gs1, gr);
    for (int i = 0; i < B * rest; i++) {
        gz1[i] = 0;
        for (int t = 0; t < steps; t++)
            gz1[i] += gr[t * B * rest + i];
    }
    bn_bwd(B, p->eval, xh1, inv1, p->g1, gz1, ga, g->g1, g->b1);
    conv_bwd(B, CI, in, &p->w1[0][0][0][0], ga, NULL, g->w1);
    double *all[] = {a,  z1, xh1, r,    s1,  h1,  c2, z2,  xh2, sum,
                     s2, h2, gs2, gsum, gc2, gs1, gr, gz1, ga};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static void download(sakd_params *p, const char *name, double *out, size_t n)
{
    long k = sakd_params_find(p, name);
    ck_assert_msg(k >= 0, "%s missing", name);
    ck_assert_uint_eq(p->items[k].numel, n);
    float *f = malloc(n * sizeof *f);
    TEST_OK(sakd_tensor_download(&p->items[k].value, f));
    for (size_t i = 0; i < n; i++)
        out[i] = f[i];
    free(f);
}

static void compare(sakd_params *p, const char *name, const double *ref, size_t n, int T)
{
    long k = sakd_params_find(p, name);
    float *f = malloc(n * sizeof *f);
    TEST_OK(sakd_tensor_download(&p->items[k].grad, f));
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(f[i] - ref[i]) <= GRAPH_RTOL * scale + 1e-7,
                      "T %d: grad %s[%zu] = %.8g, reference %.8g (seed %llu)", T, name, i, f[i],
                      ref[i], (unsigned long long)test_seed());
    free(f);
}

/* The spike-driven passes of the last graph run() checked. */
static size_t spike_passes_seen; /* the graph's training passes spike-driven */
static size_t spike_driven_seen; /* nodes whose last forward ran spike-driven */

static void run(int T, int eval, uint64_t salt)
{
    sakd_ctx *ctx = test_ctx();
    for (int attempt = 0; attempt < 20; attempt++) {
        sakd_params p;
        sakd_params_init(&p, ctx);
        sakd_graph g;
        sakd_graph_init(&g, ctx, &p, T > 0, T ? (size_t)T : 1, B, NULL);
        int in = sakd_graph_input(&g, "input", CI, H, W);
        int x = sakd_graph_bn(&g, "bn1", sakd_graph_conv(&g, "conv1", in, C, 3, 1, 1));
        if (T)
            x = sakd_graph_repeat_time(&g, "encode", x);
        int a1 = sakd_graph_neuron(&g, "act1", x);
        int y = sakd_graph_bn(&g, "bn2", sakd_graph_conv(&g, "conv2", a1, C, 3, 1, 1));
        int a2 = sakd_graph_neuron(&g, "act2", sakd_graph_add(&g, "add", y, a1));
        int f = sakd_graph_gap(&g, "gap", a2);
        if (T)
            f = sakd_graph_mean_time(&g, "readout", f);
        int logits = sakd_graph_linear(&g, "fc", f, K);
        TEST_OK(g.status);
        TEST_OK(sakd_params_allocate(&p));
        test_rng r = test_rng_new(salt + (uint64_t)attempt);
        TEST_OK(sakd_params_initialize(&p, test_rand_u64(&r)));
        /* BN affine parameters away from their 1/0 defaults, so that they matter. */
        const char *bnp[] = {"bn1.weight", "bn1.bias", "bn2.weight", "bn2.bias"};
        for (int i = 0; i < 4; i++) {
            float v[C];
            test_fill_uniform(&r, v, C, i % 2 ? 0.3 : 0.8, i % 2 ? 1.0 : 1.6);
            TEST_OK(sakd_tensor_upload(&p.items[sakd_params_find(&p, bnp[i])].value, v));
        }
        /* Running statistics away from 0/1, so that an eval-mode forward differs. */
        const char *rs[] = {"bn1.running_mean", "bn1.running_var", "bn2.running_mean",
                            "bn2.running_var"};
        for (int i = 0; i < 4; i++) {
            float v[C];
            test_fill_uniform(&r, v, C, i % 2 ? 0.5 : -0.5, i % 2 ? 2.0 : 0.5);
            TEST_OK(sakd_tensor_upload(&p.items[sakd_params_find(&p, rs[i])].value, v));
        }
        TEST_OK(sakd_graph_allocate(&g));
        float xin[B * CI * HW], dl[B * K];
        double din[B * CI * HW], ddl[B * K];
        test_fill_uniform(&r, xin, B * CI * HW, -1, 1);
        test_fill_uniform(&r, dl, B * K, -1, 1);
        for (int i = 0; i < B * CI * HW; i++)
            din[i] = xin[i];
        for (int i = 0; i < B * K; i++)
            ddl[i] = dl[i];
        TEST_OK(sakd_tensor_upload(&sakd_graph_act_get(&g, in)->value, xin));
        net n;
        download(&p, "conv1.weight", &n.w1[0][0][0][0], C * CI * 9);
        download(&p, "conv2.weight", &n.w2[0][0][0][0], C * C * 9);
        download(&p, "bn1.weight", n.g1, C);
        download(&p, "bn1.bias", n.b1, C);
        download(&p, "bn2.weight", n.g2, C);
        download(&p, "bn2.bias", n.b2, C);
        download(&p, "fc.weight", &n.fw[0][0], K * C);
        download(&p, "fc.bias", n.fb, K);
        download(&p, "bn1.running_mean", n.rm1, C);
        download(&p, "bn1.running_var", n.rv1, C);
        download(&p, "bn2.running_mean", n.rm2, C);
        download(&p, "bn2.running_var", n.rv2, C);
        n.eval = eval;
        grads ref;
        reference(&n, din, ddl, T, &ref);
        if (T && ref.closest < THRESHOLD_MARGIN) {
            sakd_graph_free(&g);
            sakd_params_free(&p);
            continue; /* too close to call: draw again */
        }
        sakd_tensor seed;
        size_t ls[2] = {B, K};
        TEST_OK(sakd_tensor_new(&seed, ctx, "dlogits", 2, ls));
        TEST_OK(sakd_tensor_upload(&seed, dl));
        TEST_OK(sakd_tensor_fill(&p.grads, NAN));
        TEST_OK(sakd_graph_forward(&g, !eval));
        const sakd_tensor *seeds[1] = {&seed};
        TEST_OK(sakd_graph_backward(&g, 1, &logits, seeds));
        float lg[B * K];
        TEST_OK(sakd_tensor_download(&sakd_graph_act_get(&g, logits)->value, lg));
        double scale = 0;
        for (int i = 0; i < B * K; i++)
            scale = fmax(scale, fabs((&ref.logits[0][0])[i]));
        for (int i = 0; i < B * K; i++)
            ck_assert_msg(fabs(lg[i] - (&ref.logits[0][0])[i]) <= GRAPH_RTOL * scale + 1e-7,
                          "T %d: logits[%d] = %.8g, reference %.8g", T, i, lg[i],
                          (&ref.logits[0][0])[i]);
        compare(&p, "fc.weight", &ref.fw[0][0], K * C, T);
        compare(&p, "fc.bias", ref.fb, K, T);
        compare(&p, "bn2.weight", ref.g2, C, T);
        compare(&p, "bn2.bias", ref.b2, C, T);
        compare(&p, "conv2.weight", ref.w2, C * C * 9, T);
        compare(&p, "bn1.weight", ref.g1, C, T);
        compare(&p, "bn1.bias", ref.b1, C, T);
        compare(&p, "conv1.weight", ref.w1, C * CI * 9, T);
        spike_passes_seen = g.spike_passes;
        spike_driven_seen = 0;
        for (size_t i = 0; i < g.n_nodes; i++)
            spike_driven_seen += (size_t)sakd_node_spike_driven(&g.nodes[i]);
        sakd_tensor_free(&seed);
        sakd_graph_free(&g);
        sakd_params_free(&p);
        return;
    }
    ck_abort_msg("every draw came within %g of the threshold", THRESHOLD_MARGIN);
}

START_TEST(test_ann)
{
    run(0, 0, 800);
}
END_TEST

START_TEST(test_snn)
{
    run(2, 0, 810);
    run(3, 0, 820);
}
END_TEST

/* The same SNN with conv2 (fed by act1's spikes) spike-driven (run.spike_layers = spike): its
 * forward and weight gradient from the spikes that fired, against the same double-precision
 * reference; train and eval mode. */
START_TEST(test_snn_spike_driven)
{
    sakd_ctx *ctx = test_ctx();
    TEST_OK(sakd_spike_layers_set(ctx, "spike"));
    run(2, 0, 830);
    size_t train_passes = spike_passes_seen, train_driven = spike_driven_seen;
    run(3, 1, 840);
    size_t eval_passes = spike_passes_seen, eval_driven = spike_driven_seen;
    TEST_OK(sakd_spike_layers_set(ctx, "dense"));
    /* conv2's forward and weight gradient ran spike-driven; an eval-mode forward (and the
     * backward after it) ran so too but does not count as training. */
    ck_assert_uint_eq(train_passes, 2);
    ck_assert_uint_eq(train_driven, 1);
    ck_assert_uint_eq(eval_passes, 0);
    ck_assert_uint_eq(eval_driven, 1);
    run(2, 0, 850);
    ck_assert_uint_eq(spike_passes_seen, 0);
    ck_assert_uint_eq(spike_driven_seen, 0);
}
END_TEST

/* Writes `text` as ctx's crossover file (run.spike_layers = auto reads it). */
static void write_crossover(sakd_ctx *ctx, const char *text)
{
    char path[1024];
    TEST_OK(sakd_spike_crossover_path(ctx, path, sizeof path));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* auto: conv2 runs spike-driven exactly when its shape's crossover in the file is above the
 * density it reads, against the same reference; a file saved for other shapes keeps them; a
 * broken or foreign crossover file is refused naming it. */
START_TEST(test_snn_spike_auto)
{
    sakd_ctx *ctx = test_ctx();
    char path[1024], key[64], other[64];
    TEST_OK(sakd_spike_crossover_path(ctx, path, sizeof path));
    sakd_spike_conv_shape conv2 = {B * 2, C, H, W, C, 3, 3, 1, 1, 1, 1, H, W};
    sakd_spike_conv_shape wider = {B * 2, C + 1, H, W, C, 3, 3, 1, 1, 1, 1, H, W};
    sakd_spike_shape_key(&conv2, key, sizeof key);
    sakd_spike_shape_key(&wider, other, sizeof other);
    /* Above any density but 1: spike-driven (a layer where every input fired stays dense). */
    const char *keys[2] = {other, key};
    double dens[2] = {0.5, 1.0};
    TEST_OK(sakd_spike_crossover_write(ctx, 1, keys, dens));
    TEST_OK(sakd_spike_crossover_write(ctx, 1, keys + 1, dens + 1));
    TEST_OK(sakd_spike_layers_set(ctx, "auto"));
    double got;
    TEST_OK(sakd_spike_crossover(ctx, &conv2, &got));
    ck_assert_double_eq(got, 1.0);
    TEST_OK(sakd_spike_crossover(ctx, &wider, &got)); /* kept from the first save */
    ck_assert_double_eq(got, 0.5);
    run(2, 0, 860);
    ck_assert_uint_eq(spike_passes_seen, 2);
    ck_assert_uint_eq(spike_driven_seen, 1);
    /* A crossover of 0: dense. */
    dens[1] = 0.0;
    TEST_OK(sakd_spike_crossover_write(ctx, 1, keys + 1, dens + 1));
    TEST_OK(sakd_spike_layers_set(ctx, "auto"));
    run(2, 0, 870);
    ck_assert_uint_eq(spike_passes_seen, 0);
    ck_assert_uint_eq(spike_driven_seen, 0);
    /* Broken files, each refused with the file's name. */
    char foreign[512];
    snprintf(foreign, sizeof foreign, "[device]\nname = not %s\n[crossover]\n%s = 0.5\n",
             ctx->info.name, key);
    char bad_value[512];
    snprintf(bad_value, sizeof bad_value, "[device]\nname = %s\n[crossover]\n%s = lots\n",
             ctx->info.name, key);
    const char *broken[] = {foreign, bad_value, "[crossover\nx", "[gemm]\nm = 1\n"};
    const char *says[] = {"measured on", "is not a shape and a density", "not a spike crossover",
                          "unknown section"};
    for (size_t i = 0; i < 4; i++) {
        write_crossover(ctx, broken[i]);
        ck_assert_int_eq(sakd_spike_layers_set(ctx, "auto"), SAKD_ERR_FORMAT);
        ck_assert_msg(strstr(sakd_error_detail(), path) && strstr(sakd_error_detail(), says[i]),
                      "file %zu: %s", i, sakd_error_detail());
        sakd_error_clear();
    }
    remove(path);
    TEST_OK(sakd_spike_layers_set(ctx, "auto")); /* no file: every convolution dense */
    run(2, 0, 880);
    ck_assert_uint_eq(spike_passes_seen, 0);
    TEST_OK(sakd_spike_layers_set(ctx, "dense"));
}
END_TEST

/* A small SNN whose linear layers read spikes: fc1 the LIF's spikes directly, fc2 after an
 * inverted dropout (p = 0.3: spikes of 1/0.7 in training, 1 in evaluation). One forward and
 * backward under run.spike_layers = `mode`: the logits and every parameter's gradient into
 * out (K·B·T... floats, then the gradients), and whether fc1 and fc2 ran spike-driven. */
static size_t spike_linear_net(const char *mode, int train, float *out, size_t cap, int *driven)
{
    sakd_ctx *ctx = test_ctx();
    TEST_OK(sakd_spike_layers_set(ctx, mode));
    sakd_params p;
    sakd_params_init(&p, ctx);
    sakd_graph g;
    sakd_lif_params lif = sakd_lif_params_default();
    const size_t T = 2, nb = 3, hidden = 70, classes = 5;
    sakd_graph_init(&g, ctx, &p, 1, T, nb, &lif);
    int x = sakd_graph_input(&g, "x", 2, 4, 4);
    int c = sakd_graph_bn(&g, "bn", sakd_graph_conv(&g, "conv", x, 6, 3, 1, 1));
    int a = sakd_graph_neuron(&g, "sn0", sakd_graph_repeat_time(&g, "encode", c));
    int h = sakd_graph_neuron(&g, "sn1", sakd_graph_linear(&g, "fc1", a, hidden));
    int d = sakd_graph_dropout(&g, "drop", h, 0.3f);
    int y = sakd_graph_neuron(&g, "sn2", sakd_graph_linear(&g, "fc2", d, hidden));
    int logits = sakd_graph_linear(&g, "fc3", sakd_graph_mean_time(&g, "readout", y), classes);
    TEST_OK(g.status);
    TEST_OK(sakd_params_allocate(&p));
    TEST_OK(sakd_params_initialize(&p, 4242));
    /* Larger first-layer weights, so that the LIF layers fire at moderate rates. */
    size_t nw = 6 * 2 * 9;
    float w[6 * 2 * 9], xin[3 * 2 * 16], dl[3 * 5];
    test_rng r = test_rng_new(9300);
    test_fill_uniform(&r, w, nw, -1.5, 1.5);
    TEST_OK(sakd_tensor_upload(&p.items[sakd_params_find(&p, "conv.weight")].value, w));
    TEST_OK(sakd_graph_allocate(&g));
    test_fill_uniform(&r, xin, sizeof xin / sizeof *xin, -1, 2);
    test_fill_uniform(&r, dl, sizeof dl / sizeof *dl, -1, 1);
    TEST_OK(sakd_tensor_upload(&sakd_graph_act_get(&g, x)->value, xin));
    sakd_graph_set_rng(&g, 5, 3);
    TEST_OK(sakd_graph_forward(&g, train));
    sakd_tensor seed;
    TEST_OK(sakd_tensor_new(&seed, ctx, "dlogits", 2, (size_t[]){nb, classes}));
    TEST_OK(sakd_tensor_upload(&seed, dl));
    TEST_OK(sakd_tensor_fill(&p.grads, NAN));
    const sakd_tensor *seeds[1] = {&seed};
    TEST_OK(sakd_graph_backward(&g, 1, &logits, seeds));
    size_t nl = nb * classes, ng = sakd_tensor_numel(&p.grads);
    ck_assert_uint_le(nl + ng, cap);
    TEST_OK(sakd_tensor_download(&sakd_graph_act_get(&g, logits)->value, out));
    TEST_OK(sakd_tensor_download(&p.grads, out + nl));
    driven[0] = driven[1] = 0;
    for (size_t i = 0; i < g.n_nodes; i++) {
        if (!strcmp(g.nodes[i].name, "fc1"))
            driven[0] = sakd_node_spike_driven(&g.nodes[i]);
        if (!strcmp(g.nodes[i].name, "fc2"))
            driven[1] = sakd_node_spike_driven(&g.nodes[i]);
    }
    sakd_tensor_free(&seed);
    sakd_graph_free(&g);
    sakd_params_free(&p);
    TEST_OK(sakd_spike_layers_set(ctx, "dense"));
    return nl + ng;
}

/* Spike-fed linear layers (directly, and through a dropout whose kept spikes are 1/(1 − p))
 * spike-driven give the dense path's logits and gradients up to float summation order, in
 * training and evaluation, and the same bits when run again. (The passes themselves are checked
 * against double references in test_conv_spike; here, the graph's wiring: which tensors, the
 * dropout's scale, the bias.) */
START_TEST(test_snn_spike_linear)
{
    enum { CAP = 40000 };
    float *dense = malloc(CAP * sizeof *dense), *spike = malloc(CAP * sizeof *spike),
          *again = malloc(CAP * sizeof *again);
    for (int train = 1; train >= 0; train--) {
        int dd[2], sd[2];
        size_t n = spike_linear_net("dense", train, dense, CAP, dd);
        ck_assert_uint_eq(spike_linear_net("spike", train, spike, CAP, sd), n);
        /* The same inputs spike-driven again: the same bits. */
        ck_assert_uint_eq(spike_linear_net("spike", train, again, CAP, sd), n);
        ck_assert_msg(memcmp(spike, again, n * sizeof *spike) == 0,
                      "spike-driven results differ between two identical runs");
        ck_assert(!dd[0] && !dd[1]);
        ck_assert_msg(sd[0] && sd[1], "fc1, fc2 spike-driven: %d %d", sd[0], sd[1]);
        double scale = 0;
        for (size_t i = 0; i < n; i++)
            scale = fmax(scale, fabs(dense[i]));
        ck_assert(scale > 0);
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(fabs(spike[i] - dense[i]) <= 1e-5 * scale,
                          "train %d: value %zu spike-driven %.8g, dense %.8g", train, i,
                          (double)spike[i], (double)dense[i]);
            moved += dense[i] != 0.0f;
        }
        ck_assert_uint_gt(moved, n / 10); /* gradients that are not all zero */
    }
    free(dense);
    free(spike);
    free(again);
}
END_TEST

/* Backward after an eval-mode forward: BN's gradient through its running statistics. */
START_TEST(test_eval_backward)
{
    run(0, 1, 830);
    run(2, 1, 840);
}
END_TEST

/* A dropout node on a time-major input (an input repeated over T = 3): in train mode the same
 * elements are dropped at every step, kept ones are scaled by 1/(1 − p), and the backward pass
 * applies the forward's mask (gx = 0 exactly where y = 0, else gy/(1 − p)); eval mode is the
 * identity, forward and backward. */
START_TEST(test_dropout_node)
{
    sakd_ctx *ctx = test_ctx();
    sakd_params p;
    sakd_params_init(&p, ctx);
    sakd_graph g;
    sakd_lif_params lif = sakd_lif_params_default();
    size_t T = 3, nb = 4, nch = 5, side = 6;
    sakd_graph_init(&g, ctx, &p, 1, T, nb, &lif);
    int x = sakd_graph_input_with_grad(&g, "x", nch, side, side);
    int xt = sakd_graph_repeat_time(&g, "repeat", x);
    int y = sakd_graph_dropout(&g, "drop", xt, 0.3f);
    TEST_OK(g.status);
    TEST_OK(sakd_params_allocate(&p));
    TEST_OK(sakd_graph_allocate(&g));
    size_t per = nb * nch * side * side, n = T * per;
    float *hx = malloc(per * 4), *hy = malloc(n * 4), *hgy = malloc(n * 4), *hgx = malloc(per * 4);
    test_rng r = test_rng_new(870);
    test_fill_uniform(&r, hx, per, 0.5, 2.0); /* never 0: a zero output means dropped */
    test_fill_uniform(&r, hgy, n, -1, 1);
    TEST_OK(sakd_tensor_upload(&g.acts[x].value, hx));
    sakd_tensor gy;
    TEST_OK(sakd_tensor_new(&gy, ctx, "gy", 4, g.acts[y].shape));
    TEST_OK(sakd_tensor_upload(&gy, hgy));
    const sakd_tensor *seeds[1] = {&gy};
    for (int train = 1; train >= 0; train--) {
        sakd_graph_set_rng(&g, 9, 17);
        TEST_OK(sakd_graph_forward(&g, train));
        TEST_OK(sakd_graph_backward(&g, 1, &y, seeds));
        TEST_OK(sakd_tensor_download(&g.acts[y].value, hy));
        TEST_OK(sakd_tensor_download(&g.acts[x].grad, hgx));
        size_t dropped = 0;
        double scale = train ? 1.0 / (1.0 - 0.3) : 1.0;
        for (size_t j = 0; j < per; j++) {
            int drop = hy[j] == 0.0f;
            dropped += drop;
            double want_gx = 0;
            for (size_t t = 0; t < T; t++) {
                float v = hy[t * per + j];
                ck_assert_msg((v == 0.0f) == drop, "element %zu: dropped at step 0 but not %zu", j,
                              t);
                ck_assert_msg(drop || fabs(v - hx[j] * scale) <= 2 * FLT_EPSILON * v,
                              "y[%zu] = %g, want %g", t * per + j, v, hx[j] * scale);
                want_gx += drop ? 0.0 : hgy[t * per + j] * scale;
            }
            ck_assert_msg(fabs(hgx[j] - want_gx) <= 8 * FLT_EPSILON * (1 + fabs(want_gx)),
                          "gx[%zu] = %g, want %g (dropped %d)", j, hgx[j], want_gx, drop);
        }
        if (train)
            ck_assert_msg(dropped > per / 5 && dropped < per * 2 / 5, "dropped %zu of %zu", dropped,
                          per);
        else
            ck_assert_uint_eq(dropped, 0);
    }
    sakd_tensor_free(&gy);
    sakd_graph_free(&g);
    sakd_params_free(&p);
    free(hx), free(hy), free(hgy), free(hgx);
}
END_TEST

/* One training step (forward in train mode, backward of a logit seed and of a seed at a block
 * output read from outside) of a residual SNN or ANN with 16 channels, a downsampling block
 * (3x3 stride 2 and a 1x1 shortcut, as ResNet-19's), GAP and a linear head; plain: every
 * activation plain. The logits, the outside block output, the parameter gradients and the running
 * statistics, concatenated into out (floats); the number of channel-blocked activations the plan
 * made in *blocked. */
static size_t layout_step(int snn, int plain, uint64_t salt, float *out, size_t cap, int *blocked,
                          int *shortcut_converted)
{
    enum { LB = 2, LT = 2, LC = 16, LH = 8 };
    sakd_ctx *ctx = test_ctx();
    sakd_params p;
    sakd_params_init(&p, ctx);
    sakd_graph g;
    sakd_graph_init(&g, ctx, &p, snn, LT, LB, NULL);
    int in = sakd_graph_input(&g, "input", 1, LH, LH);
    int x = sakd_graph_bn(&g, "bn1", sakd_graph_conv(&g, "conv1", in, LC, 3, 1, 1));
    if (snn)
        x = sakd_graph_repeat_time(&g, "encode", x);
    int a1 = sakd_graph_neuron(&g, "act1", x);
    int y = sakd_graph_bn(&g, "bn2", sakd_graph_conv(&g, "conv2", a1, LC, 3, 1, 1));
    int a2 = sakd_graph_neuron(&g, "act2", sakd_graph_add(&g, "add1", y, a1));
    int z = sakd_graph_neuron(
        &g, "act3", sakd_graph_bn(&g, "bn3", sakd_graph_conv(&g, "conv3", a2, 2 * LC, 3, 2, 1)));
    z = sakd_graph_bn(&g, "bn4", sakd_graph_conv(&g, "conv4", z, 2 * LC, 3, 1, 1));
    int sc = sakd_graph_bn(&g, "bn5", sakd_graph_conv(&g, "down", a2, 2 * LC, 1, 2, 0));
    int a4 = sakd_graph_neuron(&g, "act4", sakd_graph_add(&g, "add2", z, sc));
    int f = sakd_graph_gap(&g, "gap", a4);
    if (snn)
        f = sakd_graph_mean_time(&g, "readout", f);
    int logits = sakd_graph_linear(&g, "fc", f, 5);
    TEST_OK(g.status);
    TEST_OK(sakd_params_allocate(&p));
    test_rng r = test_rng_new(salt);
    TEST_OK(sakd_params_initialize(&p, test_rand_u64(&r)));
    TEST_OK(sakd_graph_keep_plain(&g, a2)); /* read and seeded below, as a distillation tap */
    if (plain)
        TEST_OK(sakd_graph_plain_layouts(&g));
    TEST_OK(sakd_graph_allocate(&g));
    *blocked = 0;
    for (size_t i = 0; i < g.n_acts; i++)
        *blocked += g.acts[i].value.layout != 0;
    /* the downsampling shortcut reads the plain tap a2: its 1x1 convolution writes the other
     * operand's block itself rather than add2 converting its output */
    *shortcut_converted = 0;
    for (size_t i = 0; i < g.n_nodes; i++)
        if (strcmp(g.nodes[i].name, "add2") == 0 && g.acts[z].value.layout)
            *shortcut_converted = g.nodes[i].convert_in[1];
    size_t nx = LB * LH * LH, nl = (size_t)LB * 5, na = sakd_tensor_numel(&g.acts[a2].value);
    float *xin = malloc(nx * 4), *dl = malloc(nl * 4), *da = malloc(na * 4);
    test_fill_uniform(&r, xin, nx, -1, 1);
    test_fill_uniform(&r, dl, nl, -1, 1);
    test_fill_uniform(&r, da, na, -0.1, 0.1);
    TEST_OK(sakd_tensor_upload(&sakd_graph_act_get(&g, in)->value, xin));
    sakd_tensor seed[2];
    size_t ls[2] = {LB, 5};
    TEST_OK(sakd_tensor_new(&seed[0], ctx, "dlogits", 2, ls));
    TEST_OK(sakd_tensor_upload(&seed[0], dl));
    const sakd_act *aa = sakd_graph_act_get(&g, a2);
    TEST_OK(sakd_tensor_new(&seed[1], ctx, "dact2", aa->ndim, aa->shape));
    TEST_OK(sakd_tensor_upload(&seed[1], da));
    TEST_OK(sakd_graph_forward(&g, 1));
    const sakd_tensor *seeds[2] = {&seed[0], &seed[1]};
    int ids[2] = {logits, a2};
    TEST_OK(sakd_graph_backward(&g, 2, ids, seeds));
    size_t used = 0;
    const sakd_tensor *outs[3] = {&sakd_graph_act_get(&g, logits)->value, &aa->value, &p.grads};
    for (int i = 0; i < 3; i++) {
        size_t m = sakd_tensor_numel(outs[i]);
        ck_assert(used + m <= cap);
        TEST_OK(sakd_tensor_download(outs[i], out + used));
        used += m;
    }
    {
        size_t m = sakd_tensor_numel(&p.buffers); /* the BN running statistics */
        ck_assert(used + m <= cap);
        TEST_OK(sakd_tensor_download(&p.buffers, out + used));
        used += m;
    }
    free(xin);
    free(dl);
    free(da);
    sakd_tensor_free(&seed[0]);
    sakd_tensor_free(&seed[1]);
    sakd_graph_free(&g);
    sakd_params_free(&p);
    return used;
}

/* The activation layout plan (sakd_graph_allocate) changes no bit of a training step: outputs,
 * an activation read from outside and seeded there, every parameter gradient and the running
 * statistics equal the all-plain graph's, for the SNN and the ANN, on fresh random weights and
 * data; on the host provider with oneDNN the plan does block activations, and a shortcut's
 * convolution writes the block its add needs. */
START_TEST(test_layout_plan)
{
    size_t cap = 1 << 16;
    float *a = malloc(cap * 4), *b = malloc(cap * 4);
    for (int snn = 0; snn < 2; snn++) {
        int blocked_a, blocked_b, conv_a, conv_b;
        uint64_t salt = 3000 + (uint64_t)snn;
        size_t na = layout_step(snn, 1, salt, a, cap, &blocked_a, &conv_a);
        size_t nb = layout_step(snn, 0, salt, b, cap, &blocked_b, &conv_b);
        ck_assert_int_eq(conv_b, 0);
        ck_assert_uint_eq(na, nb);
        ck_assert_int_eq(blocked_a, 0);
        for (size_t i = 0; i < na; i++)
            ck_assert_msg(memcmp(&a[i], &b[i], 4) == 0,
                          "%s: value %zu is %.9g with the layout plan, %.9g all plain (seed %llu)",
                          snn ? "SNN" : "ANN", i, (double)b[i], (double)a[i],
                          (unsigned long long)test_seed());
        int native_in, native_out;
        sakd_conv2d_params cp = {1, 1, 1, 1};
        TEST_OK(sakd_conv2d_native_layouts(test_ctx(), (size_t[]){4, 16, 8, 8},
                                           (size_t[]){16, 16, 3, 3}, &cp, 0, &native_in,
                                           &native_out));
        if (native_out)
            ck_assert_msg(blocked_b > 0,
                          "oneDNN writes blocked outputs here but the plan used none");
    }
    free(a);
    free(b);
}
END_TEST

Suite *suite_graph(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ann);
    tcase_add_test(tc, test_snn);
    tcase_add_test(tc, test_eval_backward);
    tcase_add_test(tc, test_dropout_node);
    suite_add_tcase(s, tc);
    /* The spike-driven layers on each provider: the host passes beside the host BLAS, and the
     * kernels of cl/conv_spike.cl where CLBlast serves. */
    for (int i = 0; i < test_providers(); i++) {
        TCase *pc = test_provider_tcase(i);
        tcase_set_timeout(pc, 300);
        tcase_add_test(pc, test_layout_plan);
        tcase_add_test(pc, test_snn_spike_driven);
        tcase_add_test(pc, test_snn_spike_auto);
        tcase_add_test(pc, test_snn_spike_linear);
        suite_add_tcase(s, pc);
    }
    return s;
}
