/* nir.c — the NIR export: one pass over the graph's nodes that names, for every activation,
 * the NIR nodes whose summed outputs it is (its sources: NIR sums a node's incoming edges),
 * writing each NIR node as it is met. BN is folded into the convolution before it; the input's
 * repetition over T and the readout's mean over T have no node (NIR graphs run step by step;
 * the logits are the mean over the T steps of the output, which the metadata says). */
#include "io/nir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5.h"
#include "ops/bn.h"

#define NIR_MAX_SOURCES 64

typedef struct sources {
    int n;
    int node[NIR_MAX_SOURCES]; /* indices into exporter.names */
} sources;

typedef struct exporter {
    sakd_model *m;
    sakd_h5_file f;
    double dt;
    char (*names)[96]; /* the NIR nodes written so far */
    int n_names;
    sources *src;       /* per activation */
    const char **edges; /* pairs */
    size_t n_edges, cap_edges;
} exporter;

static sakd_status refuse(const sakd_node *n, const char *why)
{
    return sakd_error(SAKD_ERR_ARG, "NIR export: layer %s: %s", n->name, why);
}

/* A NIR node `name` of `type`: its group and type dataset; returns its index. */
static sakd_status new_node(exporter *e, const char *name, const char *type, int *index)
{
    snprintf(e->names[e->n_names], sizeof e->names[0], "%s", name);
    char path[160];
    snprintf(path, sizeof path, "/node/nodes/%s/type", name);
    SAKD_TRY(sakd_h5_write_strings(e->f, path, 0, NULL, (const char *[]){type}));
    *index = e->n_names++;
    return SAKD_OK;
}

static sakd_status put_floats(exporter *e, int node, const char *key, int ndim, const size_t *shape,
                              const float *v)
{
    char path[200];
    snprintf(path, sizeof path, "/node/nodes/%s/%s", e->names[node], key);
    return sakd_h5_write_float(e->f, path, ndim, shape, v);
}

static sakd_status put_ints(exporter *e, int node, const char *key, int ndim, size_t n,
                            const int64_t *v)
{
    char path[200];
    snprintf(path, sizeof path, "/node/nodes/%s/%s", e->names[node], key);
    return sakd_h5_write_int64(e->f, path, ndim, ndim ? &n : NULL, v);
}

static sakd_status add_edge(exporter *e, int from, int to)
{
    if (e->n_edges + 2 > e->cap_edges) {
        size_t cap = e->cap_edges ? 2 * e->cap_edges : 256;
        const char **grown = realloc(e->edges, cap * sizeof *grown);
        if (!grown)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory");
        e->edges = grown;
        e->cap_edges = cap;
    }
    e->edges[e->n_edges++] = e->names[from];
    e->edges[e->n_edges++] = e->names[to];
    return SAKD_OK;
}

/* Edges from every source of activation `act` to NIR node `to`. */
static sakd_status connect(exporter *e, int act, int to)
{
    const sources *s = &e->src[act];
    if (s->n == 0)
        return sakd_error(SAKD_ERR_ARG, "NIR export: %s has no source", e->names[to]);
    for (int i = 0; i < s->n; i++)
        SAKD_TRY(add_edge(e, s->node[i], to));
    return SAKD_OK;
}

static void set_source(exporter *e, int act, int node)
{
    e->src[act].n = 1;
    e->src[act].node[0] = node;
}

static sakd_status download_param(exporter *e, size_t index, float **out)
{
    const sakd_param *p = &e->m->graph.params->items[index];
    *out = malloc(p->numel * sizeof **out);
    if (!*out)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory reading %s", p->name);
    return sakd_tensor_download(&p->value, *out);
}

/* Conv `c` followed by BN `b`: one Conv2d with W·γ/√(σ²+ε) and (bias − μ)·γ/√(σ²+ε) + β. */
static sakd_status conv_bn(exporter *e, const sakd_node *c, const sakd_node *b)
{
    const sakd_param *wp = &e->m->graph.params->items[c->param[0]];
    size_t cout = wp->shape[0], per = wp->numel / cout;
    float *w = NULL, *bias = NULL, *g = NULL, *beta = NULL, *mu = NULL, *var = NULL;
    sakd_status st = download_param(e, c->param[0], &w);
    if (st == SAKD_OK && c->param[1] != SIZE_MAX)
        st = download_param(e, c->param[1], &bias);
    for (int k = 0; k < 4 && st == SAKD_OK; k++)
        st = download_param(e, b->param[k], k == 0 ? &g : k == 1 ? &beta : k == 2 ? &mu : &var);
    float *fb = st == SAKD_OK ? malloc(cout * sizeof *fb) : NULL;
    if (st == SAKD_OK && !fb)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
    for (size_t o = 0; st == SAKD_OK && o < cout; o++) {
        double scale = (double)g[o] / sqrt((double)var[o] + (double)SAKD_BN_EPS);
        for (size_t j = 0; j < per; j++)
            w[o * per + j] = (float)((double)w[o * per + j] * scale);
        fb[o] = (float)(((bias ? (double)bias[o] : 0.0) - (double)mu[o]) * scale + (double)beta[o]);
    }
    int node = -1;
    if (st == SAKD_OK)
        st = new_node(e, c->name, "Conv2d", &node);
    const sakd_act *in = &e->m->graph.acts[c->in[0]];
    int64_t hw[2] = {(int64_t)in->shape[2], (int64_t)in->shape[3]};
    int64_t stride[2] = {(int64_t)c->u.conv.stride_h, (int64_t)c->u.conv.stride_w};
    int64_t pad[2] = {(int64_t)c->u.conv.pad_h, (int64_t)c->u.conv.pad_w}, one[2] = {1, 1};
    if (st == SAKD_OK)
        st = put_floats(e, node, "weight", wp->ndim, wp->shape, w);
    if (st == SAKD_OK)
        st = put_floats(e, node, "bias", 1, &cout, fb);
    if (st == SAKD_OK)
        st = put_ints(e, node, "input_shape", 1, 2, hw);
    if (st == SAKD_OK)
        st = put_ints(e, node, "stride", 1, 2, stride);
    if (st == SAKD_OK)
        st = put_ints(e, node, "padding", 1, 2, pad);
    if (st == SAKD_OK)
        st = put_ints(e, node, "dilation", 1, 2, one);
    if (st == SAKD_OK)
        st = put_ints(e, node, "groups", 0, 0, one);
    if (st == SAKD_OK)
        st = connect(e, c->in[0], node);
    if (st == SAKD_OK)
        set_source(e, b->out, node);
    free(w), free(bias), free(g), free(beta), free(mu), free(var), free(fb);
    return st;
}

/* A LIF layer: NIR's LIF τ·dv/dt = (v_leak − v) + R·I stepped by forward Euler with dt is
 * sakd's h = λ·v + x when τ = dt/(1 − λ), R = 1/(1 − λ), v_leak = 0; λ = 1 is NIR's IF with
 * R = 1/dt. Threshold V_th, hard reset to 0. */
static sakd_status lif(exporter *e, const sakd_node *n)
{
    const sakd_lif_params *p = &e->m->graph.lif;
    if (p->reset != SAKD_LIF_RESET_HARD)
        return refuse(n, "the soft reset (v − V_th) has no NIR neuron (NIR resets to v_reset)");
    const sakd_act *a = &e->m->graph.acts[n->out];
    size_t shape[3], count = 1;
    for (int i = 1; i < a->ndim; i++)
        count *= shape[i - 1] = a->shape[i];
    int integrate = p->decay >= 1.0f;
    double tau = integrate ? 0.0 : e->dt / (1.0 - (double)p->decay);
    double r = integrate ? 1.0 / e->dt : 1.0 / (1.0 - (double)p->decay);
    const struct {
        const char *key;
        double v;
    } fields[] = {
        {"tau", tau}, {"r", r}, {"v_leak", 0.0}, {"v_threshold", p->threshold}, {"v_reset", 0.0}};
    float *v = malloc(count * sizeof *v);
    if (!v)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    int node = -1;
    sakd_status st = new_node(e, n->name, integrate ? "IF" : "LIF", &node);
    for (size_t k = 0; k < 5 && st == SAKD_OK; k++) {
        if (integrate && (k == 0 || k == 2))
            continue; /* IF has no τ and no leak */
        for (size_t i = 0; i < count; i++)
            v[i] = (float)fields[k].v;
        st = put_floats(e, node, fields[k].key, a->ndim - 1, shape, v);
    }
    free(v);
    if (st == SAKD_OK)
        st = connect(e, n->in[0], node);
    if (st == SAKD_OK)
        set_source(e, n->out, node);
    return st;
}

/* Global average pooling: AvgPool2d over the whole map, then Flatten [C, 1, 1] → [C]. */
static sakd_status gap(exporter *e, const sakd_node *n)
{
    const sakd_act *in = &e->m->graph.acts[n->in[0]];
    int64_t k[2] = {(int64_t)in->shape[2], (int64_t)in->shape[3]}, zero[2] = {0, 0};
    int64_t c11[3] = {(int64_t)in->shape[1], 1, 1}, start = 0, end = -1;
    int pool = -1, flat = -1;
    char name[128];
    SAKD_TRY(new_node(e, n->name, "AvgPool2d", &pool));
    SAKD_TRY(put_ints(e, pool, "kernel_size", 1, 2, k));
    SAKD_TRY(put_ints(e, pool, "stride", 1, 2, k));
    SAKD_TRY(put_ints(e, pool, "padding", 1, 2, zero));
    SAKD_TRY(connect(e, n->in[0], pool));
    snprintf(name, sizeof name, "%.80s.flatten", n->name);
    SAKD_TRY(new_node(e, name, "Flatten", &flat));
    SAKD_TRY(put_ints(e, flat, "start_dim", 0, 0, &start));
    SAKD_TRY(put_ints(e, flat, "end_dim", 0, 0, &end));
    SAKD_TRY(put_ints(e, flat, "input_type", 1, 3, c11));
    SAKD_TRY(add_edge(e, pool, flat));
    set_source(e, n->out, flat);
    return SAKD_OK;
}

static sakd_status affine(exporter *e, const sakd_node *n)
{
    if (e->m->graph.acts[n->in[0]].ndim != 2)
        return refuse(n, "a linear layer on a feature map needs a Flatten sakd does not export");
    float *w = NULL, *b = NULL;
    const sakd_param *wp = &e->m->graph.params->items[n->param[0]];
    const sakd_param *bp = &e->m->graph.params->items[n->param[1]];
    int node = -1;
    sakd_status st = download_param(e, n->param[0], &w);
    if (st == SAKD_OK)
        st = download_param(e, n->param[1], &b);
    if (st == SAKD_OK)
        st = new_node(e, n->name, "Affine", &node);
    if (st == SAKD_OK)
        st = put_floats(e, node, "weight", 2, wp->shape, w);
    if (st == SAKD_OK)
        st = put_floats(e, node, "bias", 1, bp->shape, b);
    if (st == SAKD_OK)
        st = connect(e, n->in[0], node);
    if (st == SAKD_OK)
        set_source(e, n->out, node);
    free(w), free(b);
    return st;
}

/* out = a + b: the union of both sources (NIR sums a node's incoming edges). */
static sakd_status sum(exporter *e, const sakd_node *n)
{
    sources *o = &e->src[n->out];
    const sources *a = &e->src[n->in[0]], *b = &e->src[n->in[1]];
    if (a->n + b->n > NIR_MAX_SOURCES)
        return refuse(n, "more summed inputs than the exporter holds");
    *o = *a;
    for (int i = 0; i < b->n; i++)
        o->node[o->n++] = b->node[i];
    return SAKD_OK;
}

static sakd_status export_node(exporter *e, size_t i)
{
    const sakd_graph *g = &e->m->graph;
    const sakd_node *n = &g->nodes[i];
    switch (n->kind) {
    case SAKD_NODE_CONV:
        if (i + 1 >= g->n_nodes || g->nodes[i + 1].kind != SAKD_NODE_BN ||
            g->nodes[i + 1].in[0] != n->out)
            return refuse(n, "a convolution without its BN (sakd's models always have one)");
        return SAKD_OK; /* written with its BN */
    case SAKD_NODE_BN:
        if (i == 0 || g->nodes[i - 1].kind != SAKD_NODE_CONV || g->nodes[i - 1].out != n->in[0])
            return refuse(n, "BN after something other than a convolution cannot be folded");
        return conv_bn(e, &g->nodes[i - 1], n);
    case SAKD_NODE_LIF: return lif(e, n);
    case SAKD_NODE_ADD: return sum(e, n);
    case SAKD_NODE_SEW:
        if (n->u.sew != SAKD_SEW_ADD)
            return refuse(n, "SEW AND and IAND connections have no NIR node (only sums)");
        return sum(e, n);
    case SAKD_NODE_REPEAT_T:
    case SAKD_NODE_MEAN_T: e->src[n->out] = e->src[n->in[0]]; return SAKD_OK;
    case SAKD_NODE_GAP: return gap(e, n);
    case SAKD_NODE_LINEAR: return affine(e, n);
    case SAKD_NODE_MAXPOOL: return refuse(n, "max pooling has no NIR node");
    case SAKD_NODE_RELU: return refuse(n, "a ReLU: NIR export is for spiking networks");
    default: return refuse(n, "this kind of layer has no NIR mapping in sakd");
    }
}

static sakd_status write_graph(exporter *e)
{
    sakd_model *m = e->m;
    const sakd_act *in = &m->graph.acts[m->input];
    int64_t shape[3] = {(int64_t)in->shape[1], (int64_t)in->shape[2], (int64_t)in->shape[3]};
    int node = -1;
    SAKD_TRY(sakd_h5_write_strings(e->f, "/version", 0, NULL, (const char *[]){"1.0.0"}));
    SAKD_TRY(sakd_h5_write_strings(e->f, "/node/type", 0, NULL, (const char *[]){"NIRGraph"}));
    SAKD_TRY(new_node(e, "input", "Input", &node));
    SAKD_TRY(put_ints(e, node, "shape", 1, 3, shape));
    set_source(e, m->input, node);
    for (size_t i = 0; i < m->graph.n_nodes; i++)
        SAKD_TRY(export_node(e, i));
    int64_t classes = (int64_t)m->desc.classes;
    SAKD_TRY(new_node(e, "output", "Output", &node));
    SAKD_TRY(put_ints(e, node, "shape", 1, 1, &classes));
    SAKD_TRY(connect(e, m->logits, node));
    size_t es[2] = {e->n_edges / 2, 2};
    SAKD_TRY(sakd_h5_write_strings(e->f, "/node/edges", 2, es, e->edges));
    char text[512];
    snprintf(text, sizeof text,
             "sakd %s T=%zu: present the static input at each of T steps of dt=%g; the logits are "
             "the mean over the T steps of output; LIF tau=dt/(1-decay), r=1/(1-decay), "
             "v_leak=0, v_reset=0 (forward Euler); sakd fires at v >= v_threshold",
             m->desc.name, m->desc.T, e->dt);
    SAKD_TRY(sakd_h5_write_strings(e->f, "/node/metadata/sakd_semantics", 0, NULL,
                                   (const char *[]){text}));
    float dt = (float)e->dt, T = (float)m->desc.T;
    SAKD_TRY(sakd_h5_write_float(e->f, "/node/metadata/dt", 0, NULL, &dt));
    return sakd_h5_write_float(e->f, "/node/metadata/T", 0, NULL, &T);
}

sakd_status sakd_nir_export(sakd_model *m, double dt, const char *path)
{
    if (!m->graph.snn)
        return sakd_error(SAKD_ERR_ARG,
                          "NIR export: %s is an ANN; NIR export is for spiking "
                          "networks",
                          m->desc.name);
    if (!(dt > 0))
        return sakd_error(SAKD_ERR_ARG, "NIR export: the time step dt must be positive (%g)", dt);
    exporter e = {.m = m, .dt = dt};
    e.names = calloc(2 * m->graph.n_nodes + 8, sizeof *e.names);
    e.src = calloc(m->graph.n_acts, sizeof *e.src);
    if (!e.names || !e.src) {
        free(e.names), free(e.src);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    char tmp[4200];
    sakd_status st = sakd_h5_create_temp(path, &e.f, tmp, sizeof tmp);
    if (st == SAKD_OK) {
        st = write_graph(&e);
        if (st == SAKD_OK)
            st = sakd_h5_commit(e.f, tmp, path);
        else
            sakd_h5_abort(e.f, tmp);
    }
    free(e.names), free(e.src), free(e.edges);
    return st;
}
