/* bn.c — host launchers of batch normalization (cl/bn.cl), and its statistics synchronized over
 * the ranks of a data-parallel run (train.sync_bn): each rank's count, mean and Σ(x − mean)²
 * per channel, merged on the host in rank order in double, so that every rank normalizes with
 * the same statistics of the global batch. */
#include "ops/bn.h"

#include <math.h>
#include <stdlib.h>

#include "ops/bn_host.h"
#include "ops/host.h"
#include "ops/reduce.h"
#include "runtime/dist.h"
#include "runtime/program.h"

/* N, C and P (the product of the dimensions after C) of the input. */
static sakd_status bn_sizes(const char *op, const sakd_tensor *in, size_t *n, size_t *c, size_t *p)
{
    SAKD_TRY(sakd_tensor_require(op, "input", in));
    char s[96];
    sakd_tensor_shape_str(in, s, sizeof s);
    if (in->ndim < 2 || in->ndim > 4 || in->shape[0] == 0 || in->shape[1] == 0)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s' has shape %s, expected [N, C], [N, C, L] "
                          "or [N, C, H, W]",
                          op, in->name, s);
    *n = in->shape[0];
    *c = in->shape[1];
    *p = sakd_tensor_numel(in) / (*n * *c);
    return SAKD_OK;
}

/* The layout of BN's activation tensors (runtime/tensor.h): plain anywhere; channel-blocked by 8
 * or 16 on the host provider only, for a 4-D input whose C the block divides, with the other
 * activation tensors (a, b; NULL to skip) in the input's layout. */
static sakd_status bn_layout(const char *op, const sakd_tensor *in, const char *role_a,
                             const sakd_tensor *a, const char *role_b, const sakd_tensor *b)
{
    int blk = in->layout;
    if (blk) {
        if (blk != 8 && blk != 16)
            return sakd_error(SAKD_ERR_ARG, "%s: input '%s' has layout %d, expected 0, 8 or 16", op,
                              in->name, blk);
        if (!sakd_host_active(in->ctx))
            return sakd_error(SAKD_ERR_ARG,
                              "%s: input '%s' is channel-blocked by %d; only the host provider "
                              "takes that layout",
                              op, in->name, blk);
        if (in->ndim != 4 || in->shape[1] % (size_t)blk)
            return sakd_error(SAKD_ERR_ARG,
                              "%s: input '%s' is channel-blocked by %d but is not [N, C, H, W] "
                              "with C a multiple of %d",
                              op, in->name, blk, blk);
    }
    const sakd_tensor *t[2] = {a, b};
    const char *role[2] = {role_a, role_b};
    for (int i = 0; i < 2; i++)
        if (t[i] && t[i]->layout != blk)
            return sakd_error(SAKD_ERR_ARG,
                              "%s: %s '%s' has layout %d but input '%s' has layout %d; BN "
                              "takes its tensors in one layout",
                              op, role[i], t[i]->name, t[i]->layout, in->name, blk);
    return SAKD_OK;
}

/* The ranks whose batch statistics this context's BN layers share, or NULL (per replica). */
static sakd_dist *sync_group(const sakd_ctx *ctx)
{
    return ctx && ctx->bn_group && sakd_dist_size(ctx->bn_group) > 1 ? ctx->bn_group : NULL;
}

/* Host arrays of the synchronized passes: 4 per channel. */
typedef struct sync_buf {
    double *d;   /* [4·C]: this rank's count, mean, Σ(x − mean)², scratch */
    double *all; /* [ranks·3·C] every rank's triples */
    float *f;    /* [4·C] floats to and from the device */
} sync_buf;

static sakd_status sync_buf_new(sync_buf *b, size_t c, int ranks)
{
    b->d = malloc(4 * c * sizeof *b->d);
    b->all = malloc((size_t)ranks * 3 * c * sizeof *b->all);
    b->f = malloc(4 * c * sizeof *b->f);
    if (!b->d || !b->all || !b->f)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for synchronized BN statistics");
    return SAKD_OK;
}

static void sync_buf_free(sync_buf *b)
{
    free(b->d);
    free(b->all);
    free(b->f);
}

/* Train mode with statistics over every rank's batch: this rank's per-channel mean and
 * Σ(x − mean)² (a kernel, or the host provider), every rank's merged in rank order by Chan's
 * update in double, then save_mean/save_invstd and the running statistics written as one
 * process with the whole batch would (bn_stats), and the input normalized with them. */
static sakd_status sync_forward(sakd_dist *group, sakd_tensor *out, sakd_tensor *save_mean,
                                sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                sakd_tensor *running_var, const sakd_tensor *in,
                                const sakd_tensor *gamma, const sakd_tensor *beta, float momentum,
                                float eps, size_t n, size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    int ranks = sakd_dist_size(group), host = sakd_host_active(ctx);
    sync_buf b = {0};
    sakd_status st = sync_buf_new(&b, c, ranks);
    double *mean = b.d + c, *sqdev = b.d + 2 * c;
    float *fm = b.f, *fq = b.f + c, *rm = b.f + 2 * c, *rv = b.f + 3 * c;
    if (st == SAKD_OK && host) {
        st = sakd_batchnorm_host_local_stats(in, mean, sqdev, n, c, p);
    } else if (st == SAKD_OK) {
        sakd_reduce_opts ro = sakd_reduce_options(ctx);
        cl_kernel k;
        cl_ulong smo = save_mean->offset, sio = save_invstd->offset, xo = in->offset;
        st = sakd_reduce_kernel(ctx, "bn", "bn_local_stats", &ro, &k);
        if (st == SAKD_OK)
            st = SAKD_LAUNCH_GROUPS(ctx, k, c, ro.wg, SAKD_ARG(save_mean->buf), SAKD_ARG(smo),
                                    SAKD_ARG(save_invstd->buf), SAKD_ARG(sio), SAKD_ARG(in->buf),
                                    SAKD_ARG(xo), SAKD_ULONG(n), SAKD_ULONG(c), SAKD_ULONG(p));
        if (st == SAKD_OK)
            st = sakd_tensor_download(save_mean, fm);
        if (st == SAKD_OK)
            st = sakd_tensor_download(save_invstd, fq);
        for (size_t i = 0; st == SAKD_OK && i < c; i++) {
            mean[i] = fm[i];
            sqdev[i] = fq[i];
        }
    }
    /* The triples (count, mean, Σ(x − mean)²) of every rank, rank after rank. */
    double *trip = NULL;
    if (st == SAKD_OK && !(trip = malloc(3 * c * sizeof *trip)))
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for synchronized BN statistics");
    for (size_t i = 0; st == SAKD_OK && i < c; i++) {
        trip[3 * i] = (double)(n * p);
        trip[3 * i + 1] = mean[i];
        trip[3 * i + 2] = sqdev[i];
    }
    if (st == SAKD_OK)
        st = sakd_dist_gather_doubles(group, trip, 3 * c, b.all);
    free(trip);
    if (st == SAKD_OK)
        st = sakd_tensor_download(running_mean, rm);
    if (st == SAKD_OK)
        st = sakd_tensor_download(running_var, rv);
    for (size_t i = 0; st == SAKD_OK && i < c; i++) {
        double cnt = 0.0, mu = 0.0, q = 0.0;
        for (int r = 0; r < ranks; r++) {
            const double *t = b.all + ((size_t)r * c + i) * 3;
            double tot = cnt + t[0];
            if (t[0] == 0.0)
                continue;
            double d = t[1] - mu, f = t[0] / tot;
            mu += d * f;
            q += t[2] + d * d * cnt * f;
            cnt = tot;
        }
        double var = q / cnt;
        fm[i] = (float)mu;
        fq[i] = (float)(1.0 / sqrt(var + (double)eps));
        rm[i] = (1.0f - momentum) * rm[i] + momentum * fm[i];
        rv[i] = (1.0f - momentum) * rv[i] + momentum * (float)(var * cnt / (cnt - 1.0));
    }
    if (st == SAKD_OK)
        st = sakd_tensor_upload(save_mean, fm);
    if (st == SAKD_OK)
        st = sakd_tensor_upload(save_invstd, fq);
    if (st == SAKD_OK)
        st = sakd_tensor_upload(running_mean, rm);
    if (st == SAKD_OK)
        st = sakd_tensor_upload(running_var, rv);
    sync_buf_free(&b);
    SAKD_TRY(st);
    if (host)
        return sakd_batchnorm_host_normalize(out, save_mean, save_invstd, in, gamma, beta, n, c, p);
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_fwd", &k));
    cl_ulong yo = out->offset, smo = save_mean->offset, sio = save_invstd->offset, xo = in->offset,
             go = gamma->offset, bo = beta->offset;
    return SAKD_LAUNCH_ROWS(ctx, k, p, n * c, SAKD_ARG(out->buf), SAKD_ARG(yo),
                            SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
                            SAKD_ARG(sio), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ARG(gamma->buf),
                            SAKD_ARG(go), SAKD_ARG(beta->buf), SAKD_ARG(bo), SAKD_ULONG(n),
                            SAKD_ULONG(c), SAKD_ULONG(p));
}

sakd_status sakd_batchnorm_forward(sakd_tensor *out, sakd_tensor *save_mean,
                                   sakd_tensor *save_invstd, sakd_tensor *running_mean,
                                   sakd_tensor *running_var, const sakd_tensor *in,
                                   const sakd_tensor *gamma, const sakd_tensor *beta, int train,
                                   float momentum, float eps)
{
    const char *op = "batchnorm_forward";
    size_t n, c, p;
    SAKD_TRY(bn_sizes(op, in, &n, &c, &p));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "output", out, "input", in));
    SAKD_TRY(bn_layout(op, in, "output", out, NULL, NULL));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_mean", save_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_invstd", save_invstd, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "running_mean", running_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "running_var", running_var, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "gamma", gamma, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "beta", beta, 1, &c));
    if (train && n * p < 2)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s' has 1 value per channel; training needs more than 1", op,
                          in->name);
    if (!(eps > 0.0f))
        return sakd_error(SAKD_ERR_ARG, "%s: eps %g must be positive", op, (double)eps);
    sakd_ctx *ctx = in->ctx;
    sakd_dist *group = train ? sync_group(ctx) : NULL;
    if (group)
        return sync_forward(group, out, save_mean, save_invstd, running_mean, running_var, in,
                            gamma, beta, momentum, eps, n, c, p);
    if (sakd_host_active(ctx))
        return sakd_batchnorm_host_forward(out, save_mean, save_invstd, running_mean, running_var,
                                           in, gamma, beta, train, momentum, eps, n, c, p);
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_ulong smo = save_mean->offset, sio = save_invstd->offset, rmo = running_mean->offset,
             rvo = running_var->offset, xo = in->offset;
    if (train) {
        cl_kernel k;
        SAKD_TRY(sakd_reduce_kernel(ctx, "bn", "bn_stats", &ro, &k));
        SAKD_TRY(SAKD_LAUNCH_GROUPS(
            ctx, k, c, ro.wg, SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
            SAKD_ARG(sio), SAKD_ARG(running_mean->buf), SAKD_ARG(rmo), SAKD_ARG(running_var->buf),
            SAKD_ARG(rvo), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ULONG(n), SAKD_ULONG(c),
            SAKD_ULONG(p), SAKD_ARG(momentum), SAKD_ARG(eps)));
    } else {
        cl_kernel k;
        SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_eval_stats", &k));
        SAKD_TRY(SAKD_LAUNCH_1D(
            ctx, k, c, SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
            SAKD_ARG(sio), SAKD_ARG(running_mean->buf), SAKD_ARG(rmo), SAKD_ARG(running_var->buf),
            SAKD_ARG(rvo), SAKD_ULONG(c), SAKD_ARG(eps)));
    }
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_fwd", &k));
    cl_ulong yo = out->offset, go = gamma->offset, bo = beta->offset;
    return SAKD_LAUNCH_ROWS(ctx, k, p, n * c, SAKD_ARG(out->buf), SAKD_ARG(yo),
                            SAKD_ARG(save_mean->buf), SAKD_ARG(smo), SAKD_ARG(save_invstd->buf),
                            SAKD_ARG(sio), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ARG(gamma->buf),
                            SAKD_ARG(go), SAKD_ARG(beta->buf), SAKD_ARG(bo), SAKD_ULONG(n),
                            SAKD_ULONG(c), SAKD_ULONG(p));
}

static sakd_status backward_local(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                  sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                  const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                  const sakd_tensor *in, const sakd_tensor *gamma, int train);

/* grad_in = gamma·invstd·(gy − sum_gb·inv_m − x̂·sum_gg·inv_m) (train) or gamma·invstd·gy, on
 * the device (bn_bwd). */
static sakd_status device_grad_in(sakd_tensor *grad_in, const sakd_tensor *sum_gg,
                                  const sakd_tensor *sum_gb, const sakd_tensor *save_mean,
                                  const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                  const sakd_tensor *in, const sakd_tensor *gamma, int train,
                                  float inv_m, size_t n, size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "bn", ro.options, "bn_bwd", &k));
    cl_ulong gxo = grad_in->offset, go = gamma->offset, ggo = sum_gg->offset, gbo = sum_gb->offset,
             smo = save_mean->offset, sio = save_invstd->offset, gyo = grad_out->offset,
             xo = in->offset;
    return SAKD_LAUNCH_ROWS(
        ctx, k, p, n * c, SAKD_ARG(grad_in->buf), SAKD_ARG(gxo), SAKD_ARG(sum_gg->buf),
        SAKD_ARG(ggo), SAKD_ARG(sum_gb->buf), SAKD_ARG(gbo), SAKD_ARG(save_mean->buf),
        SAKD_ARG(smo), SAKD_ARG(save_invstd->buf), SAKD_ARG(sio), SAKD_ARG(grad_out->buf),
        SAKD_ARG(gyo), SAKD_ARG(in->buf), SAKD_ARG(xo), SAKD_ARG(gamma->buf), SAKD_ARG(go),
        SAKD_ULONG(n), SAKD_ULONG(c), SAKD_ULONG(p), SAKD_INT(train != 0), SAKD_ARG(inv_m));
}

/* Train mode with synchronized statistics: grad_gamma and grad_beta stay this rank's sums
 * (the gradient all-reduce of the trainer averages them, as it does every parameter's), while
 * grad_in takes Σ gy and Σ gy·x̂ over every rank's batch (summed in rank order) and the global
 * count: the gradient of the normalization by the global statistics. */
static sakd_status sync_backward(sakd_dist *group, sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                 sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                 const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                 const sakd_tensor *in, const sakd_tensor *gamma, size_t n,
                                 size_t c, size_t p)
{
    sakd_ctx *ctx = in->ctx;
    SAKD_TRY(backward_local(NULL, grad_gamma, grad_beta, save_mean, save_invstd, grad_out, in,
                            gamma, 1));
    if (!grad_in)
        return SAKD_OK;
    double *sums = malloc((2 * c + 1) * sizeof *sums);
    float *f = malloc(2 * c * sizeof *f);
    sakd_tensor tg = {0}, tb = {0};
    sakd_status st =
        sums && f ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory for synchronized BN");
    if (st == SAKD_OK)
        st = sakd_tensor_download(grad_gamma, f);
    if (st == SAKD_OK)
        st = sakd_tensor_download(grad_beta, f + c);
    for (size_t i = 0; st == SAKD_OK && i < 2 * c; i++)
        sums[i] = f[i];
    if (st == SAKD_OK) {
        sums[2 * c] = (double)(n * p);
        st = sakd_dist_sum_doubles(group, sums, 2 * c + 1);
    }
    for (size_t i = 0; st == SAKD_OK && i < 2 * c; i++)
        f[i] = (float)sums[i];
    float inv_m = st == SAKD_OK ? (float)(1.0 / sums[2 * c]) : 0.0f;
    if (st == SAKD_OK && sakd_host_active(ctx)) {
        st = sakd_batchnorm_host_grad_in(grad_in, f, f + c, save_mean, save_invstd, grad_out, in,
                                         gamma, inv_m, n, c, p);
    } else if (st == SAKD_OK) {
        st = sakd_tensor_new(&tg, ctx, "synchronized BN grad_gamma", 1, &c);
        if (st == SAKD_OK)
            st = sakd_tensor_new(&tb, ctx, "synchronized BN grad_beta", 1, &c);
        if (st == SAKD_OK)
            st = sakd_tensor_upload(&tg, f);
        if (st == SAKD_OK)
            st = sakd_tensor_upload(&tb, f + c);
        if (st == SAKD_OK)
            st = device_grad_in(grad_in, &tg, &tb, save_mean, save_invstd, grad_out, in, gamma, 1,
                                inv_m, n, c, p);
        if (st == SAKD_OK)
            st = sakd_ctx_finish(ctx); /* the temporaries are read by the kernel */
    }
    sakd_tensor_free(&tg);
    sakd_tensor_free(&tb);
    free(sums);
    free(f);
    return st;
}

/* The backward pass over this rank's batch alone. */
static sakd_status backward_local(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                  sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                  const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                  const sakd_tensor *in, const sakd_tensor *gamma, int train)
{
    const char *op = "batchnorm_backward";
    size_t n, c, p;
    SAKD_TRY(bn_sizes(op, in, &n, &c, &p));
    SAKD_TRY(sakd_tensor_require_same_shape(op, "grad_out", grad_out, "input", in));
    if (grad_in)
        SAKD_TRY(sakd_tensor_require_same_shape(op, "grad_in", grad_in, "input", in));
    SAKD_TRY(bn_layout(op, in, "grad_out", grad_out, "grad_in", grad_in));
    SAKD_TRY(sakd_tensor_require_shape(op, "grad_gamma", grad_gamma, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "grad_beta", grad_beta, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_mean", save_mean, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "save_invstd", save_invstd, 1, &c));
    SAKD_TRY(sakd_tensor_require_shape(op, "gamma", gamma, 1, &c));
    sakd_ctx *ctx = in->ctx;
    if (sakd_host_active(ctx))
        return sakd_batchnorm_host_backward(grad_in, grad_gamma, grad_beta, save_mean, save_invstd,
                                            grad_out, in, gamma, train, n, c, p);
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    cl_kernel kr;
    SAKD_TRY(sakd_reduce_kernel(ctx, "bn", "bn_bwd_reduce", &ro, &kr));
    cl_ulong ggo = grad_gamma->offset, gbo = grad_beta->offset, smo = save_mean->offset,
             sio = save_invstd->offset, gyo = grad_out->offset, xo = in->offset;
    SAKD_TRY(SAKD_LAUNCH_GROUPS(ctx, kr, c, ro.wg, SAKD_ARG(grad_gamma->buf), SAKD_ARG(ggo),
                                SAKD_ARG(grad_beta->buf), SAKD_ARG(gbo), SAKD_ARG(save_mean->buf),
                                SAKD_ARG(smo), SAKD_ARG(save_invstd->buf), SAKD_ARG(sio),
                                SAKD_ARG(grad_out->buf), SAKD_ARG(gyo), SAKD_ARG(in->buf),
                                SAKD_ARG(xo), SAKD_ULONG(n), SAKD_ULONG(c), SAKD_ULONG(p)));
    if (!grad_in)
        return SAKD_OK;
    return device_grad_in(grad_in, grad_gamma, grad_beta, save_mean, save_invstd, grad_out, in,
                          gamma, train, 1.0f / (float)(n * p), n, c, p);
}

sakd_status sakd_batchnorm_backward(sakd_tensor *grad_in, sakd_tensor *grad_gamma,
                                    sakd_tensor *grad_beta, const sakd_tensor *save_mean,
                                    const sakd_tensor *save_invstd, const sakd_tensor *grad_out,
                                    const sakd_tensor *in, const sakd_tensor *gamma, int train)
{
    sakd_dist *group = train ? sync_group(in ? in->ctx : NULL) : NULL;
    if (!group)
        return backward_local(grad_in, grad_gamma, grad_beta, save_mean, save_invstd, grad_out, in,
                              gamma, train);
    const char *op = "batchnorm_backward";
    size_t n, c, p;
    SAKD_TRY(bn_sizes(op, in, &n, &c, &p));
    SAKD_TRY(bn_layout(op, in, "grad_out", grad_out, "grad_in", grad_in));
    return sync_backward(group, grad_in, grad_gamma, grad_beta, save_mean, save_invstd, grad_out,
                         in, gamma, n, c, p);
}
