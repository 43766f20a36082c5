/* graph.c — building, allocating and running a network graph forward and backward. */
#include "nn/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/activation.h"
#include "ops/bn.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/host.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "ops/spike_route.h"
#include "runtime/hash.h"

/* Largest workspace (floats) the conv nodes share; bigger layers run in sample chunks. */
#define GRAPH_WORKSPACE_MAX ((size_t)32 << 20)

void sakd_graph_init(sakd_graph *g, sakd_ctx *ctx, sakd_params *params, int snn, size_t T,
                     size_t batch, const sakd_lif_params *lif)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->params = params;
    g->snn = snn;
    g->T = snn ? T : 1;
    g->batch = batch;
    g->lif = lif ? *lif : sakd_lif_params_default();
}

static int fail(sakd_graph *g, sakd_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sakd_graph *g, sakd_status st, const char *fmt, ...)
{
    if (g->status == SAKD_OK) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        g->status = sakd_error(st, "%s", msg);
    }
    return -1;
}

/* ---- the node kinds: what each does, one entry of `kinds` each ------------------------------ */

static size_t act_numel(const sakd_act *a)
{
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

/* Elements per row (all dimensions but the first). */
static double row_numel(const sakd_act *a)
{
    double n = 1.0;
    for (int i = 1; i < a->ndim; i++)
        n *= (double)a->shape[i];
    return n;
}

static sakd_tensor *pvalue(sakd_graph *g, size_t i)
{
    return &g->params->items[i].value;
}

static sakd_tensor *pgrad(sakd_graph *g, size_t i)
{
    return &g->params->items[i].grad;
}

/* Input k as the node reads it: the activation, or its converted copy (convert_in). */
static sakd_tensor *in_of(sakd_graph *g, sakd_node *n, int k)
{
    return n->convert_in[k] ? &n->conv_in[k] : &g->acts[n->in[k]].value;
}

static sakd_tensor *x_of(sakd_graph *g, sakd_node *n)
{
    return in_of(g, n, 0);
}

static sakd_tensor *y_of(sakd_graph *g, const sakd_node *n)
{
    return &g->acts[n->out].value;
}

static sakd_tensor *gy_of(sakd_graph *g, const sakd_node *n)
{
    return &g->acts[n->out].grad;
}

/* Backward functions write the gradient of in[0] into gx (NULL when in[0] takes none) and, for
 * the two-input kinds, of in[1] into gx1. */

/* A spike-fed convolution or linear layer (ops/spike_route.h): its shape (a linear layer as a
 * 1x1 convolution of 1x1 maps), the active set of the spikes it read in the last forward (host
 * path), and which way that forward ran. */
typedef struct sakd_spike_node {
    sakd_spike_conv_shape shape;
    sakd_spike_set set;
    float dropout_p; /* the input is the LIF's spikes after an inverted dropout of this p */
    int host;        /* the host path (a host-provider context), else the device kernels */
    int driven;      /* the last forward ran spike-driven */
} sakd_spike_node;

/* The node that writes activation a, or NULL for the input. */
static const sakd_node *producer(const sakd_graph *g, int a)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].out == a)
            return &g->nodes[i];
    return NULL;
}

/* Whether node n of an SNN reads the spikes of a LIF node, directly or through a dropout (*p
 * its probability, else 0); if so, its spike state for `shape`. */
static sakd_status spike_allocate(sakd_graph *g, sakd_node *n, const sakd_spike_conv_shape *shape)
{
    const sakd_node *from = producer(g, n->in[0]);
    float p = 0.0f;
    if (from && from->kind == SAKD_NODE_DROPOUT) {
        p = from->u.dropout.p;
        from = producer(g, from->in[0]);
    }
    if (!g->snn || !from || from->kind != SAKD_NODE_LIF)
        return SAKD_OK;
    sakd_spike_node *sp = calloc(1, sizeof *sp);
    if (!sp)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s's spike state", n->name);
    sp->shape = *shape;
    sp->dropout_p = p;
    sp->host = sakd_host_active(g->ctx);
    n->spike = sp;
    return SAKD_OK;
}

/* The value of the spikes node n reads in this pass: 1, or the dropout's scale in training. */
static float spike_value(const sakd_graph *g, const sakd_node *n)
{
    float p = n->spike->dropout_p;
    return g->train && p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
}

static sakd_status conv_allocate(sakd_graph *g, sakd_node *n)
{
    const size_t *x = g->acts[n->in[0]].shape, *y = g->acts[n->out].shape;
    const size_t *w = g->params->items[n->param[0]].shape;
    sakd_spike_conv_shape s = {x[0],
                               x[1],
                               x[2],
                               x[3],
                               w[0],
                               w[2],
                               w[3],
                               n->u.conv.stride_h,
                               n->u.conv.stride_w,
                               n->u.conv.pad_h,
                               n->u.conv.pad_w,
                               y[2],
                               y[3]};
    return spike_allocate(g, n, &s);
}

static sakd_status linear_allocate(sakd_graph *g, sakd_node *n)
{
    const size_t *w = g->params->items[n->param[0]].shape; /* [out, in] */
    sakd_spike_conv_shape s = {
        g->acts[n->in[0]].shape[0], w[1], 1, 1, w[0], 1, 1, 1, 1, 0, 0, 1, 1};
    return spike_allocate(g, n, &s);
}

static void spike_release(sakd_node *n)
{
    if (n->spike) {
        sakd_spike_set_free(&n->spike->set);
        free(n->spike);
        n->spike = NULL;
    }
}

static double spike_stored_bytes(const sakd_node *n)
{
    return n->spike ? (double)sakd_spike_set_bytes(&n->spike->set) : 0.0;
}

/* The dense multiply-accumulates of one pass (forward, or weight gradient) of shape s. */
static double dense_macs(const sakd_spike_conv_shape *s)
{
    return (double)(s->n * s->ho * s->wo * s->m * s->c * s->kh * s->kw);
}

/* The spike-driven forward on the host: under auto, counts the spikes x holds and goes on only
 * below the shape's crossover density; builds the active set and sums the weights (scaled by
 * the spikes' value when it is not 1). *done says whether it ran. */
static sakd_status spike_forward_host(sakd_graph *g, sakd_node *n, sakd_spike_mode mode,
                                      double crossover, const sakd_tensor *bias, int *done)
{
    sakd_spike_node *sp = n->spike;
    const sakd_spike_conv_shape *s = &sp->shape;
    float value = spike_value(g, n);
    sakd_host_maps maps = {0};
    float *x, *w, *b, *y;
    sakd_status st = sakd_host_map_tensor(g->ctx, &maps, x_of(g, n), &x, SAKD_OK);
    st = sakd_host_map_tensor(g->ctx, &maps, pvalue(g, n->param[0]), &w, st);
    st = sakd_host_map_tensor(g->ctx, &maps, bias, &b, st);
    st = sakd_host_map_tensor(g->ctx, &maps, y_of(g, n), &y, st);
    *done = 0;
    if (st == SAKD_OK) {
        /* Under auto: dense as soon as the spikes counted so far reach the crossover. */
        size_t count = s->n * s->c * s->h * s->w;
        double limit = crossover * (double)count;
        int sparse = mode == SAKD_SPIKE_DRIVEN;
        if (!sparse && limit > 0.0) {
            size_t stop = limit >= (double)SIZE_MAX ? SIZE_MAX : (size_t)ceil(limit);
            sparse = (double)sakd_spike_count(x, count, stop) < limit;
        }
        if (sparse) {
            st = sakd_spike_set_build(&sp->set, x, value, s->n, s->c, s->h, s->w, 0);
            if (st == SAKD_OK)
                st = sakd_spike_conv_forward(y, &sp->set, w, value == 1.0f ? b : NULL, s, 0);
            if (st == SAKD_OK && value != 1.0f) {
                size_t P = s->ho * s->wo, ny = s->n * s->m * P;
                for (size_t i = 0; i < ny; i++)
                    y[i] = (b ? b[i / P % s->m] : 0.0f) + value * y[i];
            }
            if (st == SAKD_OK) {
                *done = 1;
                if (g->train) {
                    g->spike_ops += sakd_spike_conv_ops(&sp->set, s);
                    g->spike_replaced_macs += dense_macs(s);
                }
            }
        }
    }
    if (st != SAKD_OK && st != SAKD_ERR_NOMEM)
        st = sakd_error(st, "%s: %s", n->name, sakd_error_detail());
    return sakd_host_unmap(g->ctx, &maps, st);
}

/* A 4-dimensional view [a, b, 1, 1] of a linear layer's tensor t [a, b...]. */
static sakd_tensor as_4d(const sakd_tensor *t)
{
    sakd_tensor v = *t;
    size_t a = t->shape[0], b = a ? sakd_tensor_numel(t) / a : 0;
    v.owner = 0;
    v.ndim = 4;
    v.shape[0] = a;
    v.shape[1] = b;
    v.shape[2] = v.shape[3] = 1;
    return v;
}

/* The forward pass of a spike-fed node n (conv or linear): spike-driven when run.spike_layers
 * says so, else *dense is set for the caller's dense pass. */
static sakd_status spike_forward(sakd_graph *g, sakd_node *n, const sakd_tensor *bias, int *dense)
{
    sakd_spike_node *sp = n->spike;
    sakd_spike_mode mode;
    double crossover = -1.0;
    int linear = n->kind == SAKD_NODE_LINEAR;
    SAKD_TRY(sakd_spike_layers_mode(g->ctx, &mode));
    if (mode == SAKD_SPIKE_AUTO)
        SAKD_TRY(sakd_spike_crossover(g->ctx, &sp->shape, &crossover));
    sp->driven = 0;
    if (sp->host && (mode == SAKD_SPIKE_DRIVEN || crossover > 0.0)) {
        SAKD_TRY(spike_forward_host(g, n, mode, crossover, bias, &sp->driven));
    } else if (!sp->host && (mode == SAKD_SPIKE_DRIVEN || crossover > 0.0) && (linear || !bias)) {
        /* The device kernels (their weight gradient has no bias term: a linear layer's comes
         * from sakd_linear_backward); under auto, when the spikes counted on the device are
         * below the crossover. */
        int sparse = mode == SAKD_SPIKE_DRIVEN;
        if (!sparse) {
            size_t fired;
            SAKD_TRY(sakd_spike_count_device(x_of(g, n), &fired));
            sparse = (double)fired < crossover * (double)sakd_tensor_numel(x_of(g, n));
        }
        if (sparse && linear) {
            sakd_tensor x = as_4d(x_of(g, n)), w = as_4d(pvalue(g, n->param[0]));
            sakd_tensor y = as_4d(y_of(g, n));
            sakd_conv2d_params one = {1, 1, 0, 0};
            SAKD_TRY(sakd_spike_conv_forward_device(&y, &x, spike_value(g, n), &w, bias, &one));
        } else if (sparse) {
            SAKD_TRY(sakd_spike_conv_forward_device(y_of(g, n), x_of(g, n), spike_value(g, n),
                                                    pvalue(g, n->param[0]), bias, &n->u.conv));
        }
        sp->driven = sparse;
        if (g->train && sparse)
            g->spike_replaced_macs += dense_macs(&sp->shape);
    }
    if (g->train)
        *(sp->driven ? &g->spike_passes : &g->dense_passes) += 1;
    *dense = !sp->driven;
    return SAKD_OK;
}

static sakd_status conv_forward(sakd_graph *g, sakd_node *n)
{
    const sakd_tensor *bias = n->param[1] != SIZE_MAX ? pvalue(g, n->param[1]) : NULL;
    int dense = 1;
    if (n->spike)
        SAKD_TRY(spike_forward(g, n, bias, &dense));
    if (!dense)
        return SAKD_OK;
    return sakd_conv2d_forward(y_of(g, n), &g->workspace, x_of(g, n), pvalue(g, n->param[0]), bias,
                               &n->u.conv);
}

/* The weight gradient of a spike-driven forward, from the spikes that fired (scaled by their
 * value), and on the host the bias gradient (gb, may be NULL) with it; the device kernels leave
 * the bias to the caller. */
static sakd_status spike_grad_weight(sakd_graph *g, sakd_node *n, sakd_tensor *gw, sakd_tensor *gb)
{
    sakd_spike_node *sp = n->spike;
    float value = spike_value(g, n);
    if (!sp->host && n->kind == SAKD_NODE_LINEAR) {
        sakd_tensor x = as_4d(x_of(g, n)), w = as_4d(gw), gy = as_4d(gy_of(g, n));
        sakd_conv2d_params one = {1, 1, 0, 0};
        SAKD_TRY(sakd_spike_conv_grad_weight_device(&w, &x, value, &gy, &one));
    } else if (!sp->host) {
        SAKD_TRY(
            sakd_spike_conv_grad_weight_device(gw, x_of(g, n), value, gy_of(g, n), &n->u.conv));
    } else {
        sakd_host_maps maps = {0};
        float *dy, *dw, *db;
        sakd_status st = sakd_host_map_tensor(g->ctx, &maps, gy_of(g, n), &dy, SAKD_OK);
        st = sakd_host_map_tensor(g->ctx, &maps, gw, &dw, st);
        st = sakd_host_map_tensor(g->ctx, &maps, gb, &db, st);
        if (st == SAKD_OK)
            st = sakd_spike_conv_grad_weight(dw, db, &sp->set, dy, &sp->shape, 0);
        if (st == SAKD_OK && value != 1.0f) {
            size_t nw = sakd_tensor_numel(gw);
            for (size_t i = 0; i < nw; i++)
                dw[i] *= value;
        }
        if (st == SAKD_OK && g->train)
            g->spike_ops += sakd_spike_conv_ops(&sp->set, &sp->shape);
        SAKD_TRY(sakd_host_unmap(g->ctx, &maps, st));
    }
    if (g->train) {
        g->spike_passes++;
        g->spike_replaced_macs += dense_macs(&sp->shape);
    }
    return SAKD_OK;
}

static sakd_status conv_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    sakd_tensor *gw = pgrad(g, n->param[0]);
    sakd_tensor *gbias = n->param[1] != SIZE_MAX ? pgrad(g, n->param[1]) : NULL;
    if (n->spike && n->spike->driven) {
        /* The weight gradient from the spikes that fired; the data gradient stays dense. */
        SAKD_TRY(spike_grad_weight(g, n, gw, gbias));
        if (!gx)
            return SAKD_OK;
        return sakd_conv2d_backward(gx, NULL, NULL, &g->workspace, gy_of(g, n), x_of(g, n),
                                    pvalue(g, n->param[0]), &n->u.conv);
    }
    if (n->spike && g->train)
        g->dense_passes++;
    return sakd_conv2d_backward(gx, gw, gbias, &g->workspace, gy_of(g, n), x_of(g, n),
                                pvalue(g, n->param[0]), &n->u.conv);
}

static double conv_macs(const sakd_graph *g, const sakd_node *n)
{
    const size_t *w = g->params->items[n->param[0]].shape; /* [Cout, Cin, kh, kw] */
    return row_numel(&g->acts[n->out]) * (double)(w[1] * w[2] * w[3]);
}

static sakd_status bn_allocate(sakd_graph *g, sakd_node *n)
{
    size_t c[1] = {g->acts[n->in[0]].shape[1]};
    char name[128];
    snprintf(name, sizeof name, "%s saved mean", n->name);
    SAKD_TRY(sakd_tensor_new(&n->u.bn.mean, g->ctx, name, 1, c));
    snprintf(name, sizeof name, "%s saved invstd", n->name);
    return sakd_tensor_new(&n->u.bn.invstd, g->ctx, name, 1, c);
}

static sakd_status bn_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_batchnorm_forward(y_of(g, n), &n->u.bn.mean, &n->u.bn.invstd,
                                  pvalue(g, n->param[2]), pvalue(g, n->param[3]), x_of(g, n),
                                  pvalue(g, n->param[0]), pvalue(g, n->param[1]), g->train,
                                  SAKD_BN_MOMENTUM, SAKD_BN_EPS);
}

static sakd_status bn_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return sakd_batchnorm_backward(gx, pgrad(g, n->param[0]), pgrad(g, n->param[1]), &n->u.bn.mean,
                                   &n->u.bn.invstd, gy_of(g, n), x_of(g, n), pvalue(g, n->param[0]),
                                   g->train);
}

static void bn_release(sakd_node *n)
{
    sakd_tensor_free(&n->u.bn.mean);
    sakd_tensor_free(&n->u.bn.invstd);
}

static sakd_status lif_allocate(sakd_graph *g, sakd_node *n)
{
    const sakd_act *in = &g->acts[n->in[0]];
    return sakd_lif_cache_new(&n->u.lif, g->ctx, n->name, in->ndim, in->shape);
}

static sakd_status lif_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_lif_forward(y_of(g, n), &n->u.lif, x_of(g, n), g->T, &g->lif);
}

static sakd_status lif_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_lif_backward(gx, &n->u.lif, gy_of(g, n), g->T, &g->lif) : SAKD_OK;
}

static void lif_release(sakd_node *n)
{
    if (n->u.lif.h.buf)
        sakd_lif_cache_free(&n->u.lif);
}

static double lif_stored_bytes(const sakd_node *n)
{
    return (double)n->u.lif.n * (sizeof(float) + 1); /* h, and one byte per spike */
}

static sakd_status relu_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_relu_forward(y_of(g, n), x_of(g, n));
}

static sakd_status relu_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_relu_backward(gx, x_of(g, n), gy_of(g, n)) : SAKD_OK;
}

static sakd_status add_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_add_forward(y_of(g, n), x_of(g, n), in_of(g, n, 1));
}

static sakd_status sew_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_sew_forward(y_of(g, n), x_of(g, n), in_of(g, n, 1), n->u.sew);
}

/* ADD and SEW: in[0] sums through scratch slot 0, in[1] through slot 1 (node_backward); an
 * input that takes no gradient gets its slot as a sink. */
static sakd_status two_input_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx,
                                      sakd_tensor *gx1)
{
    sakd_tensor *x = x_of(g, n), *b = in_of(g, n, 1), sink0, sink1;
    if (!gx)
        SAKD_TRY(sakd_tensor_view(&sink0, &g->scratch[0], "unused gradient", 0, x->ndim, x->shape));
    if (!gx1)
        SAKD_TRY(sakd_tensor_view(&sink1, &g->scratch[1], "unused gradient", 0, b->ndim, b->shape));
    sakd_tensor *w0 = gx ? gx : &sink0, *w1 = gx1 ? gx1 : &sink1;
    if (n->kind == SAKD_NODE_ADD)
        return sakd_add_backward(w0, w1, gy_of(g, n));
    return sakd_sew_backward(w0, w1, x, b, gy_of(g, n), n->u.sew);
}

static sakd_status maxpool_allocate(sakd_graph *g, sakd_node *n)
{
    return sakd_pool_index_new(&n->u.maxpool.index, g->ctx, n->name, act_numel(&g->acts[n->out]));
}

static sakd_status maxpool_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_maxpool_forward(y_of(g, n), &n->u.maxpool.index, x_of(g, n), n->u.maxpool.pool);
}

static sakd_status maxpool_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_maxpool_backward(gx, &n->u.maxpool.index, gy_of(g, n), n->u.maxpool.pool)
              : SAKD_OK;
}

static void maxpool_release(sakd_node *n)
{
    if (n->u.maxpool.index.buf)
        sakd_pool_index_free(&n->u.maxpool.index);
}

static sakd_status gap_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_global_avgpool_forward(y_of(g, n), x_of(g, n));
}

static sakd_status gap_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_global_avgpool_backward(gx, gy_of(g, n)) : SAKD_OK;
}

static sakd_status adaptive_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_adaptive_avgpool_forward(y_of(g, n), x_of(g, n));
}

static sakd_status adaptive_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_adaptive_avgpool_backward(gx, gy_of(g, n)) : SAKD_OK;
}

/* The mask of this forward: the elements of one time step share it over T (period), and step
 * s of the run draws the counters [s·period, (s + 1)·period) of the node's stream. */
static sakd_status dropout_run(sakd_graph *g, sakd_node *n, sakd_tensor *out, const sakd_tensor *in)
{
    size_t period = sakd_tensor_numel(in) / (g->acts[n->in[0]].time_major ? g->T : 1);
    if (!g->train || n->u.dropout.p == 0.0f)
        return sakd_dropout_apply(out, in, 0.0f, 0, 0, period);
    return sakd_dropout_apply(out, in, n->u.dropout.p, g->rng_seed ^ n->u.dropout.salt,
                              g->rng_step * (uint64_t)period, period);
}

static sakd_status dropout_forward(sakd_graph *g, sakd_node *n)
{
    return dropout_run(g, n, y_of(g, n), x_of(g, n));
}

static sakd_status dropout_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? dropout_run(g, n, gx, gy_of(g, n)) : SAKD_OK;
}

static sakd_status repeat_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_repeat_time_forward(y_of(g, n), x_of(g, n), g->T);
}

static sakd_status repeat_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_repeat_time_backward(gx, gy_of(g, n), g->T) : SAKD_OK;
}

static sakd_status mean_forward(sakd_graph *g, sakd_node *n)
{
    return sakd_mean_time_forward(y_of(g, n), x_of(g, n), g->T);
}

static sakd_status mean_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    return gx ? sakd_mean_time_backward(gx, gy_of(g, n), g->T) : SAKD_OK;
}

static sakd_status linear_forward(sakd_graph *g, sakd_node *n)
{
    int dense = 1;
    if (n->spike)
        SAKD_TRY(spike_forward(g, n, pvalue(g, n->param[1]), &dense));
    if (!dense)
        return SAKD_OK;
    return sakd_linear_forward(y_of(g, n), x_of(g, n), pvalue(g, n->param[0]),
                               pvalue(g, n->param[1]));
}

static sakd_status linear_backward(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1)
{
    (void)gx1;
    sakd_tensor *gw = pgrad(g, n->param[0]), *gb = pgrad(g, n->param[1]);
    if (n->spike && n->spike->driven) {
        /* The weight gradient (and on the host the bias's) from the spikes that fired; the data
         * gradient dense. */
        SAKD_TRY(spike_grad_weight(g, n, gw, n->spike->host ? gb : NULL));
        return sakd_linear_backward(gx, NULL, n->spike->host ? NULL : gb, gy_of(g, n), x_of(g, n),
                                    pvalue(g, n->param[0]));
    }
    if (n->spike && g->train)
        g->dense_passes++;
    return sakd_linear_backward(gx, gw, gb, gy_of(g, n), x_of(g, n), pvalue(g, n->param[0]));
}

static double linear_macs(const sakd_graph *g, const sakd_node *n)
{
    return row_numel(&g->acts[n->out]) * row_numel(&g->acts[n->in[0]]);
}

/* What a node kind does. Every kind has forward and backward; the rest may be NULL (nothing to
 * allocate or release, no multiply-accumulates, nothing stored beside the activation). */
typedef struct node_kind {
    const char *name;
    sakd_status (*allocate)(sakd_graph *g, sakd_node *n);
    sakd_status (*forward)(sakd_graph *g, sakd_node *n);
    sakd_status (*backward)(sakd_graph *g, sakd_node *n, sakd_tensor *gx, sakd_tensor *gx1);
    void (*release)(sakd_node *n);
    double (*macs)(const sakd_graph *g, const sakd_node *n); /* per output row */
    double (*stored_bytes)(const sakd_node *n);              /* beside the activation */
    int spikes;                                              /* the output is a spike train */
} node_kind;

static const node_kind kinds[] = {
    [SAKD_NODE_CONV] = {"conv", conv_allocate, conv_forward, conv_backward, spike_release,
                        conv_macs, spike_stored_bytes, 0},
    [SAKD_NODE_BN] = {"batch norm", bn_allocate, bn_forward, bn_backward, bn_release, NULL, NULL,
                      0},
    [SAKD_NODE_LIF] = {"LIF", lif_allocate, lif_forward, lif_backward, lif_release, NULL,
                       lif_stored_bytes, 1},
    [SAKD_NODE_RELU] = {"ReLU", NULL, relu_forward, relu_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_ADD] = {"add", NULL, add_forward, two_input_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_SEW] = {"SEW connect", NULL, sew_forward, two_input_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_MAXPOOL] = {"max pool", maxpool_allocate, maxpool_forward, maxpool_backward,
                           maxpool_release, NULL, NULL, 0},
    [SAKD_NODE_GAP] = {"global average pool", NULL, gap_forward, gap_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_REPEAT_T] = {"repeat over T", NULL, repeat_forward, repeat_backward, NULL, NULL,
                            NULL, 0},
    [SAKD_NODE_MEAN_T] = {"mean over T", NULL, mean_forward, mean_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_LINEAR] = {"linear", linear_allocate, linear_forward, linear_backward, spike_release,
                          linear_macs, spike_stored_bytes, 0},
    [SAKD_NODE_ADAPTIVE_AVGPOOL] = {"adaptive average pool", NULL, adaptive_forward,
                                    adaptive_backward, NULL, NULL, NULL, 0},
    [SAKD_NODE_DROPOUT] = {"dropout", NULL, dropout_forward, dropout_backward, NULL, NULL, NULL, 0},
};
_Static_assert(sizeof kinds / sizeof kinds[0] == SAKD_NODE_KIND_COUNT,
               "graph.c: kinds[] needs one entry per sakd_node_kind");

static int new_act(sakd_graph *g, const char *name, int ndim, const size_t *shape, int time_major,
                   int needs_grad)
{
    if (g->n_acts == g->cap_acts) {
        size_t cap = g->cap_acts ? 2 * g->cap_acts : 64;
        sakd_act *grown = realloc(g->acts, cap * sizeof *grown);
        if (!grown)
            return fail(g, SAKD_ERR_NOMEM, "out of memory building activation %s", name);
        g->acts = grown;
        g->cap_acts = cap;
    }
    sakd_act *a = &g->acts[g->n_acts];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->ndim = ndim;
    memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    a->time_major = time_major;
    a->needs_grad = needs_grad;
    return (int)g->n_acts++;
}

static sakd_node *new_node(sakd_graph *g, sakd_node_kind kind, const char *name, int in0, int in1)
{
    if (g->status != SAKD_OK)
        return NULL;
    if (in0 < 0 || (size_t)in0 >= g->n_acts || in1 >= (int)g->n_acts) {
        fail(g, SAKD_ERR_ARG, "node %s: input activation %d does not exist", name, in0);
        return NULL;
    }
    if ((unsigned)kind >= SAKD_NODE_KIND_COUNT || !kinds[kind].forward || !kinds[kind].backward) {
        fail(g, SAKD_ERR_ARG, "node %s: kind %d has no entry in the node table", name, (int)kind);
        return NULL;
    }
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        sakd_node *grown = realloc(g->nodes, cap * sizeof *grown);
        if (!grown) {
            fail(g, SAKD_ERR_NOMEM, "out of memory building node %s", name);
            return NULL;
        }
        g->nodes = grown;
        g->cap_nodes = cap;
    }
    sakd_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->in[0] = in0;
    n->in[1] = in1;
    n->out = -1;
    return n;
}

/* Registers parameter `name`.`suffix`; returns its index, or (size_t)-1 on error. */
static size_t add_param(sakd_graph *g, const char *name, const char *suffix, int ndim,
                        const size_t *shape, int trainable, sakd_init init, size_t fan_in,
                        size_t fan_out)
{
    char full[128];
    size_t index = (size_t)-1;
    snprintf(full, sizeof full, "%s.%s", name, suffix);
    sakd_status st =
        sakd_params_add(g->params, full, ndim, shape, trainable, init, fan_in, fan_out, &index);
    if (st != SAKD_OK)
        fail(g, st, "%s", sakd_error_detail());
    return index;
}

int sakd_graph_input(sakd_graph *g, const char *name, size_t channels, size_t height, size_t width)
{
    if (g->status != SAKD_OK)
        return -1;
    size_t shape[4] = {g->batch, channels, height, width};
    return new_act(g, name, 4, shape, 0, 0);
}

int sakd_graph_input_with_grad(sakd_graph *g, const char *name, size_t channels, size_t height,
                               size_t width)
{
    if (g->status != SAKD_OK)
        return -1;
    size_t shape[4] = {g->batch, channels, height, width};
    return new_act(g, name, 4, shape, 0, 1);
}

static int conv_node(sakd_graph *g, const char *name, int in, size_t cout, size_t k, size_t stride,
                     size_t pad, int bias)
{
    sakd_node *n = new_node(g, SAKD_NODE_CONV, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    if (a->ndim != 4 || a->shape[2] + 2 * pad < k || a->shape[3] + 2 * pad < k)
        return fail(g, SAKD_ERR_ARG, "conv %s: input %s is too small for a %zux%zu kernel", name,
                    a->name, k, k);
    size_t cin = a->shape[1], ho = sakd_conv2d_out_size(a->shape[2], k, stride, pad);
    size_t wo = sakd_conv2d_out_size(a->shape[3], k, stride, pad);
    size_t ws[4] = {cout, cin, k, k};
    n->param[0] =
        add_param(g, name, "weight", 4, ws, 1, SAKD_INIT_KAIMING_OUT, cin * k * k, cout * k * k);
    size_t bs[1] = {cout};
    /* PyTorch's default for a conv bias: U(±1/√fan_in), as for a linear layer's. */
    n->param[1] =
        bias ? add_param(g, name, "bias", 1, bs, 1, SAKD_INIT_UNIFORM_FANIN, cin * k * k, 0)
             : SIZE_MAX;
    n->u.conv = (sakd_conv2d_params){stride, stride, pad, pad};
    size_t need = sakd_conv2d_workspace_floats(1, cin, cout, k, k, ho, wo);
    if (need > g->workspace_floats)
        g->workspace_floats = need;
    size_t shape[4] = {a->shape[0], cout, ho, wo};
    int tm = a->time_major;
    return n->out = new_act(g, name, 4, shape, tm, 1);
}

int sakd_graph_conv(sakd_graph *g, const char *name, int in, size_t cout, size_t k, size_t stride,
                    size_t pad)
{
    return conv_node(g, name, in, cout, k, stride, pad, 0);
}

int sakd_graph_conv_with_bias(sakd_graph *g, const char *name, int in, size_t cout, size_t k,
                              size_t stride, size_t pad)
{
    return conv_node(g, name, in, cout, k, stride, pad, 1);
}

int sakd_graph_bn(sakd_graph *g, const char *name, int in)
{
    sakd_node *n = new_node(g, SAKD_NODE_BN, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    size_t c[1] = {a->shape[1]};
    n->param[0] = add_param(g, name, "weight", 1, c, 1, SAKD_INIT_ONE, 0, 0);
    n->param[1] = add_param(g, name, "bias", 1, c, 1, SAKD_INIT_ZERO, 0, 0);
    n->param[2] = add_param(g, name, "running_mean", 1, c, 0, SAKD_INIT_ZERO, 0, 0);
    n->param[3] = add_param(g, name, "running_var", 1, c, 0, SAKD_INIT_ONE, 0, 0);
    size_t shape[4];
    memcpy(shape, a->shape, sizeof shape);
    int ndim = a->ndim, tm = a->time_major;
    return n->out = new_act(g, name, ndim, shape, tm, 1);
}

/* Element-wise node with one input: output has the input's shape. */
static int unary(sakd_graph *g, sakd_node_kind kind, const char *name, int in)
{
    sakd_node *n = new_node(g, kind, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    size_t shape[4];
    memcpy(shape, a->shape, sizeof shape);
    int ndim = a->ndim, tm = a->time_major, ng = a->needs_grad;
    if (kind == SAKD_NODE_LIF && !tm)
        return fail(g, SAKD_ERR_ARG, "LIF %s: input %s is not time-major (repeat it over T)", name,
                    g->acts[in].name);
    return n->out = new_act(g, name, ndim, shape, tm, ng);
}

int sakd_graph_neuron(sakd_graph *g, const char *name, int in)
{
    return unary(g, g->snn ? SAKD_NODE_LIF : SAKD_NODE_RELU, name, in);
}

int sakd_graph_relu(sakd_graph *g, const char *name, int in)
{
    return unary(g, SAKD_NODE_RELU, name, in);
}

static int binary(sakd_graph *g, sakd_node_kind kind, const char *name, int a, int b,
                  sakd_sew_connect connect)
{
    sakd_node *n = new_node(g, kind, name, a, b);
    if (!n)
        return -1;
    if (b < 0)
        return fail(g, SAKD_ERR_ARG, "%s: second input missing", name);
    const sakd_act *x = &g->acts[a], *y = &g->acts[b];
    if (x->ndim != y->ndim || memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]))
        return fail(g, SAKD_ERR_ARG, "%s: inputs %s and %s differ in shape", name, x->name,
                    y->name);
    if (kind == SAKD_NODE_SEW)
        n->u.sew = connect;
    size_t shape[4];
    memcpy(shape, x->shape, sizeof shape);
    int ndim = x->ndim, tm = x->time_major, ng = x->needs_grad || y->needs_grad;
    return n->out = new_act(g, name, ndim, shape, tm, ng);
}

int sakd_graph_add(sakd_graph *g, const char *name, int a, int b)
{
    return binary(g, SAKD_NODE_ADD, name, a, b, SAKD_SEW_ADD);
}

int sakd_graph_sew(sakd_graph *g, const char *name, int out, int id, sakd_sew_connect connect)
{
    return binary(g, SAKD_NODE_SEW, name, out, id, connect);
}

int sakd_graph_maxpool(sakd_graph *g, const char *name, int in, size_t k, size_t stride, size_t pad)
{
    sakd_node *n = new_node(g, SAKD_NODE_MAXPOOL, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    n->u.maxpool.pool = (sakd_pool2d){k, stride, pad};
    size_t shape[4] = {a->shape[0], a->shape[1], sakd_pool_out_size(a->shape[2], n->u.maxpool.pool),
                       sakd_pool_out_size(a->shape[3], n->u.maxpool.pool)};
    int tm = a->time_major, ng = a->needs_grad;
    if (shape[2] == 0 || shape[3] == 0)
        return fail(g, SAKD_ERR_ARG, "max pool %s: input %s is too small", name, a->name);
    return n->out = new_act(g, name, 4, shape, tm, ng);
}

int sakd_graph_gap(sakd_graph *g, const char *name, int in)
{
    sakd_node *n = new_node(g, SAKD_NODE_GAP, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    size_t shape[4] = {a->shape[0], a->shape[1]};
    int tm = a->time_major, ng = a->needs_grad;
    return n->out = new_act(g, name, 2, shape, tm, ng);
}

int sakd_graph_adaptive_avgpool(sakd_graph *g, const char *name, int in, size_t oh, size_t ow)
{
    sakd_node *n = new_node(g, SAKD_NODE_ADAPTIVE_AVGPOOL, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    if (a->ndim != 4 || oh == 0 || ow == 0)
        return fail(g, SAKD_ERR_ARG,
                    "adaptive average pool %s: input %s is not [N, C, H, W] or "
                    "the output %zux%zu is empty",
                    name, a->name, oh, ow);
    size_t shape[4] = {a->shape[0], a->shape[1], oh, ow};
    int tm = a->time_major, ng = a->needs_grad;
    return n->out = new_act(g, name, 4, shape, tm, ng);
}

int sakd_graph_dropout(sakd_graph *g, const char *name, int in, float p)
{
    if (!(p >= 0.0f && p < 1.0f))
        return fail(g, SAKD_ERR_ARG, "dropout %s: probability %g is outside [0, 1)", name,
                    (double)p);
    sakd_node *n = new_node(g, SAKD_NODE_DROPOUT, name, in, -1);
    if (!n)
        return -1;
    n->u.dropout.p = p;
    n->u.dropout.salt = sakd_hash64(name, strlen(name), 0);
    const sakd_act *a = &g->acts[in];
    size_t shape[4];
    memcpy(shape, a->shape, sizeof shape);
    int ndim = a->ndim, tm = a->time_major, ng = a->needs_grad;
    return n->out = new_act(g, name, ndim, shape, tm, ng);
}

int sakd_graph_repeat_time(sakd_graph *g, const char *name, int in)
{
    sakd_node *n = new_node(g, SAKD_NODE_REPEAT_T, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    if (a->time_major)
        return fail(g, SAKD_ERR_ARG, "repeat %s: %s is already time-major", name, a->name);
    size_t shape[4];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] *= g->T;
    int ndim = a->ndim, ng = a->needs_grad;
    return n->out = new_act(g, name, ndim, shape, 1, ng);
}

int sakd_graph_mean_time(sakd_graph *g, const char *name, int in)
{
    sakd_node *n = new_node(g, SAKD_NODE_MEAN_T, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    if (!a->time_major)
        return fail(g, SAKD_ERR_ARG, "mean over T %s: %s is not time-major", name, a->name);
    size_t shape[4];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] /= g->T;
    int ndim = a->ndim, ng = a->needs_grad;
    return n->out = new_act(g, name, ndim, shape, 0, ng);
}

int sakd_graph_linear(sakd_graph *g, const char *name, int in, size_t out_features)
{
    sakd_node *n = new_node(g, SAKD_NODE_LINEAR, name, in, -1);
    if (!n)
        return -1;
    const sakd_act *a = &g->acts[in];
    size_t fin = 1;
    for (int i = 1; i < a->ndim; i++)
        fin *= a->shape[i];
    size_t ws[2] = {out_features, fin}, bs[1] = {out_features};
    n->param[0] = add_param(g, name, "weight", 2, ws, 1, SAKD_INIT_UNIFORM_FANIN, fin, 0);
    n->param[1] = add_param(g, name, "bias", 1, bs, 1, SAKD_INIT_UNIFORM_FANIN, fin, 0);
    size_t shape[4] = {a->shape[0], out_features};
    int tm = a->time_major;
    return n->out = new_act(g, name, 2, shape, tm, 1);
}

sakd_act *sakd_graph_act_get(sakd_graph *g, int id)
{
    return id >= 0 && (size_t)id < g->n_acts ? &g->acts[id] : NULL;
}

int sakd_graph_find(const sakd_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_acts; i++)
        if (strcmp(g->acts[i].name, name) == 0)
            return (int)i;
    return -1;
}

void sakd_graph_set_rng(sakd_graph *g, uint64_t seed, uint64_t step)
{
    g->rng_seed = seed;
    g->rng_step = step;
}

/* ---- activation layouts (runtime/tensor.h; sakd_graph_allocate says the plan) ---- */

/* Whether a spike-fed convolution may run spike-driven (reading and writing plain tensors). */
static sakd_status may_drive(sakd_graph *g, sakd_node *n, int *yes)
{
    *yes = 0;
    if (!n->spike)
        return SAKD_OK;
    sakd_spike_mode mode;
    SAKD_TRY(sakd_spike_layers_mode(g->ctx, &mode));
    if (mode == SAKD_SPIKE_DRIVEN) {
        *yes = 1;
    } else if (mode == SAKD_SPIKE_AUTO) {
        double crossover = -1.0;
        SAKD_TRY(sakd_spike_crossover(g->ctx, &n->spike->shape, &crossover));
        *yes = crossover > 0.0;
    }
    return SAKD_OK;
}

/* Input k of node n converted to layout `to` (0 plain, else the block) when its own differs. */
static void convert_to(sakd_node *n, int k, int from, int to)
{
    n->convert_in[k] = from != to ? to + 1 : 0;
}

/* The layout node n writes, given its inputs' (l0, l1), and which inputs it converts. */
static sakd_status plan_node(sakd_graph *g, sakd_node *n, int l0, int l1, int *out)
{
    *out = 0;
    switch (n->kind) {
    case SAKD_NODE_CONV: {
        int driven, in_blk = 0, out_blk = 0;
        SAKD_TRY(may_drive(g, n, &driven));
        if (driven) { /* the spike-driven passes read and write plain tensors */
            convert_to(n, 0, l0, 0);
            break;
        }
        const sakd_act *a = &g->acts[n->in[0]];
        const size_t *ws = g->params->items[n->param[0]].shape;
        SAKD_TRY(sakd_conv2d_native_layouts(g->ctx, a->shape, ws, &n->u.conv,
                                            n->param[1] != SIZE_MAX, &in_blk, &out_blk));
        /* every host convolution reads any layout (oneDNN natively or with a reorder, the
         * im2col route in place or by per-sample gathers); it writes oneDNN's native block,
         * else the block an add downstream asked of it (want_blocks), else its input's where
         * that divides its channels (the im2col route scatters per sample) */
        if (out_blk)
            *out = out_blk;
        else if (n->want_out && ws[0] % (size_t)n->want_out == 0)
            *out = n->want_out;
        else
            *out = l0 && ws[0] % (size_t)l0 == 0 ? l0 : 0;
        (void)in_blk;
        break;
    }
    case SAKD_NODE_BN:
    case SAKD_NODE_LIF:
    case SAKD_NODE_RELU:
    case SAKD_NODE_MEAN_T:
    case SAKD_NODE_REPEAT_T: *out = l0; break;
    case SAKD_NODE_ADD:
    case SAKD_NODE_SEW:
        /* one layout for both: a blocked one if either is (the plain one converted to it), plain
         * when they are blocked differently */
        *out = !l0 ? l1 : !l1 ? l0 : l0 == l1 ? l0 : 0;
        convert_to(n, 0, l0, *out);
        convert_to(n, 1, l1, *out);
        break;
    default: convert_to(n, 0, l0, 0); break; /* pooling, linear, dropout: plain */
    }
    if (*out && g->acts[n->out].keep_plain) {
        /* a pass-through kind converts its inputs to plain instead; a convolution writes plain */
        if (n->kind != SAKD_NODE_CONV) {
            convert_to(n, 0, l0, 0);
            if (n->in[1] >= 0)
                convert_to(n, 1, l1, 0);
        }
        *out = 0;
    }
    return SAKD_OK;
}

/* How many inputs of nodes read activation a. */
static int readers(const sakd_graph *g, int a)
{
    int r = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        r += (g->nodes[i].in[0] == a) + (g->nodes[i].in[1] == a);
    return r;
}

/* After a pass of the plan: an add (or SEW connection) that converts a plain operand to the
 * other's block, where that operand comes from a convolution through a chain of BN / LIF / ReLU
 * read by nothing else (a downsampling shortcut after a plain stem): the convolution is asked to
 * write that block itself. Whether any was asked (the plan then runs again). */
static int want_blocks(sakd_graph *g)
{
    int changed = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        sakd_node *n = &g->nodes[i];
        if (n->kind != SAKD_NODE_ADD && n->kind != SAKD_NODE_SEW)
            continue;
        for (int k = 0; k < 2; k++) {
            int id = n->in[k], to = n->convert_in[k] - 1;
            if (to <= 0 || g->acts[id].value.layout)
                continue;
            const sakd_node *from;
            while ((from = producer(g, id)) && readers(g, id) == 1 && !g->acts[id].keep_plain) {
                sakd_node *p = &g->nodes[from - g->nodes];
                if (p->kind == SAKD_NODE_CONV) {
                    if (!p->want_out) {
                        p->want_out = to;
                        changed = 1;
                    }
                    break;
                }
                if (p->kind != SAKD_NODE_BN && p->kind != SAKD_NODE_LIF &&
                    p->kind != SAKD_NODE_RELU)
                    break;
                id = p->in[0];
            }
        }
    }
    return changed;
}

/* One pass of the plan over the nodes in order; *largest: the largest converted input. */
static sakd_status plan_pass(sakd_graph *g, int plain, size_t *largest)
{
    for (size_t i = 0; i < g->n_acts; i++)
        g->acts[i].value.layout = g->acts[i].grad.layout = 0;
    *largest = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        sakd_node *n = &g->nodes[i];
        for (int k = 0; k < 2; k++) {
            n->convert_in[k] = 0;
            sakd_tensor_free(&n->conv_in[k]);
        }
        if (plain)
            continue;
        int l0 = g->acts[n->in[0]].value.layout,
            l1 = n->in[1] >= 0 ? g->acts[n->in[1]].value.layout : 0, out;
        SAKD_TRY(plan_node(g, n, l0, l1, &out));
        sakd_act *o = &g->acts[n->out];
        o->value.layout = o->grad.layout = out;
        for (int k = 0; k < 2; k++) {
            if (!n->convert_in[k])
                continue;
            sakd_act *a = &g->acts[n->in[k]];
            char name[256];
            snprintf(name, sizeof name, "%s (converted for %s)", a->name, n->name);
            SAKD_TRY(sakd_tensor_new(&n->conv_in[k], g->ctx, name, a->ndim, a->shape));
            n->conv_in[k].layout = n->convert_in[k] - 1;
            *largest = act_numel(a) > *largest ? act_numel(a) : *largest;
        }
    }
    return SAKD_OK;
}

static sakd_status plan_layouts(sakd_graph *g)
{
    size_t largest = 0;
    const char *env = getenv("SAKD_LAYOUT");
    int plain = g->plain_only || !sakd_host_active(g->ctx) || (env && strcmp(env, "plain") == 0);
    if (env && *env && strcmp(env, "plain") != 0 && strcmp(env, "auto") != 0)
        return sakd_error(SAKD_ERR_ARG, "SAKD_LAYOUT=%s: expected plain or auto", env);
    SAKD_TRY(plan_pass(g, plain, &largest));
    if (!plain && want_blocks(g))
        SAKD_TRY(plan_pass(g, plain, &largest));
    for (int k = 0; k < 2; k++) {
        size_t have = g->conv_grad[k].buf ? sakd_tensor_numel(&g->conv_grad[k]) : 0;
        if (have >= largest)
            continue;
        sakd_tensor_free(&g->conv_grad[k]);
        SAKD_TRY(sakd_tensor_new(&g->conv_grad[k], g->ctx, "converted gradient", 1, &largest));
    }
    return SAKD_OK;
}

sakd_status sakd_graph_keep_plain(sakd_graph *g, int id)
{
    sakd_act *a = sakd_graph_act_get(g, id);
    if (!a)
        return sakd_error(SAKD_ERR_ARG, "graph: no activation %d to keep plain", id);
    a->keep_plain = 1;
    return g->allocated ? plan_layouts(g) : SAKD_OK;
}

sakd_status sakd_graph_plain_layouts(sakd_graph *g)
{
    g->plain_only = 1;
    return g->allocated ? plan_layouts(g) : SAKD_OK;
}

sakd_status sakd_graph_allocate(sakd_graph *g)
{
    SAKD_TRY(g->status);
    if (!g->params->allocated)
        return sakd_error(SAKD_ERR_ARG, "graph: allocate the parameters first");
    size_t largest = 1;
    for (size_t i = 0; i < g->n_acts; i++) {
        sakd_act *a = &g->acts[i];
        char name[128];
        SAKD_TRY(sakd_tensor_new(&a->value, g->ctx, a->name, a->ndim, a->shape));
        if (a->needs_grad) {
            snprintf(name, sizeof name, "grad %s", a->name);
            SAKD_TRY(sakd_tensor_new(&a->grad, g->ctx, name, a->ndim, a->shape));
        }
        if (act_numel(a) > largest)
            largest = act_numel(a);
    }
    SAKD_TRY(sakd_tensor_new(&g->scratch[0], g->ctx, "gradient scratch 0", 1, &largest));
    SAKD_TRY(sakd_tensor_new(&g->scratch[1], g->ctx, "gradient scratch 1", 1, &largest));
    if (g->workspace_floats) {
        size_t w = g->workspace_floats * g->batch * g->T;
        if (w > GRAPH_WORKSPACE_MAX)
            w = GRAPH_WORKSPACE_MAX > g->workspace_floats ? GRAPH_WORKSPACE_MAX
                                                          : g->workspace_floats;
        SAKD_TRY(sakd_tensor_new(&g->workspace, g->ctx, "conv workspace", 1, &w));
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        sakd_node *n = &g->nodes[i];
        if (kinds[n->kind].allocate)
            SAKD_TRY(kinds[n->kind].allocate(g, n));
    }
    SAKD_TRY(plan_layouts(g));
    g->allocated = 1;
    return SAKD_OK;
}

sakd_status sakd_graph_forward(sakd_graph *g, int train)
{
    if (!g->allocated)
        return sakd_error(SAKD_ERR_ARG, "graph forward before allocation");
    g->train = train;
    for (size_t i = 0; i < g->n_nodes; i++) {
        sakd_node *n = &g->nodes[i];
        sakd_status st = SAKD_OK;
        for (int k = 0; k < 2 && st == SAKD_OK; k++)
            if (n->convert_in[k])
                st = sakd_layout_convert(&n->conv_in[k], &g->acts[n->in[k]].value);
        if (st == SAKD_OK)
            st = kinds[n->kind].forward(g, n);
        if (st != SAKD_OK)
            return sakd_error(st, "forward of %s (%s): %s", n->name, kinds[n->kind].name,
                              sakd_error_detail());
    }
    return SAKD_OK;
}

/* Where the gradient for activation `id` is to be written: its grad buffer the first time,
 * else the scratch buffer (then added by finish_grad). NULL when it needs no gradient. */
static sakd_status grad_target(sakd_graph *g, int id, int slot, sakd_tensor *view,
                               sakd_tensor **target)
{
    sakd_act *a = &g->acts[id];
    *target = NULL;
    if (!a->needs_grad)
        return SAKD_OK;
    if (!a->grad_ready) {
        *target = &a->grad;
        return SAKD_OK;
    }
    SAKD_TRY(sakd_tensor_view(view, &g->scratch[slot], "gradient scratch", 0, a->ndim, a->shape));
    view->layout = a->grad.layout;
    *target = view;
    return SAKD_OK;
}

static sakd_status finish_grad(sakd_graph *g, int id, sakd_tensor *target)
{
    sakd_act *a = &g->acts[id];
    if (!target)
        return SAKD_OK;
    if (target != &a->grad)
        SAKD_TRY(sakd_axpby(&a->grad, target, 1.0f, 1.0f));
    a->grad_ready = 1;
    return SAKD_OK;
}

static sakd_status node_backward(sakd_graph *g, sakd_node *n)
{
    if (!g->acts[n->out].grad_ready)
        return SAKD_OK; /* nothing downstream depends on it */
    sakd_tensor v0, v1, *t0, *t1 = NULL;
    SAKD_TRY(grad_target(g, n->in[0], 0, &v0, &t0));
    if (n->in[1] >= 0)
        SAKD_TRY(grad_target(g, n->in[1], 1, &v1, &t1));
    /* an input read converted takes its gradient in the converted layout, converted back */
    sakd_tensor *t[2] = {t0, t1}, p[2], *use[2] = {t0, t1};
    for (int k = 0; k < 2; k++)
        if (n->convert_in[k] && t[k]) {
            const sakd_act *a = &g->acts[n->in[k]];
            SAKD_TRY(sakd_tensor_view(&p[k], &g->conv_grad[k], "converted gradient", 0, a->ndim,
                                      a->shape));
            p[k].layout = n->convert_in[k] - 1;
            use[k] = &p[k];
        }
    SAKD_TRY(kinds[n->kind].backward(g, n, use[0], use[1]));
    for (int k = 0; k < 2; k++)
        if (use[k] != t[k])
            SAKD_TRY(sakd_layout_convert(t[k], use[k]));
    SAKD_TRY(finish_grad(g, n->in[0], t0));
    return n->in[1] >= 0 ? finish_grad(g, n->in[1], t1) : SAKD_OK;
}

sakd_status sakd_graph_backward(sakd_graph *g, size_t n_seeds, const int *seed_ids,
                                const sakd_tensor *const *seeds)
{
    for (size_t i = 0; i < g->n_acts; i++)
        g->acts[i].grad_ready = 0;
    for (size_t i = 0; i < n_seeds; i++) {
        sakd_act *a = sakd_graph_act_get(g, seed_ids[i]);
        if (!a || !a->needs_grad)
            return sakd_error(SAKD_ERR_ARG, "backward seed %zu: activation %d takes no gradient", i,
                              seed_ids[i]);
        if (seeds[i]->layout != a->grad.layout) { /* a plain seed of a blocked activation */
            sakd_tensor v;
            SAKD_TRY(sakd_tensor_view(&v, a->grad_ready ? &g->scratch[0] : &a->grad,
                                      "gradient seed", 0, a->ndim, a->shape));
            v.layout = a->grad.layout;
            SAKD_TRY(sakd_layout_convert(&v, seeds[i]));
            if (a->grad_ready)
                SAKD_TRY(sakd_axpby(&a->grad, &v, 1.0f, 1.0f));
        } else if (a->grad_ready) {
            SAKD_TRY(sakd_axpby(&a->grad, seeds[i], 1.0f, 1.0f));
        } else {
            SAKD_TRY(sakd_tensor_copy(&a->grad, seeds[i]));
        }
        a->grad_ready = 1;
    }
    for (size_t i = g->n_nodes; i-- > 0;) {
        sakd_status st = node_backward(g, &g->nodes[i]);
        if (st != SAKD_OK)
            return sakd_error(st, "backward of %s: %s", g->nodes[i].name, sakd_error_detail());
    }
    return SAKD_OK;
}

double sakd_node_macs_per_row(const sakd_graph *g, const sakd_node *n)
{
    return kinds[n->kind].macs ? kinds[n->kind].macs(g, n) : 0.0;
}

int sakd_node_spikes(const sakd_node *n)
{
    return kinds[n->kind].spikes;
}

int sakd_node_spike_driven(const sakd_node *n)
{
    return n->spike && n->spike->driven;
}

double sakd_graph_stored_bytes(const sakd_graph *g)
{
    double b = 0.0;
    for (size_t i = 0; i < g->n_acts; i++)
        b += (double)sakd_tensor_numel(&g->acts[i].value) * sizeof(float);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (kinds[g->nodes[i].kind].stored_bytes)
            b += kinds[g->nodes[i].kind].stored_bytes(&g->nodes[i]);
    return b;
}

void sakd_graph_free(sakd_graph *g)
{
    for (size_t i = 0; i < g->n_acts; i++) {
        sakd_tensor_free(&g->acts[i].value);
        sakd_tensor_free(&g->acts[i].grad);
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (kinds[g->nodes[i].kind].release)
            kinds[g->nodes[i].kind].release(&g->nodes[i]);
        for (int k = 0; k < 2; k++)
            sakd_tensor_free(&g->nodes[i].conv_in[k]);
    }
    sakd_tensor_free(&g->conv_grad[0]);
    sakd_tensor_free(&g->conv_grad[1]);
    sakd_tensor_free(&g->workspace);
    sakd_tensor_free(&g->scratch[0]);
    sakd_tensor_free(&g->scratch[1]);
    free(g->acts);
    free(g->nodes);
    memset(g, 0, sizeof *g);
}
