/* conv.c — host launchers of 2-D convolution: cl/conv.cl for the layout kernels, CLBlast for the
 * GEMMs (see conv.h for the layout). */
#include "ops/conv.h"
#include "ops/ops_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_dnnl.h"
#include "ops/conv_host.h"
#include "ops/gemm.h"
#include "ops/host.h"
#include "ops/reduce.h"
#include "runtime/program.h"

/* Sizes of one convolution, taken from the tensors. */
typedef struct conv_geom {
    size_t n, cin, h, w, cout, kh, kw, ho, wo;
    size_t P, K; /* Ho·Wo, Cin·kh·kw */
    size_t nc;   /* samples per GEMM chunk */
} conv_geom;

size_t sakd_conv2d_out_size(size_t in, size_t k, size_t stride, size_t pad)
{
    if (stride == 0 || in + 2 * pad < k)
        return 0;
    return (in + 2 * pad - k) / stride + 1;
}

/* The weight gradient's reduction over n·Ho·Wo columns is split into at most SPLITK_MAX
 * slices of at least SPLITK_MIN_COLS columns, run as one batched GEMM and summed in slice
 * order: a single GEMM with a long reduction and a small output parallelizes poorly. */
#define SPLITK_MAX 8
/* From this many output pixels per image on, the forward GEMM runs batched per sample straight
 * into NCHW (as fast as one large GEMM there, and no permute); below, one GEMM and a permute. */
#define DIRECT_NCHW_MIN_P 128
#define SPLITK_MIN_COLS 2048

size_t sakd_conv2d_workspace_floats(size_t n_chunk, size_t cin, size_t cout, size_t kh, size_t kw,
                                    size_t ho, size_t wo)
{
    return n_chunk * ho * wo * (cin * kh * kw + cout) + SPLITK_MAX * cout * cin * kh * kw;
}

/* Sizes from input and weight, checked against each other, the parameters and the workspace. */
static sakd_status conv_geometry(const char *op, const sakd_tensor *in, const sakd_tensor *weight,
                                 const sakd_tensor *workspace, const sakd_conv2d_params *p,
                                 conv_geom *g)
{
    SAKD_TRY(sakd_tensor_require(op, "input", in));
    SAKD_TRY(sakd_tensor_require(op, "weight", weight));
    SAKD_TRY(sakd_tensor_require(op, "workspace", workspace));
    if (!p)
        return sakd_error(SAKD_ERR_ARG, "%s: no parameters given", op);
    char si[96], sw[96];
    sakd_tensor_shape_str(in, si, sizeof si);
    sakd_tensor_shape_str(weight, sw, sizeof sw);
    if (in->ndim != 4)
        return sakd_error(SAKD_ERR_ARG, "%s: input '%s' has shape %s, expected [N, Cin, H, W]", op,
                          in->name, si);
    if (weight->ndim != 4)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: weight '%s' has shape %s, expected [Cout, Cin, kh, kw]", op,
                          weight->name, sw);
    if (in->shape[1] != weight->shape[1])
        return sakd_error(SAKD_ERR_ARG,
                          "%s: input '%s' %s has %zu channels, weight '%s' %s expects %zu", op,
                          in->name, si, in->shape[1], weight->name, sw, weight->shape[1]);
    if (p->stride_h == 0 || p->stride_w == 0)
        return sakd_error(SAKD_ERR_ARG, "%s: stride %zux%zu must be at least 1", op, p->stride_h,
                          p->stride_w);
    *g = (conv_geom){.n = in->shape[0],
                     .cin = in->shape[1],
                     .h = in->shape[2],
                     .w = in->shape[3],
                     .cout = weight->shape[0],
                     .kh = weight->shape[2],
                     .kw = weight->shape[3]};
    g->ho = sakd_conv2d_out_size(g->h, g->kh, p->stride_h, p->pad_h);
    g->wo = sakd_conv2d_out_size(g->w, g->kw, p->stride_w, p->pad_w);
    if (g->ho == 0 || g->wo == 0 || g->cout == 0 || g->cin == 0)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: weight '%s' %s does not fit input '%s' %s with padding %zux%zu", op,
                          weight->name, sw, in->name, si, p->pad_h, p->pad_w);
    g->P = g->ho * g->wo;
    g->K = g->cin * g->kh * g->kw;
    size_t one = sakd_conv2d_workspace_floats(1, g->cin, g->cout, g->kh, g->kw, g->ho, g->wo);
    size_t have = sakd_tensor_numel(workspace), partials = SPLITK_MAX * g->cout * g->K;
    size_t per_sample = g->P * (g->K + g->cout);
    if (have < one)
        return sakd_error(SAKD_ERR_ARG, "%s: workspace '%s' holds %zu floats, at least %zu needed",
                          op, workspace->name, have, one);
    g->nc = (have - partials) / per_sample < g->n ? (have - partials) / per_sample : g->n;
    /* im2col indexes a chunk's K·nc·P columns in 32 bits. */
    size_t max_nc = (size_t)UINT32_MAX / (g->K * g->P);
    if (max_nc == 0)
        return sakd_error(SAKD_ERR_ARG, "%s: one image's columns (%zu x %zu) exceed 2^32", op, g->K,
                          g->P);
    if (g->nc > max_nc)
        g->nc = max_nc;
    return SAKD_OK;
}

/* Sizes as the kernels take them. */
typedef struct conv_args {
    cl_ulong cin, h, w, kh, kw, sh, sw, ph, pw, ho, wo, cout, P;
} conv_args;

static sakd_conv_host_geom host_geom(const conv_geom *g, const sakd_conv2d_params *p)
{
    return (sakd_conv_host_geom){g->n,     g->cin, g->h,        g->w,        g->cout,
                                 g->kh,    g->kw,  p->stride_h, p->stride_w, p->pad_h,
                                 p->pad_w, g->ho,  g->wo};
}

/* sakd_ops_state.conv_route */
enum { ROUTE_UNSET, ROUTE_IM2COL, ROUTE_ONEDNN, ROUTE_ONEDNN_KXK };

const char *sakd_conv_provider_names(void)
{
    return "auto, im2col, onednn";
}

sakd_status sakd_conv_provider_set(sakd_ctx *ctx, const char *request)
{
    const char *from = "the request";
    if (!request || !*request) {
        request = getenv("SAKD_CONV_PROVIDER");
        from = "SAKD_CONV_PROVIDER";
    }
    if (!request || !*request)
        request = "auto";
    int host = sakd_host_active(ctx);
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (strcmp(request, "im2col") == 0) {
        os->conv_route = ROUTE_IM2COL;
        snprintf(os->conv_route_why, sizeof os->conv_route_why, "requested");
    } else if (strcmp(request, "onednn") == 0) {
        if (sakd_conv_dnnl_load() != SAKD_OK)
            return sakd_error(SAKD_ERR_NOT_FOUND, "convolution provider 'onednn' (from %s): %s",
                              from, sakd_error_detail());
        if (!host)
            return sakd_error(SAKD_ERR_ARG,
                              "convolution provider 'onednn' (from %s) needs the host GEMM "
                              "provider (a CPU device sharing host memory); %s uses %s",
                              from, ctx->info.name, sakd_gemm_provider_name(ctx));
        os->conv_route = ROUTE_ONEDNN;
        snprintf(os->conv_route_why, sizeof os->conv_route_why, "requested");
    } else if (strcmp(request, "auto") == 0) {
        int ok = sakd_conv_dnnl_load() == SAKD_OK;
        os->conv_route = ok ? ROUTE_ONEDNN_KXK : ROUTE_IM2COL;
        snprintf(os->conv_route_why, sizeof os->conv_route_why, "auto%s%s", ok ? "" : ": ",
                 ok ? "" : sakd_error_detail());
        sakd_error_clear();
    } else {
        return sakd_error(SAKD_ERR_ARG,
                          "unknown convolution provider '%s' (from %s); expected one of %s",
                          request, from, sakd_conv_provider_names());
    }
    return SAKD_OK;
}

/* The context's convolution route, chosen by SAKD_CONV_PROVIDER (else auto) on first use. */
static sakd_status route(sakd_ctx *ctx, int *r)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (os->conv_route == ROUTE_UNSET)
        SAKD_TRY(sakd_conv_provider_set(ctx, NULL));
    *r = os->conv_route;
    return SAKD_OK;
}

void sakd_conv_provider_describe(sakd_ctx *ctx, char *buf, size_t size)
{
    if (!sakd_host_active(ctx)) {
        snprintf(buf, size, "im2col + %s GEMMs", sakd_gemm_provider_name(ctx));
        return;
    }
    int r;
    if (route(ctx, &r) != SAKD_OK) {
        snprintf(buf, size, "none (%s)", sakd_error_detail());
        return;
    }
    const char *why = sakd_ops_state_peek(ctx)->conv_route_why;
    char d[96];
    sakd_conv_dnnl_describe(d, sizeof d);
    switch (r) {
    case ROUTE_ONEDNN: snprintf(buf, size, "%s [%s]", d, why); break;
    case ROUTE_ONEDNN_KXK:
        snprintf(buf, size, "%s for kernels above 1x1, 1x1 as host GEMMs [%s]", d, why);
        break;
    default: snprintf(buf, size, "im2col + host GEMMs [%s]", why);
    }
}

int sakd_conv_provider_uses_onednn(sakd_ctx *ctx)
{
    if (!sakd_host_active(ctx))
        return 0;
    int r;
    if (route(ctx, &r) != SAKD_OK) {
        sakd_error_clear();
        return 0;
    }
    return r == ROUTE_ONEDNN || r == ROUTE_ONEDNN_KXK;
}

/* 1 when this host-provider convolution goes to oneDNN. */
static sakd_status use_dnnl(sakd_ctx *ctx, const conv_geom *g, int *yes)
{
    int r;
    SAKD_TRY(route(ctx, &r));
    *yes = r == ROUTE_ONEDNN || (r == ROUTE_ONEDNN_KXK && g->kh * g->kw > 1);
    return SAKD_OK;
}

/* A layout the host provider's im2col route takes for activation t of `channels` channels:
 * plain, or blocked by 8 or 16 where the block divides them (gathered per sample). */
static sakd_status host_layout(const char *op, const sakd_tensor *t, size_t channels)
{
    if (!t || !t->layout)
        return SAKD_OK;
    if ((t->layout != 8 && t->layout != 16) || channels % (size_t)t->layout)
        return sakd_error(SAKD_ERR_ARG,
                          "%s: tensor '%s' has layout %d; the convolution takes 0, or a block of "
                          "8 or 16 dividing its %zu channels",
                          op, t->name, t->layout, channels);
    return SAKD_OK;
}

/* Channel-blocked activations (runtime/tensor.h) exist on the host provider only. */
static sakd_status require_plain(const char *op, const sakd_tensor *a, const sakd_tensor *b,
                                 const sakd_tensor *c)
{
    const sakd_tensor *t[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (t[i] && t[i]->layout)
            return sakd_error(SAKD_ERR_ARG,
                              "%s: tensor '%s' is channel-blocked by %d; only the host provider "
                              "takes that layout",
                              op, t[i]->name, t[i]->layout);
    return SAKD_OK;
}

sakd_status sakd_conv2d_native_layouts(sakd_ctx *ctx, const size_t *in_shape,
                                       const size_t *weight_shape, const sakd_conv2d_params *p,
                                       int bias, int *in_blk, int *out_blk)
{
    *in_blk = *out_blk = 0;
    if (!sakd_host_active(ctx))
        return SAKD_OK;
    conv_geom g = {0};
    g.n = in_shape[0];
    g.cin = in_shape[1];
    g.h = in_shape[2];
    g.w = in_shape[3];
    g.cout = weight_shape[0];
    g.kh = weight_shape[2];
    g.kw = weight_shape[3];
    g.ho = sakd_conv2d_out_size(g.h, g.kh, p->stride_h, p->pad_h);
    g.wo = sakd_conv2d_out_size(g.w, g.kw, p->stride_w, p->pad_w);
    int dnnl;
    SAKD_TRY(use_dnnl(ctx, &g, &dnnl));
    if (!dnnl)
        return SAKD_OK;
    sakd_conv_host_geom hg = host_geom(&g, p);
    return sakd_conv2d_dnnl_native(ctx, &hg, bias, in_blk, out_blk);
}

static conv_args kernel_sizes(const conv_geom *g, const sakd_conv2d_params *p)
{
    return (conv_args){g->cin,   g->h,     g->w,  g->kh, g->kw,   p->stride_h, p->stride_w,
                       p->pad_h, p->pad_w, g->ho, g->wo, g->cout, g->P};
}

/* cols [K, nc·P] of samples n0 … n0 + nc − 1 into the workspace (offset 0). */
static sakd_status im2col(sakd_ctx *ctx, const sakd_reduce_opts *ro, sakd_tensor *ws,
                          const sakd_tensor *in, const conv_geom *g, const conv_args *a,
                          cl_ulong n0, cl_ulong nc)
{
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "conv", ro->options, "conv2d_im2col", &k));
    cl_ulong io = in->offset;
    return SAKD_LAUNCH_1D(ctx, k, g->K * nc * g->ho, SAKD_ARG(ws->buf), SAKD_ULONG(ws->offset),
                          SAKD_ARG(in->buf), SAKD_ARG(io), SAKD_ARG(n0), SAKD_ARG(nc),
                          SAKD_ARG(a->cin), SAKD_ARG(a->h), SAKD_ARG(a->w), SAKD_ARG(a->kh),
                          SAKD_ARG(a->kw), SAKD_ARG(a->sh), SAKD_ARG(a->sw), SAKD_ARG(a->ph),
                          SAKD_ARG(a->pw), SAKD_ARG(a->ho), SAKD_ARG(a->wo));
}

/* The layout permutes between NCHW tensors and the channel-major chunks the GEMMs use, named for
 * what they do (conv.cl's conv2d_out_fwd and conv2d_gout_bwd serve every permute). A chunk holds
 * samples n0 … n0 + nc − 1 as [C, nc·P] at `off` in the workspace. */

/* nchw[n0 + nl, c, p] = chunk[c, nl·P + p] (+ bias[c] when bias is not NULL). */
static sakd_status nchw_from_chunk(sakd_ctx *ctx, const sakd_reduce_opts *ro,
                                   const sakd_tensor *nchw, const sakd_tensor *ws, cl_ulong off,
                                   const sakd_tensor *bias, size_t n0, size_t nc, size_t c,
                                   size_t P)
{
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "conv", ro->options, "conv2d_out_fwd", &k));
    const sakd_tensor *b = bias ? bias : nchw; /* any valid buffer when there is no bias */
    return SAKD_LAUNCH_ROWS(ctx, k, P, nc * c, SAKD_ARG(nchw->buf), SAKD_ULONG(nchw->offset),
                            SAKD_ARG(ws->buf), SAKD_ARG(off), SAKD_ARG(b->buf),
                            SAKD_ULONG(b->offset), SAKD_INT(bias != NULL), SAKD_ULONG(n0),
                            SAKD_ULONG(nc), SAKD_ULONG(c), SAKD_ULONG(P));
}

/* chunk[c, nl·P + p] = nchw[n0 + nl, c, p]. */
static sakd_status chunk_from_nchw(sakd_ctx *ctx, const sakd_reduce_opts *ro, const sakd_tensor *ws,
                                   cl_ulong off, const sakd_tensor *nchw, size_t n0, size_t nc,
                                   size_t c, size_t P)
{
    cl_kernel k;
    SAKD_TRY(sakd_kernel_get(ctx, "conv", ro->options, "conv2d_gout_bwd", &k));
    return SAKD_LAUNCH_ROWS(ctx, k, P, c * nc, SAKD_ARG(ws->buf), SAKD_ARG(off),
                            SAKD_ARG(nchw->buf), SAKD_ULONG(nchw->offset), SAKD_ULONG(n0),
                            SAKD_ULONG(nc), SAKD_ULONG(c), SAKD_ULONG(P));
}

sakd_status sakd_conv2d_forward(sakd_tensor *out, sakd_tensor *workspace, const sakd_tensor *in,
                                const sakd_tensor *weight, const sakd_tensor *bias,
                                const sakd_conv2d_params *p)
{
    const char *op = "conv2d_forward";
    conv_geom g;
    SAKD_TRY(conv_geometry(op, in, weight, workspace, p, &g));
    SAKD_TRY(sakd_tensor_require_shape(op, "output", out, 4, (size_t[]){g.n, g.cout, g.ho, g.wo}));
    if (bias)
        SAKD_TRY(sakd_tensor_require_shape(op, "bias", bias, 1, &g.cout));
    sakd_ctx *ctx = in->ctx;
    if (sakd_host_active(ctx)) {
        sakd_conv_host_geom hg = host_geom(&g, p);
        int dnnl;
        SAKD_TRY(use_dnnl(ctx, &g, &dnnl));
        if (dnnl)
            return sakd_conv2d_dnnl_forward(out, in, weight, bias, &hg);
        SAKD_TRY(host_layout(op, in, g.cin));
        SAKD_TRY(host_layout(op, out, g.cout));
        return sakd_conv2d_host_forward(out, in, weight, bias, &hg);
    }
    SAKD_TRY(require_plain(op, in, out, NULL));
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    conv_args a = kernel_sizes(&g, p);
    for (size_t n0 = 0; n0 < g.n; n0 += g.nc) {
        cl_ulong nc = g.n - n0 < g.nc ? g.n - n0 : g.nc;
        size_t ncp = nc * g.P;
        SAKD_TRY(im2col(ctx, &ro, workspace, in, &g, &a, n0, nc));
        cl_ulong tmp_off = workspace->offset + g.K * ncp;
        if (!bias && g.P >= DIRECT_NCHW_MIN_P) {
            /* y[n0 + nl] as [Cout, P] = W[Cout, K] · cols[K, nl·P … (nl + 1)·P): one batched
             * GEMM writes NCHW directly, no permute. */
            SAKD_TRY(sakd_gemm_batched(
                ctx, 0, 0, g.cout, g.P, g.K, 1.0f, (sakd_mat){weight->buf, weight->offset, g.K}, 0,
                (sakd_mat){workspace->buf, workspace->offset, ncp}, g.P, 0.0f,
                (sakd_mat){out->buf, out->offset + n0 * g.cout * g.P, g.P}, g.cout * g.P, nc));
            continue;
        }
        /* tmp[Cout, nc·P] = W[Cout, K] · cols[K, nc·P] */
        SAKD_TRY(sakd_gemm(ctx, 0, 0, g.cout, ncp, g.K, 1.0f,
                           (sakd_mat){weight->buf, weight->offset, g.K},
                           (sakd_mat){workspace->buf, workspace->offset, ncp}, 0.0f,
                           (sakd_mat){workspace->buf, tmp_off, ncp}));
        SAKD_TRY(nchw_from_chunk(ctx, &ro, out, workspace, tmp_off, bias, n0, nc, g.cout, g.P));
    }
    return SAKD_OK;
}

/* One chunk of backward_as_conv: samples n0 … n0 + nc − 1 of g, gy's columns gyc ([Cout·KH·KW,
 * nc·H·W]) at gyc_off in the workspace, free space `after` them and in its split-K part. */
typedef struct as_conv {
    sakd_ctx *ctx;
    sakd_reduce_opts ro;
    const conv_geom *g;
    sakd_tensor *ws;
    size_t n0, nc;
    size_t hw, kt; /* H·W, Cout·KH·KW */
    int direct;    /* images of hw >= DIRECT_NCHW_MIN_P: x and grad x straight in NCHW */
    cl_ulong gyc_off, after, split_off;
} as_conv;

/* Whether backward_as_conv takes nc samples of g (see there). */
static int fits_as_conv(const conv_geom *g, const sakd_conv2d_params *p, size_t nc)
{
    size_t hw = g->h * g->w, kt = g->cout * g->kh * g->kw;
    int direct = hw >= DIRECT_NCHW_MIN_P;
    size_t need = (kt + (direct ? 0 : g->cin)) * nc * hw;
    return !(p->stride_h != 1 || p->stride_w != 1 || p->pad_h >= g->kh || p->pad_w >= g->kw ||
             need > nc * g->P * (g->K + g->cout) || kt * nc * hw > (size_t)UINT32_MAX);
}

/* gyc: the im2col of gy (Cout channels of Ho x Wo in, H x W out, stride 1, padding KH − 1 − ph,
 * KW − 1 − pw) of c's samples, at c->gyc_off. */
static sakd_status gy_columns(const as_conv *c, const sakd_tensor *grad_out,
                              const sakd_conv2d_params *p)
{
    const conv_geom *g = c->g;
    conv_geom t = *g;
    t.cin = g->cout;
    t.h = g->ho;
    t.w = g->wo;
    t.ho = g->h;
    t.wo = g->w;
    t.P = c->hw;
    t.K = c->kt;
    sakd_conv2d_params tp = {1, 1, g->kh - 1 - p->pad_h, g->kw - 1 - p->pad_w};
    conv_args ta = kernel_sizes(&t, &tp);
    return im2col(c->ctx, &c->ro, c->ws, grad_out, &t, &ta, c->n0, c->nc);
}

/* The weight gradient's partial products of c's samples, *S of [Cin, Cout·KH·KW] at *part_off:
 * direct, partial[b] = x[n0 + r0 + b] · gyc[r0 + b]^T, rounds r0 of S samples accumulated;
 * else x permuted to [Cin, nc·H·W] after the columns, then S slices of the reduction. */
static sakd_status as_conv_partials(const as_conv *c, const sakd_tensor *in, cl_ulong *part_off,
                                    size_t *S)
{
    const conv_geom *g = c->g;
    sakd_tensor *ws = c->ws;
    size_t hw = c->hw, kt = c->kt, nc = c->nc, n0 = c->n0;
    size_t wn = g->cin * kt; /* one partial product */
    if (c->direct) {
        size_t avail = sakd_tensor_numel(ws) - kt * nc * hw;
        *S = avail / wn < nc ? avail / wn : nc;
        *part_off = c->after;
        for (size_t r0 = 0; r0 < nc; r0 += *S) {
            size_t cnt = nc - r0 < *S ? nc - r0 : *S;
            SAKD_TRY(sakd_gemm_batched(
                c->ctx, 0, 1, g->cin, kt, hw, 1.0f,
                (sakd_mat){in->buf, in->offset + (n0 + r0) * g->cin * hw, hw}, g->cin * hw,
                (sakd_mat){ws->buf, c->gyc_off + r0 * hw, nc * hw}, hw, r0 ? 1.0f : 0.0f,
                (sakd_mat){ws->buf, *part_off, kt}, wn, cnt));
        }
        return SAKD_OK;
    }
    SAKD_TRY(chunk_from_nchw(c->ctx, &c->ro, ws, c->after, in, n0, nc, g->cin, hw));
    size_t ncp = nc * hw;
    *S = ncp / SPLITK_MIN_COLS < SPLITK_MAX ? ncp / SPLITK_MIN_COLS : SPLITK_MAX;
    if (*S < 1)
        *S = 1;
    size_t kc = ncp / *S, rest = ncp - *S * kc;
    *part_off = c->split_off;
    SAKD_TRY(sakd_gemm_batched(c->ctx, 0, 1, g->cin, kt, kc, 1.0f,
                               (sakd_mat){ws->buf, c->after, ncp}, kc,
                               (sakd_mat){ws->buf, c->gyc_off, ncp}, kc, 0.0f,
                               (sakd_mat){ws->buf, *part_off, kt}, wn, *S));
    if (rest) /* the last columns, added into slice 0 */
        SAKD_TRY(sakd_gemm(c->ctx, 0, 1, g->cin, kt, rest, 1.0f,
                           (sakd_mat){ws->buf, c->after + *S * kc, ncp},
                           (sakd_mat){ws->buf, c->gyc_off + *S * kc, ncp}, 1.0f,
                           (sakd_mat){ws->buf, *part_off, kt}));
    return SAKD_OK;
}

/* grad W (+)= the S partials at part_off, summed in order and flipped back. */
static sakd_status as_conv_sum(const as_conv *c, sakd_tensor *grad_weight, cl_ulong part_off,
                               size_t S)
{
    const conv_geom *g = c->g;
    cl_kernel ksum;
    SAKD_TRY(sakd_kernel_get(c->ctx, "conv", c->ro.options, "conv2d_splitk_sum_flip", &ksum));
    cl_ulong gwo = grad_weight->offset;
    cl_int acc = c->n0 != 0;
    return SAKD_LAUNCH_1D(c->ctx, ksum, g->cout * g->K, SAKD_ARG(grad_weight->buf), SAKD_ARG(gwo),
                          SAKD_ARG(c->ws->buf), SAKD_ARG(part_off), SAKD_ULONG(S),
                          SAKD_ULONG(g->cout), SAKD_ULONG(g->cin), SAKD_ULONG(g->kh),
                          SAKD_ULONG(g->kw), SAKD_ARG(acc));
}

/* grad x of c's samples = Wt · gyc, with the flipped weight Wt [Cin, Cout·KH·KW] in the split-K
 * part (the partials are summed by now: the queue is in order). */
static sakd_status as_conv_input_grad(const as_conv *c, sakd_tensor *grad_in,
                                      const sakd_tensor *weight)
{
    const conv_geom *g = c->g;
    sakd_tensor *ws = c->ws;
    size_t hw = c->hw, kt = c->kt, nc = c->nc, n0 = c->n0;
    cl_ulong wt_off = c->split_off;
    cl_kernel kf;
    SAKD_TRY(sakd_kernel_get(c->ctx, "conv", c->ro.options, "conv2d_weight_flip", &kf));
    SAKD_TRY(SAKD_LAUNCH_1D(c->ctx, kf, g->cout * g->K, SAKD_ARG(ws->buf), SAKD_ARG(wt_off),
                            SAKD_ARG(weight->buf), SAKD_ULONG(weight->offset), SAKD_ULONG(g->cout),
                            SAKD_ULONG(g->cin), SAKD_ULONG(g->kh), SAKD_ULONG(g->kw)));
    if (c->direct) {
        /* gx[n0 + nl] as [Cin, H·W] = Wt[Cin, Cout·KH·KW] · gyc[·, nl·H·W … (nl + 1)·H·W) */
        return sakd_gemm_batched(
            c->ctx, 0, 0, g->cin, hw, kt, 1.0f, (sakd_mat){ws->buf, wt_off, kt}, 0,
            (sakd_mat){ws->buf, c->gyc_off, nc * hw}, hw, 0.0f,
            (sakd_mat){grad_in->buf, grad_in->offset + n0 * g->cin * hw, hw}, g->cin * hw, nc);
    }
    /* tmp[Cin, nc·H·W] = Wt · gyc (over xperm, used), then gx in NCHW */
    SAKD_TRY(sakd_gemm(c->ctx, 0, 0, g->cin, nc * hw, kt, 1.0f, (sakd_mat){ws->buf, wt_off, kt},
                       (sakd_mat){ws->buf, c->gyc_off, nc * hw}, 0.0f,
                       (sakd_mat){ws->buf, c->after, nc * hw}));
    return nchw_from_chunk(c->ctx, &c->ro, grad_in, ws, c->after, NULL, n0, nc, g->cin, hw);
}

/* The backward pass of samples n0 … n0 + nc − 1 of a stride-1 convolution through the columns
 * of its output gradient: gyc = im2col of gy with padding KH − 1 − ph, KW − 1 − pw (H x W
 * positions, rows (co, i, j)) serves both gradients,
 *   grad x[n] = Wt · gyc[n],  Wt[ci, (co, i, j)] = W[co, ci, KH − 1 − i, KW − 1 − j]
 *   grad W[co, ci, i, j] (+)= Σ_n (x[n] · gyc[n]^T)[ci, (co, KH − 1 − i, KW − 1 − j)]
 * in place of an im2col of x, a permute of gy, and for grad x a TN GEMM writing K·nc·P columns
 * summed back by col2im. Taken where it fits: stride 1, padding below the kernel size, and gy's
 * columns (for small images also a [Cin, nc·H·W] block after them) within the columns and
 * output-gradient parts of the workspace, i.e. where it writes no more than the other way;
 * *done says whether it ran. The choice does not depend on grad_in, so grad W is the same with
 * or without grad x. Images of H·W >= DIRECT_NCHW_MIN_P take one batched GEMM per round of
 * samples straight from x in NCHW (one partial product per sample of a round, the rounds
 * accumulated in order); smaller ones a permute of x and a split-K GEMM as in the general way. */
static sakd_status backward_as_conv(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                    sakd_tensor *workspace, const sakd_tensor *grad_out,
                                    const sakd_tensor *in, const sakd_tensor *weight,
                                    const conv_geom *g, const sakd_conv2d_params *p, size_t n0,
                                    size_t nc, int *done)
{
    *done = 0;
    if (!fits_as_conv(g, p, nc))
        return SAKD_OK;
    as_conv c = {.ctx = grad_out->ctx, .g = g, .ws = workspace, .n0 = n0, .nc = nc};
    c.ro = sakd_reduce_options(c.ctx);
    c.hw = g->h * g->w;
    c.kt = g->cout * g->kh * g->kw;
    c.direct = c.hw >= DIRECT_NCHW_MIN_P;
    c.gyc_off = workspace->offset;
    c.after = workspace->offset + c.kt * nc * c.hw;
    /* The split-K part of the workspace: free until the weight gradient is summed. */
    c.split_off = workspace->offset + g->nc * g->P * (g->K + g->cout);
    SAKD_TRY(gy_columns(&c, grad_out, p));
    cl_ulong part_off;
    size_t S;
    SAKD_TRY(as_conv_partials(&c, in, &part_off, &S));
    SAKD_TRY(as_conv_sum(&c, grad_weight, part_off, S));
    *done = 1;
    if (!grad_in)
        return SAKD_OK;
    return as_conv_input_grad(&c, grad_in, weight);
}

/* Sizes of a backward pass, with every given tensor's shape checked against them. */
static sakd_status backward_geometry(const char *op, const sakd_tensor *grad_in,
                                     const sakd_tensor *grad_weight, const sakd_tensor *grad_bias,
                                     const sakd_tensor *workspace, const sakd_tensor *grad_out,
                                     const sakd_tensor *in, const sakd_tensor *weight,
                                     const sakd_conv2d_params *p, conv_geom *g)
{
    SAKD_TRY(conv_geometry(op, in, weight, workspace, p, g));
    SAKD_TRY(sakd_tensor_require_shape(op, "grad_out", grad_out, 4,
                                       (size_t[]){g->n, g->cout, g->ho, g->wo}));
    if (!grad_weight && grad_bias)
        return sakd_error(SAKD_ERR_ARG, "%s: a bias gradient ('%s') without the weight's", op,
                          grad_bias->name);
    if (grad_weight)
        SAKD_TRY(sakd_tensor_require_shape(op, "grad_weight", grad_weight, 4,
                                           (size_t[]){g->cout, g->cin, g->kh, g->kw}));
    if (grad_in)
        SAKD_TRY(sakd_tensor_require_shape(op, "grad_in", grad_in, 4,
                                           (size_t[]){g->n, g->cin, g->h, g->w}));
    if (grad_bias)
        SAKD_TRY(sakd_tensor_require_shape(op, "grad_bias", grad_bias, 1, &g->cout));
    return SAKD_OK;
}

/* grad b[co] = Σ over samples and positions of gy[·, co, ·]. */
static sakd_status bias_backward(sakd_ctx *ctx, const sakd_reduce_opts *ro, sakd_tensor *grad_bias,
                                 const sakd_tensor *grad_out, const conv_geom *g,
                                 const conv_args *a)
{
    cl_kernel kb;
    SAKD_TRY(sakd_reduce_kernel(ctx, "conv", "conv2d_bias_bwd", ro, &kb));
    cl_ulong gbo = grad_bias->offset, n = g->n, gyo = grad_out->offset;
    return SAKD_LAUNCH_GROUPS(ctx, kb, g->cout, ro->wg, SAKD_ARG(grad_bias->buf), SAKD_ARG(gbo),
                              SAKD_ARG(grad_out->buf), SAKD_ARG(gyo), SAKD_ARG(n),
                              SAKD_ARG(a->cout), SAKD_ARG(a->P));
}

/* grad W[Cout, K] (+)= gperm[Cout, nc·P] · cols[K, nc·P]^T for the chunk of samples from n0
 * (gperm and cols at gp_off and cols_off), chunks in ascending order; the reduction over nc·P
 * is split into S slices summed in order. */
static sakd_status weight_grad_chunk(sakd_ctx *ctx, const sakd_reduce_opts *ro,
                                     sakd_tensor *grad_weight, const sakd_tensor *workspace,
                                     const conv_geom *g, size_t n0, size_t ncp, cl_ulong gp_off,
                                     cl_ulong cols_off)
{
    size_t S = ncp / SPLITK_MIN_COLS < SPLITK_MAX ? ncp / SPLITK_MIN_COLS : SPLITK_MAX;
    if (S <= 1)
        return sakd_gemm(ctx, 0, 1, g->cout, g->K, ncp, 1.0f,
                         (sakd_mat){workspace->buf, gp_off, ncp},
                         (sakd_mat){workspace->buf, cols_off, ncp}, n0 == 0 ? 0.0f : 1.0f,
                         (sakd_mat){grad_weight->buf, grad_weight->offset, g->K});
    size_t kc = ncp / S, rest = ncp - S * kc, wn = g->cout * g->K;
    cl_ulong part_off = workspace->offset + g->nc * g->P * (g->K + g->cout);
    SAKD_TRY(sakd_gemm_batched(ctx, 0, 1, g->cout, g->K, kc, 1.0f,
                               (sakd_mat){workspace->buf, gp_off, ncp}, kc,
                               (sakd_mat){workspace->buf, cols_off, ncp}, kc, 0.0f,
                               (sakd_mat){workspace->buf, part_off, g->K}, wn, S));
    if (rest) /* the last columns, added into slice 0 */
        SAKD_TRY(sakd_gemm(ctx, 0, 1, g->cout, g->K, rest, 1.0f,
                           (sakd_mat){workspace->buf, gp_off + S * kc, ncp},
                           (sakd_mat){workspace->buf, cols_off + S * kc, ncp}, 1.0f,
                           (sakd_mat){workspace->buf, part_off, g->K}));
    cl_kernel ksum;
    SAKD_TRY(sakd_kernel_get(ctx, "conv", ro->options, "conv2d_splitk_sum", &ksum));
    cl_ulong gwo = grad_weight->offset;
    cl_int acc = n0 != 0;
    return SAKD_LAUNCH_1D(ctx, ksum, wn, SAKD_ARG(grad_weight->buf), SAKD_ARG(gwo),
                          SAKD_ARG(workspace->buf), SAKD_ARG(part_off), SAKD_ULONG(wn),
                          SAKD_ULONG(S), SAKD_ARG(acc));
}

/* grad x of the chunk of nc samples from n0: gcols[K, nc·P] = W[Cout, K]^T · gperm[Cout, nc·P]
 * over the columns at cols_off (used by now), summed back into NCHW by col2im (kernel kcol). */
static sakd_status input_grad_chunk(sakd_ctx *ctx, cl_kernel kcol, sakd_tensor *grad_in,
                                    const sakd_tensor *workspace, const sakd_tensor *weight,
                                    const conv_geom *g, const conv_args *a, size_t n0, cl_ulong nc,
                                    cl_ulong gp_off, cl_ulong cols_off)
{
    size_t ncp = nc * g->P;
    SAKD_TRY(sakd_gemm(
        ctx, 1, 0, g->K, ncp, g->cout, 1.0f, (sakd_mat){weight->buf, weight->offset, g->K},
        (sakd_mat){workspace->buf, gp_off, ncp}, 0.0f, (sakd_mat){workspace->buf, cols_off, ncp}));
    cl_ulong gxo = grad_in->offset;
    return SAKD_LAUNCH_ROWS(ctx, kcol, g->w, nc * g->cin * g->h, SAKD_ARG(grad_in->buf),
                            SAKD_ARG(gxo), SAKD_ARG(workspace->buf), SAKD_ARG(cols_off),
                            SAKD_ULONG(n0), SAKD_ARG(nc), SAKD_ARG(a->cin), SAKD_ARG(a->h),
                            SAKD_ARG(a->w), SAKD_ARG(a->kh), SAKD_ARG(a->kw), SAKD_ARG(a->sh),
                            SAKD_ARG(a->sw), SAKD_ARG(a->ph), SAKD_ARG(a->pw), SAKD_ARG(a->ho),
                            SAKD_ARG(a->wo));
}

sakd_status sakd_conv2d_backward(sakd_tensor *grad_in, sakd_tensor *grad_weight,
                                 sakd_tensor *grad_bias, sakd_tensor *workspace,
                                 const sakd_tensor *grad_out, const sakd_tensor *in,
                                 const sakd_tensor *weight, const sakd_conv2d_params *p)
{
    conv_geom g;
    SAKD_TRY(backward_geometry("conv2d_backward", grad_in, grad_weight, grad_bias, workspace,
                               grad_out, in, weight, p, &g));
    sakd_ctx *ctx = in->ctx;
    if (sakd_host_active(ctx)) {
        sakd_conv_host_geom hg = host_geom(&g, p);
        int dnnl;
        SAKD_TRY(use_dnnl(ctx, &g, &dnnl));
        if (dnnl)
            return sakd_conv2d_dnnl_backward(grad_in, grad_weight, grad_bias, grad_out, in, weight,
                                             &hg);
        SAKD_TRY(host_layout("conv2d_backward", in, g.cin));
        SAKD_TRY(host_layout("conv2d_backward", grad_in, g.cin));
        SAKD_TRY(host_layout("conv2d_backward", grad_out, g.cout));
        return sakd_conv2d_host_backward(grad_in, grad_weight, grad_bias, grad_out, in, weight,
                                         &hg);
    }
    SAKD_TRY(require_plain("conv2d_backward", in, grad_out, grad_in));
    sakd_reduce_opts ro = sakd_reduce_options(ctx);
    conv_args a = kernel_sizes(&g, p);
    if (grad_bias)
        SAKD_TRY(bias_backward(ctx, &ro, grad_bias, grad_out, &g, &a));

    cl_kernel kcol;
    SAKD_TRY(sakd_kernel_get(ctx, "conv", ro.options, "conv2d_col2im", &kcol));
    for (size_t n0 = 0; n0 < g.n; n0 += g.nc) {
        cl_ulong nc = g.n - n0 < g.nc ? g.n - n0 : g.nc;
        int done = 0;
        if (grad_weight)
            SAKD_TRY(backward_as_conv(grad_in, grad_weight, workspace, grad_out, in, weight, &g, p,
                                      n0, nc, &done));
        if (done)
            continue;
        size_t ncp = nc * g.P;
        cl_ulong cols_off = workspace->offset, gp_off = workspace->offset + g.K * ncp;
        /* gperm [Cout, nc·P] from grad_out's NCHW chunk */
        SAKD_TRY(chunk_from_nchw(ctx, &ro, workspace, gp_off, grad_out, n0, nc, g.cout, g.P));
        if (grad_weight) {
            SAKD_TRY(im2col(ctx, &ro, workspace, in, &g, &a, n0, nc));
            SAKD_TRY(
                weight_grad_chunk(ctx, &ro, grad_weight, workspace, &g, n0, ncp, gp_off, cols_off));
        }
        if (grad_in)
            SAKD_TRY(input_grad_chunk(ctx, kcol, grad_in, workspace, weight, &g, &a, n0, nc, gp_off,
                                      cols_off));
    }
    return SAKD_OK;
}
