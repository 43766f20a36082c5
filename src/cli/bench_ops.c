/* bench_ops.c — `sakd bench ops`: times every op family forward and backward at the layer
 * shapes of ResNet-19 (DESIGN.md §2.4) for given widths, input sizes, T and batch. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/gemm.h"
#include "runtime/timer.h"

/* Largest conv workspace (floats): bigger layers run in chunks of samples (conv.h). */
#define BENCH_WORKSPACE_FLOATS ((size_t)64 << 20)

typedef struct bench {
    sakd_ctx *ctx;
    int reps;
    double peak_gflops; /* measured SGEMM peak, for the GEMM-bound ops */
} bench;

/* One op instance: tensors allocated by setup, run(fwd) / run(bwd), freed by teardown. */
typedef struct op_case op_case;
struct op_case {
    const char *op;
    char shape[80];
    int gemm;          /* work is FLOPs (GEMM-bound) rather than bytes */
    double fwd_work;   /* FLOPs or bytes of one forward */
    double bwd_work;   /* of one backward; 0 when the op has none */
    sakd_tensor t[16]; /* the op's tensors, by position */
    size_t nt;
    sakd_lif_cache lif;
    int has_lif;
    cl_mem labels;
    size_t labels_bytes;
    int *labels_host;
    sakd_conv2d_params conv;
    size_t T;
    sakd_status (*fwd)(op_case *c);
    sakd_status (*bwd)(op_case *c);
};

static sakd_status add_tensor(op_case *c, sakd_ctx *ctx, const char *name, int ndim,
                              const size_t *shape, float lo, float hi)
{
    sakd_tensor *t = &c->t[c->nt];
    SAKD_TRY(sakd_tensor_new(t, ctx, name, ndim, shape));
    c->nt++;
    return sakd_rng_uniform_fill(t, 12345, 1000 * c->nt, lo, hi);
}

static void free_case(op_case *c, sakd_ctx *ctx)
{
    for (size_t i = 0; i < c->nt; i++)
        sakd_tensor_free(&c->t[i]);
    if (c->has_lif)
        sakd_lif_cache_free(&c->lif);
    if (c->labels)
        sakd_buffer_free(ctx, c->labels, c->labels_bytes);
    free(c->labels_host);
    memset(c, 0, sizeof *c);
}

/* ---- the ops, each over its tensors t[] -------------------------------------------------- */

/* conv: t = x, w, y, gy, gx, gw, work */
static sakd_status conv_fwd(op_case *c)
{
    return sakd_conv2d_forward(&c->t[2], &c->t[6], &c->t[0], &c->t[1], NULL, &c->conv);
}
static sakd_status conv_bwd(op_case *c)
{
    return sakd_conv2d_backward(&c->t[4], &c->t[5], NULL, &c->t[6], &c->t[3], &c->t[0], &c->t[1],
                                &c->conv);
}
/* bn: t = x, y, gy, gx, mean, invstd, rmean, rvar, gamma, beta, ggamma, gbeta */
static sakd_status bn_fwd(op_case *c)
{
    return sakd_batchnorm_forward(&c->t[1], &c->t[4], &c->t[5], &c->t[6], &c->t[7], &c->t[0],
                                  &c->t[8], &c->t[9], 1, SAKD_BN_MOMENTUM, SAKD_BN_EPS);
}
static sakd_status bn_bwd(op_case *c)
{
    return sakd_batchnorm_backward(&c->t[3], &c->t[10], &c->t[11], &c->t[4], &c->t[5], &c->t[2],
                                   &c->t[0], &c->t[8], 1);
}
/* lif: t = x, s, gs, gx */
static sakd_status lif_fwd(op_case *c)
{
    sakd_lif_params p = sakd_lif_params_default();
    return sakd_lif_forward(&c->t[1], &c->lif, &c->t[0], c->T, &p);
}
static sakd_status lif_bwd(op_case *c)
{
    sakd_lif_params p = sakd_lif_params_default();
    return sakd_lif_backward(&c->t[3], &c->lif, &c->t[2], c->T, &p);
}
/* relu: t = x, y, gy, gx */
static sakd_status relu_fwd(op_case *c)
{
    return sakd_relu_forward(&c->t[1], &c->t[0]);
}
static sakd_status relu_bwd(op_case *c)
{
    return sakd_relu_backward(&c->t[3], &c->t[0], &c->t[2]);
}
/* global average pool: t = x, y, gy, gx */
static sakd_status gap_fwd(op_case *c)
{
    return sakd_global_avgpool_forward(&c->t[1], &c->t[0]);
}
static sakd_status gap_bwd(op_case *c)
{
    return sakd_global_avgpool_backward(&c->t[3], &c->t[2]);
}
/* mean over T: t = x, y, gy, gx */
static sakd_status mean_fwd(op_case *c)
{
    return sakd_mean_time_forward(&c->t[1], &c->t[0], c->T);
}
static sakd_status mean_bwd(op_case *c)
{
    return sakd_mean_time_backward(&c->t[3], &c->t[2], c->T);
}
/* residual add: t = a, b, y, gy, ga, gb */
static sakd_status add_fwd(op_case *c)
{
    return sakd_add_forward(&c->t[2], &c->t[0], &c->t[1]);
}
static sakd_status add_bwd(op_case *c)
{
    return sakd_add_backward(&c->t[4], &c->t[5], &c->t[3]);
}
/* linear: t = x, w, b, y, gy, gx, gw, gb */
static sakd_status linear_fwd(op_case *c)
{
    return sakd_linear_forward(&c->t[3], &c->t[0], &c->t[1], &c->t[2]);
}
static sakd_status linear_bwd(op_case *c)
{
    return sakd_linear_backward(&c->t[5], &c->t[6], &c->t[7], &c->t[4], &c->t[0], &c->t[1]);
}
/* cross-entropy: t = logits, loss, dlogits */
static sakd_status ce_fwd(op_case *c)
{
    return sakd_cross_entropy_forward(&c->t[1], &c->t[0], c->labels, 0, NULL);
}
static sakd_status ce_bwd(op_case *c)
{
    return sakd_cross_entropy_backward(&c->t[2], &c->t[0], c->labels, 0, NULL, 1.0f);
}
/* logit KD / feature kl: t = student, teacher, loss, dstudent */
static sakd_status kl_fwd(op_case *c)
{
    return sakd_softmax_kl_forward(&c->t[2], &c->t[0], &c->t[1], 20.0f);
}
static sakd_status kl_bwd(op_case *c)
{
    return sakd_softmax_kl_backward(&c->t[3], &c->t[0], &c->t[1], 20.0f, 1.0f);
}
/* feature l2: t = student, teacher, loss, dstudent */
static sakd_status mse_fwd(op_case *c)
{
    return sakd_mse_forward(&c->t[2], &c->t[0], &c->t[1]);
}
static sakd_status mse_bwd(op_case *c)
{
    return sakd_mse_backward(&c->t[3], &c->t[0], &c->t[1], 1.0f);
}
/* attention transform: t = x, out, norm, dout, dx */
static sakd_status attn_fwd(op_case *c)
{
    return sakd_attn_forward(&c->t[1], &c->t[2], &c->t[0]);
}
static sakd_status attn_bwd(op_case *c)
{
    return sakd_attn_backward(&c->t[4], &c->t[3], &c->t[1], &c->t[2], &c->t[0]);
}
/* SGD step over all parameters: t = params, momentum, grads */
static sakd_status sgd_fwd(op_case *c)
{
    return sakd_sgd_step(&c->t[0], &c->t[1], &c->t[2], 0.1f, 0.9f, 5e-4f, 1);
}

/* ---- setting the cases up ---------------------------------------------------------------- */

static void shape_str(char *buf, size_t size, int ndim, const size_t *s)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ",%zu" : "%zu", s[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static sakd_status setup_conv(op_case *c, sakd_ctx *ctx, size_t n, size_t cin, size_t cout,
                              size_t h, size_t k, size_t stride)
{
    size_t pad = k / 2, ho = sakd_conv2d_out_size(h, k, stride, pad);
    size_t xs[4] = {n, cin, h, h}, ws[4] = {cout, cin, k, k}, ys[4] = {n, cout, ho, ho};
    c->op = "conv2d";
    c->gemm = 1;
    c->conv = (sakd_conv2d_params){stride, stride, pad, pad};
    c->fwd_work = 2.0 * n * cout * ho * ho * cin * k * k;
    c->bwd_work = 2.0 * c->fwd_work;
    char sx[40];
    shape_str(sx, sizeof sx, 4, xs);
    snprintf(c->shape, sizeof c->shape, "%s k%zu s%zu ->%zu", sx, k, stride, cout);
    size_t per = sakd_conv2d_workspace_floats(1, cin, cout, k, k, ho, ho);
    size_t chunk = BENCH_WORKSPACE_FLOATS / per;
    if (chunk < 1)
        chunk = 1;
    if (chunk > n)
        chunk = n;
    size_t work = sakd_conv2d_workspace_floats(chunk, cin, cout, k, k, ho, ho);
    float bound = 1.0f / sqrtf((float)(cin * k * k));
    SAKD_TRY(add_tensor(c, ctx, "x", 4, xs, 0.0f, 1.0f));
    SAKD_TRY(add_tensor(c, ctx, "w", 4, ws, -bound, bound));
    SAKD_TRY(add_tensor(c, ctx, "y", 4, ys, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "gy", 4, ys, -1.0f, 1.0f));
    SAKD_TRY(add_tensor(c, ctx, "gx", 4, xs, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "gw", 4, ws, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "workspace", 1, &work, 0.0f, 0.0f));
    c->fwd = conv_fwd;
    c->bwd = conv_bwd;
    return SAKD_OK;
}

/* Element-wise-like ops on an activation [n, ch, h, h]. */
static sakd_status setup_act(op_case *c, sakd_ctx *ctx, const char *op, size_t n, size_t ch,
                             size_t h, size_t T)
{
    size_t s[4] = {n, ch, h, h}, vs[1] = {ch}, e = n * ch * h * h;
    c->op = op;
    c->T = T;
    shape_str(c->shape, sizeof c->shape, 4, s);
    if (strcmp(op, "batchnorm") == 0) {
        const char *names[] = {"x", "y", "gy", "gx"};
        for (int i = 0; i < 4; i++)
            SAKD_TRY(add_tensor(c, ctx, names[i], 4, s, -1.0f, 1.0f));
        const char *vnames[] = {"mean",  "invstd", "rmean",  "rvar",
                                "gamma", "beta",   "ggamma", "gbeta"};
        for (int i = 0; i < 8; i++)
            SAKD_TRY(add_tensor(c, ctx, vnames[i], 1, vs, 0.5f, 1.5f));
        c->fwd_work = 8.0 * e;  /* read x, write y */
        c->bwd_work = 12.0 * e; /* read x, gy, write gx */
        c->fwd = bn_fwd;
        c->bwd = bn_bwd;
    } else if (strcmp(op, "lif") == 0) {
        const char *names[] = {"x", "s", "gs", "gx"};
        for (int i = 0; i < 4; i++)
            SAKD_TRY(add_tensor(c, ctx, names[i], 4, s, 0.0f, 1.5f));
        SAKD_TRY(sakd_lif_cache_new(&c->lif, ctx, "lif", 4, s));
        c->has_lif = 1;
        c->fwd_work = 13.0 * e; /* read x, write s and h, write spikes as uint8 */
        c->bwd_work = 13.0 * e; /* read gs, h, spikes, write gx */
        c->fwd = lif_fwd;
        c->bwd = lif_bwd;
    } else if (strcmp(op, "relu") == 0) {
        const char *names[] = {"x", "y", "gy", "gx"};
        for (int i = 0; i < 4; i++)
            SAKD_TRY(add_tensor(c, ctx, names[i], 4, s, -1.0f, 1.0f));
        c->fwd_work = 8.0 * e;
        c->bwd_work = 12.0 * e;
        c->fwd = relu_fwd;
        c->bwd = relu_bwd;
    } else { /* residual add */
        const char *names[] = {"a", "b", "y", "gy", "ga", "gb"};
        for (int i = 0; i < 6; i++)
            SAKD_TRY(add_tensor(c, ctx, names[i], 4, s, -1.0f, 1.0f));
        c->fwd_work = 12.0 * e;
        c->bwd_work = 12.0 * e;
        c->fwd = add_fwd;
        c->bwd = add_bwd;
    }
    return SAKD_OK;
}

static sakd_status setup_linear(op_case *c, sakd_ctx *ctx, size_t n, size_t in, size_t out)
{
    size_t xs[2] = {n, in}, ws[2] = {out, in}, bs[1] = {out}, ys[2] = {n, out};
    c->op = "linear";
    c->gemm = 1;
    c->fwd_work = 2.0 * n * in * out;
    c->bwd_work = 2.0 * c->fwd_work;
    snprintf(c->shape, sizeof c->shape, "[%zu,%zu] ->%zu", n, in, out);
    SAKD_TRY(add_tensor(c, ctx, "x", 2, xs, 0.0f, 1.0f));
    SAKD_TRY(add_tensor(c, ctx, "w", 2, ws, -0.1f, 0.1f));
    SAKD_TRY(add_tensor(c, ctx, "b", 1, bs, -0.1f, 0.1f));
    SAKD_TRY(add_tensor(c, ctx, "y", 2, ys, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "gy", 2, ys, -1.0f, 1.0f));
    SAKD_TRY(add_tensor(c, ctx, "gx", 2, xs, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "gw", 2, ws, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "gb", 1, bs, 0.0f, 0.0f));
    c->fwd = linear_fwd;
    c->bwd = linear_bwd;
    return SAKD_OK;
}

/* Pooling and time reductions: in [n, ch, h, h] -> [n, ch] (gap) or [n/T, ...] (mean). */
static sakd_status setup_reduce(op_case *c, sakd_ctx *ctx, const char *op, size_t n, size_t ch,
                                size_t h, size_t T)
{
    c->op = op;
    c->T = T;
    if (strcmp(op, "global_avgpool") == 0) {
        size_t xs[4] = {n, ch, h, h}, ys[2] = {n, ch};
        shape_str(c->shape, sizeof c->shape, 4, xs);
        SAKD_TRY(add_tensor(c, ctx, "x", 4, xs, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "y", 2, ys, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "gy", 2, ys, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "gx", 4, xs, 0.0f, 0.0f));
        c->fwd_work = 4.0 * n * ch * h * h + 4.0 * n * ch;
        c->bwd_work = c->fwd_work;
        c->fwd = gap_fwd;
        c->bwd = gap_bwd;
    } else { /* mean over T of [n, ch] */
        size_t xs[2] = {n, ch}, ys[2] = {n / T, ch};
        shape_str(c->shape, sizeof c->shape, 2, xs);
        SAKD_TRY(add_tensor(c, ctx, "x", 2, xs, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "y", 2, ys, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "gy", 2, ys, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "gx", 2, xs, 0.0f, 0.0f));
        c->fwd_work = 4.0 * n * ch + 4.0 * (n / T) * ch;
        c->bwd_work = c->fwd_work;
        c->fwd = mean_fwd;
        c->bwd = mean_bwd;
    }
    return SAKD_OK;
}

/* Losses: CE and logit KD on [b, classes]; feature l2, kl and attn on [b, ch, h, h]. */
static sakd_status setup_loss(op_case *c, sakd_ctx *ctx, const char *op, size_t b, size_t ch,
                              size_t h)
{
    size_t one = 1, fs[4] = {b, ch, h, h}, as[2] = {b, h * h}, bs[1] = {b};
    size_t e = b * ch * h * h;
    c->op = op;
    if (strcmp(op, "cross_entropy") == 0) {
        size_t ls[2] = {b, ch};
        shape_str(c->shape, sizeof c->shape, 2, ls);
        SAKD_TRY(add_tensor(c, ctx, "logits", 2, ls, -3.0f, 3.0f));
        SAKD_TRY(add_tensor(c, ctx, "loss", 1, &one, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "dlogits", 2, ls, 0.0f, 0.0f));
        c->labels_bytes = b * sizeof(int);
        c->labels_host = calloc(b, sizeof(int));
        if (!c->labels_host)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < b; i++)
            c->labels_host[i] = (int)(i % ch);
        SAKD_TRY(sakd_buffer_new(ctx, "labels", c->labels_bytes, &c->labels));
        SAKD_CL_CHECK(clEnqueueWriteBuffer(ctx->queue, c->labels, CL_TRUE, 0, c->labels_bytes,
                                           c->labels_host, 0, NULL, NULL));
        c->fwd_work = 4.0 * b * ch;
        c->bwd_work = 8.0 * b * ch;
        c->fwd = ce_fwd;
        c->bwd = ce_bwd;
    } else if (strcmp(op, "logit_kd") == 0 || strcmp(op, "feature_kl") == 0 ||
               strcmp(op, "feature_l2") == 0) {
        int logits = strcmp(op, "logit_kd") == 0;
        size_t ls[2] = {b, ch};
        int nd = logits ? 2 : 4;
        const size_t *s = logits ? ls : fs;
        size_t n = logits ? b * ch : e;
        shape_str(c->shape, sizeof c->shape, nd, s);
        SAKD_TRY(add_tensor(c, ctx, "student", nd, s, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "teacher", nd, s, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "loss", 1, &one, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "dstudent", nd, s, 0.0f, 0.0f));
        c->fwd_work = 8.0 * n;
        c->bwd_work = 12.0 * n;
        int l2 = strcmp(op, "feature_l2") == 0;
        c->fwd = l2 ? mse_fwd : kl_fwd;
        c->bwd = l2 ? mse_bwd : kl_bwd;
    } else { /* attention transform */
        shape_str(c->shape, sizeof c->shape, 4, fs);
        SAKD_TRY(add_tensor(c, ctx, "x", 4, fs, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "out", 2, as, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "norm", 1, bs, 0.0f, 0.0f));
        SAKD_TRY(add_tensor(c, ctx, "dout", 2, as, -1.0f, 1.0f));
        SAKD_TRY(add_tensor(c, ctx, "dx", 4, fs, 0.0f, 0.0f));
        c->fwd_work = 4.0 * e + 4.0 * b * h * h;
        c->bwd_work = 8.0 * e + 8.0 * b * h * h;
        c->fwd = attn_fwd;
        c->bwd = attn_bwd;
    }
    return SAKD_OK;
}

static sakd_status setup_sgd(op_case *c, sakd_ctx *ctx, size_t nparams)
{
    c->op = "sgd_step";
    snprintf(c->shape, sizeof c->shape, "[%zu] params", nparams);
    SAKD_TRY(add_tensor(c, ctx, "params", 1, &nparams, -0.1f, 0.1f));
    SAKD_TRY(add_tensor(c, ctx, "momentum", 1, &nparams, 0.0f, 0.0f));
    SAKD_TRY(add_tensor(c, ctx, "grads", 1, &nparams, -0.1f, 0.1f));
    c->fwd_work = 20.0 * nparams; /* read p, buf, g; write p, buf */
    c->fwd = sgd_fwd;
    return SAKD_OK;
}

/* ---- timing and the table ---------------------------------------------------------------- */

static sakd_status time_one(bench *b, op_case *c, sakd_status (*fn)(op_case *), double *ms)
{
    double *t = calloc((size_t)b->reps, sizeof *t);
    if (!t)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    sakd_status st = SAKD_OK;
    for (int r = -1; r < b->reps && st == SAKD_OK; r++) { /* r = -1: warm-up */
        st = sakd_ctx_finish(b->ctx);
        double t0 = sakd_time_now();
        if (st == SAKD_OK)
            st = fn(c);
        if (st == SAKD_OK)
            st = sakd_ctx_finish(b->ctx);
        if (r >= 0)
            t[r] = sakd_time_now() - t0;
    }
    if (st == SAKD_OK)
        *ms = 1e3 * sakd_median(t, (size_t)b->reps);
    free(t);
    return st;
}

static void print_rate(const op_case *c, double work, double ms, double peak)
{
    if (work <= 0 || ms <= 0) {
        printf(" %10s %6s", "-", "");
        return;
    }
    if (c->gemm)
        printf(" %10.2f %6.0f%%", work / ms * 1e-6, 100.0 * work / ms * 1e-6 / peak);
    else
        printf(" %10.2f %6s", work / ms * 1e-6, "");
}

static sakd_status run_case(bench *b, op_case *c)
{
    double f = 0, g = 0;
    SAKD_TRY(time_one(b, c, c->fwd, &f));
    if (c->bwd)
        SAKD_TRY(time_one(b, c, c->bwd, &g));
    printf("%-15s %-34s %9.3f", c->op, c->shape, f);
    if (c->bwd)
        printf(" %9.3f", g);
    else
        printf(" %9s", "-");
    printf(" %-7s", c->gemm ? "GFLOP/s" : "GB/s");
    print_rate(c, c->fwd_work, f, b->peak_gflops);
    print_rate(c, c->bwd_work, g, b->peak_gflops);
    printf("\n");
    fflush(stdout);
    return SAKD_OK;
}

static size_t scaled(size_t channels, double width)
{
    double v = floor(channels * width + 0.5);
    return v < 1 ? 1 : (size_t)v;
}

/* Every distinct op shape of a ResNet-19 training step at this width and input. */
static sakd_status bench_resnet19(bench *b, double width, size_t in_ch, size_t h, size_t T,
                                  size_t batch)
{
    size_t n = T * batch, c1 = scaled(64, width), c2 = scaled(128, width);
    size_t c3 = scaled(256, width), c4 = scaled(512, width), f1 = scaled(256, width);
    size_t h2 = sakd_conv2d_out_size(h, 3, 2, 1), h3 = sakd_conv2d_out_size(h2, 3, 2, 1);
    printf("\n# resnet19 width %g, input %zux%zux%zu, T %zu, batch %zu (N = T*batch = %zu)\n",
           width, in_ch, h, h, T, batch, n);
    printf("%-15s %-34s %9s %9s %-7s %10s %7s %10s %7s\n", "op", "shape", "fwd_ms", "bwd_ms",
           "unit", "fwd_rate", "peak", "bwd_rate", "peak");
    /* Conv shapes: stem (the analog input, computed once: batch samples, not T*batch), then
     * per stage the first conv, the repeated conv and the 1x1 shortcut. */
    const struct {
        size_t n, cin, cout, h, k, stride;
    } convs[] = {
        {batch, in_ch, c1, h, 3, 1}, {n, c1, c2, h, 3, 1},  {n, c2, c2, h, 3, 1},
        {n, c1, c2, h, 1, 1},        {n, c2, c3, h, 3, 2},  {n, c3, c3, h2, 3, 1},
        {n, c2, c3, h, 1, 2},        {n, c3, c4, h2, 3, 2}, {n, c4, c4, h3, 3, 1},
        {n, c3, c4, h2, 1, 2},
    };
    sakd_status st = SAKD_OK;
    op_case c;
    memset(&c, 0, sizeof c);
#define RUN(setup)                                                                                 \
    do {                                                                                           \
        st = (setup);                                                                              \
        if (st == SAKD_OK)                                                                         \
            st = run_case(b, &c);                                                                  \
        free_case(&c, b->ctx);                                                                     \
        if (st != SAKD_OK)                                                                         \
            return st;                                                                             \
    } while (0)
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        RUN(setup_conv(&c, b->ctx, convs[i].n, convs[i].cin, convs[i].cout, convs[i].h, convs[i].k,
                       convs[i].stride));
    const struct {
        size_t ch, h;
    } acts[] = {{c1, h}, {c2, h}, {c3, h2}, {c4, h3}};
    const char *act_ops[] = {"batchnorm", "lif", "relu", "add"};
    for (size_t o = 0; o < 4; o++)
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(act_ops[o], "add") == 0 && i == 0)
                continue; /* no residual add at the stem */
            RUN(setup_act(&c, b->ctx, act_ops[o], n, acts[i].ch, acts[i].h, T));
        }
    RUN(setup_reduce(&c, b->ctx, "global_avgpool", n, c4, h3, T));
    RUN(setup_linear(&c, b->ctx, n, c4, f1));
    RUN(setup_reduce(&c, b->ctx, "mean_time", n, f1, 1, T));
    RUN(setup_linear(&c, b->ctx, batch, f1, 10));
    RUN(setup_loss(&c, b->ctx, "cross_entropy", batch, 10, 1));
    RUN(setup_loss(&c, b->ctx, "logit_kd", batch, 10, 1));
    for (size_t i = 1; i < 4; i++) { /* stage taps: features averaged over T, [batch, ...] */
        RUN(setup_loss(&c, b->ctx, "feature_l2", batch, acts[i].ch, acts[i].h));
        RUN(setup_loss(&c, b->ctx, "feature_kl", batch, acts[i].ch, acts[i].h));
        RUN(setup_loss(&c, b->ctx, "attn", batch, acts[i].ch, acts[i].h));
    }
    /* Parameters: conv weights of every layer, BN affine pairs, the two FC layers. */
    size_t params = 9 * in_ch * c1 + 2 * c1;
    params += 9 * c1 * c2 + 9 * c2 * c2 + c1 * c2 + 6 * c2 + 2 * (18 * c2 * c2 + 4 * c2);
    params += 9 * c2 * c3 + 9 * c3 * c3 + c2 * c3 + 6 * c3 + 2 * (18 * c3 * c3 + 4 * c3);
    params += 9 * c3 * c4 + 9 * c4 * c4 + c3 * c4 + 6 * c4 + (18 * c4 * c4 + 4 * c4);
    params += c4 * f1 + f1 + f1 * 10 + 10;
    RUN(setup_sgd(&c, b->ctx, params));
#undef RUN
    return st;
}

/* Parses "a,b,c" into up to `max` positive doubles. */
static int parse_list(const char *s, double *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v > 0) || (*end && *end != ','))
            return -1;
        out[n++] = v;
        s = *end ? end + 1 : end;
    }
    return n;
}

void help_bench_ops(void)
{
    printf("usage: sakd bench ops [--device SPEC] [--width W,...] [--size S,...] [--T T]\n"
           "                      [--batch B] [--reps R]\n\n"
           "Times every op forward and backward at the distinct layer shapes of a ResNet-19\n"
           "training step (default widths 0.25,1.0; inputs 28 (1 channel, Fashion-MNIST)\n"
           "and 32 (3 channels, CIFAR); T 4; batch 32; 3 timed runs after a warm-up,\n"
           "median wall time with the queue drained). GEMM-bound ops (conv2d, linear)\n"
           "report GFLOP/s and the fraction of the SGEMM peak measured at start (N = 1024);\n"
           "the others report GB/s counting each tensor read or written once.\n");
}

int cli_bench_ops(cli_opts *opts, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"device", required_argument, NULL, 'd'}, {"width", required_argument, NULL, 'w'},
        {"size", required_argument, NULL, 's'},   {"T", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'b'},  {"reps", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    double widths[8] = {0.25, 1.0}, sizes[8] = {28, 32};
    int nw = 2, ns = 2, c;
    long T = 4, batch = 32, reps = 3;
    optind = 0; /* 0, not 1: GNU getopt then resets its permutation state too */
    while ((c = getopt_long(argc, argv, "d:w:s:T:b:r:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': opts->device = optarg; break;
        case 'w': nw = parse_list(optarg, widths, 8); break;
        case 's': ns = parse_list(optarg, sizes, 8); break;
        case 'T':
            if (!cli_parse_long("bench ops", "--T", optarg, 1, 1000, &T))
                return SAKD_EXIT_USAGE;
            break;
        case 'b':
            if (!cli_parse_long("bench ops", "--batch", optarg, 1, 100000, &batch))
                return SAKD_EXIT_USAGE;
            break;
        case 'r':
            if (!cli_parse_long("bench ops", "--reps", optarg, 1, 1000, &reps))
                return SAKD_EXIT_USAGE;
            break;
        case 'h': help_bench_ops(); return SAKD_EXIT_OK;
        default: return SAKD_EXIT_USAGE;
        }
    }
    if (nw < 1 || ns < 1) {
        fprintf(stderr, "sakd: error: bench ops wants positive --width and --size lists\n");
        return SAKD_EXIT_USAGE;
    }
    for (int i = 0; i < ns; i++)
        if (sizes[i] < 4 || sizes[i] != floor(sizes[i])) {
            fprintf(stderr, "sakd: error: --size wants whole sizes of at least 4, not %g\n",
                    sizes[i]);
            return SAKD_EXIT_USAGE;
        }
    bench b = {NULL, (int)reps, 0.0};
    sakd_status st = sakd_ctx_new(&b.ctx, opts->device, 0);
    if (st != SAKD_OK)
        return cli_fail(st, "opening the OpenCL device");
    double s = 0;
    st = cli_time_gemm(b.ctx, 1024, b.reps, &s);
    if (st == SAKD_OK) {
        b.peak_gflops = 2.0 * 1024.0 * 1024.0 * 1024.0 / s * 1e-9;
        printf("# sakd bench ops on %s (%s, driver %s)\n", b.ctx->info.name,
               b.ctx->info.platform_name, b.ctx->info.driver);
        char gemm_desc[512];
        sakd_gemm_provider_describe(b.ctx, gemm_desc, sizeof gemm_desc);
        printf("# GEMM provider: %s\n", gemm_desc);
        printf("# measured SGEMM peak (N = 1024): %.2f GFLOP/s; %d timed runs, median\n",
               b.peak_gflops, b.reps);
    }
    for (int i = 0; i < nw && st == SAKD_OK; i++)
        for (int j = 0; j < ns && st == SAKD_OK; j++) {
            size_t hw = (size_t)sizes[j];
            st = bench_resnet19(&b, widths[i], hw == 28 ? 1 : 3, hw, (size_t)T, (size_t)batch);
        }
    if (st == SAKD_OK)
        printf("# peak device memory held by sakd: %.1f MiB\n",
               (double)b.ctx->mem_peak / (1024.0 * 1024.0));
    sakd_ctx_free(b.ctx);
    return st == SAKD_OK ? SAKD_EXIT_OK : cli_fail(st, "benchmarking ops");
}
