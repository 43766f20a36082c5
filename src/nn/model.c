/* model.c — ResNet-19, torchvision ResNets, SEW-ResNets and VGG-11 from one description. */
#include "nn/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/model_names.h"

typedef struct arch {
    const char *name;
    int bottleneck; /* 1: Bottleneck blocks (expansion 4) */
    int sew;
    int resnet19;
    size_t blocks[4]; /* per stage; 0 ends the list */
} arch;

static const arch archs[] = {
    {"resnet19", 0, 0, 1, {3, 3, 2, 0}},       {"resnet18", 0, 0, 0, {2, 2, 2, 2}},
    {"resnet34", 0, 0, 0, {3, 4, 6, 3}},       {"resnet50", 1, 0, 0, {3, 4, 6, 3}},
    {"resnet101", 1, 0, 0, {3, 4, 23, 3}},     {"resnet152", 1, 0, 0, {3, 8, 36, 3}},
    {"sew_resnet18", 0, 1, 0, {2, 2, 2, 2}},   {"sew_resnet34", 0, 1, 0, {3, 4, 6, 3}},
    {"sew_resnet50", 1, 1, 0, {3, 4, 6, 3}},   {"sew_resnet101", 1, 1, 0, {3, 4, 23, 3}},
    {"sew_resnet152", 1, 1, 0, {3, 8, 36, 3}},
};

static const arch *find_arch(const char *name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i].name, name) == 0)
            return &archs[i];
    return NULL;
}

/* The names of SAKD_MODEL_NAMES: every one is a ResNet of archs[] or vgg11. */
#define MODEL_NAME(id, name) name,
static const char *const model_names[] = {SAKD_MODEL_NAMES(MODEL_NAME)};
#undef MODEL_NAME
_Static_assert(sizeof archs / sizeof archs[0] + 1 == sizeof model_names / sizeof model_names[0],
               "every model name has a builder: a ResNet of archs[], or vgg11");

int sakd_model_known(const char *name)
{
    for (size_t i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
        if (strcmp(model_names[i], name) == 0)
            return find_arch(name) != NULL || strcmp(name, "vgg11") == 0;
    return 0;
}

void sakd_model_desc_default(sakd_model_desc *d, const char *name)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->snn = 1;
    d->width = 1.0;
    d->connect = SAKD_SEW_ADD;
    d->T = 4;
    d->lif = sakd_lif_params_default();
    d->dropout = 0.5;
    d->in_channels = 1;
    d->height = d->width_px = 28;
    d->classes = 10;
    d->batch = 128;
}

static size_t scaled(size_t channels, double width)
{
    double v = floor((double)channels * width + 0.5);
    return v < 1.0 ? 1 : (size_t)v;
}

/* Builder state: the model, a name buffer and the current block count. */
typedef struct builder {
    sakd_model *m;
    sakd_graph *g;
} builder;

static const char *nm(char *buf, size_t size, const char *prefix, const char *suffix)
{
    snprintf(buf, size, "%.60s%s%.60s", prefix, *prefix ? "." : "", suffix);
    return buf;
}

/* conv → BN, returning the BN output. */
static int conv_bn(builder *b, const char *prefix, const char *conv, const char *bn, int in,
                   size_t cout, size_t k, size_t stride, size_t pad)
{
    char n1[128], n2[128];
    int x = sakd_graph_conv(b->g, nm(n1, sizeof n1, prefix, conv), in, cout, k, stride, pad);
    return sakd_graph_bn(b->g, nm(n2, sizeof n2, prefix, bn), x);
}

static void record_block(builder *b, int after, int before)
{
    sakd_model *m = b->m;
    if (m->n_blocks < SAKD_MODEL_MAX_TAPS) {
        m->block_tap[m->n_blocks][SAKD_TAP_AFTER] = after;
        m->block_tap[m->n_blocks][SAKD_TAP_BEFORE] = before;
        m->block_is_stage_end[m->n_blocks] = 0;
        m->n_blocks++;
    }
}

/* One residual block (BasicBlock or Bottleneck; plain or SEW); returns its output. */
static int block(builder *b, const arch *a, const char *prefix, int in, size_t planes,
                 size_t stride)
{
    sakd_graph *g = b->g;
    char n[128];
    size_t cin = g->acts[in >= 0 ? in : 0].shape[1];
    size_t cout = a->bottleneck ? 4 * planes : planes;
    const char *sn = g->snn ? "sn" : "relu";
    char s1[16], s2[16], s3[16];
    snprintf(s1, sizeof s1, "%s1", sn);
    snprintf(s2, sizeof s2, "%s2", sn);
    snprintf(s3, sizeof s3, "%s3", sn);
    int out;
    const char *last_sn;
    if (a->bottleneck) {
        out = conv_bn(b, prefix, "conv1", "bn1", in, planes, 1, 1, 0);
        out = sakd_graph_neuron(g, nm(n, sizeof n, prefix, s1), out);
        out = conv_bn(b, prefix, "conv2", "bn2", out, planes, 3, stride, 1);
        out = sakd_graph_neuron(g, nm(n, sizeof n, prefix, s2), out);
        out = conv_bn(b, prefix, "conv3", "bn3", out, cout, 1, 1, 0);
        last_sn = s3;
    } else {
        out = conv_bn(b, prefix, "conv1", "bn1", in, planes, 3, stride, 1);
        out = sakd_graph_neuron(g, nm(n, sizeof n, prefix, s1), out);
        out = conv_bn(b, prefix, "conv2", "bn2", out, planes, 3, 1, 1);
        last_sn = s2;
    }
    int id = in;
    if (stride != 1 || cin != cout) {
        char ds[128];
        nm(ds, sizeof ds, prefix, "downsample");
        id = conv_bn(b, ds, "0", "1", in, cout, 1, stride, 0);
        if (a->sew)
            id = sakd_graph_neuron(g, nm(n, sizeof n, ds, "2"), id);
    }
    if (a->sew) {
        int before = out;
        int spikes = sakd_graph_neuron(g, nm(n, sizeof n, prefix, last_sn), out);
        int y =
            sakd_graph_sew(g, nm(n, sizeof n, prefix, "connect"), spikes, id, b->m->desc.connect);
        record_block(b, y, before);
        return y;
    }
    int sum = sakd_graph_add(g, nm(n, sizeof n, prefix, "add"), out, id);
    int y = sakd_graph_neuron(g, nm(n, sizeof n, prefix, last_sn), sum);
    record_block(b, y, sum);
    return y;
}

/* The stem: conv–BN (computed once for the analog input), repeated over T for the SNN, then
 * the neuron (and the max pool of the imagenet stem). */
static int stem(builder *b, int in, size_t channels)
{
    sakd_graph *g = b->g;
    int x;
    if (b->m->desc.stem_imagenet)
        x = conv_bn(b, "", "conv1", "bn1", in, channels, 7, 2, 3);
    else
        x = conv_bn(b, "", "conv1", "bn1", in, channels, 3, 1, 1);
    if (g->snn)
        x = sakd_graph_repeat_time(g, "encode", x);
    x = sakd_graph_neuron(g, g->snn ? "sn1" : "relu", x);
    if (b->m->desc.stem_imagenet)
        x = sakd_graph_maxpool(g, "maxpool", x, 3, 2, 1);
    return x;
}

static sakd_status build_resnet(builder *b, const arch *a)
{
    sakd_model *m = b->m;
    sakd_graph *g = b->g;
    double w = m->desc.width;
    int x = stem(b, m->input, scaled(64, w));
    static const size_t stage_planes[4] = {64, 128, 256, 512};
    static const size_t resnet19_planes[3] = {128, 256, 512};
    for (size_t s = 0; s < 4 && a->blocks[s]; s++) {
        size_t planes = scaled(a->resnet19 ? resnet19_planes[s] : stage_planes[s], w);
        size_t stride = s == 0 ? 1 : 2;
        for (size_t i = 0; i < a->blocks[s]; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%zu.%zu", s + 1, i);
            x = block(b, a, prefix, x, planes, i == 0 ? stride : 1);
        }
        if (m->n_blocks > 0)
            m->block_is_stage_end[m->n_blocks - 1] = 1;
    }
    x = sakd_graph_gap(g, "avgpool", x);
    if (a->resnet19) {
        x = sakd_graph_linear(g, "fc1", x, scaled(256, w));
        x = sakd_graph_neuron(g, g->snn ? "fc1_sn" : "fc1_relu", x);
        if (g->snn)
            x = sakd_graph_mean_time(g, "readout", x);
        x = sakd_graph_linear(g, "fc2", x, m->desc.classes);
    } else {
        if (g->snn)
            x = sakd_graph_mean_time(g, "readout", x);
        x = sakd_graph_linear(g, "fc", x, m->desc.classes);
    }
    m->logits = x;
    return g->status;
}

/* VGG-11 with BN as torchvision's vgg11_bn: features.N are conv (with bias) N, BN N+1, act N+2
 * with max pools between; avgpool is AdaptiveAvgPool2d(7); classifier.0 Linear(512·49, 4096),
 * .1 act, .2 Dropout, .3 Linear(4096, 4096), .4 act, .5 Dropout, .6 Linear(4096, classes),
 * every channel count and the 4096 scaled by the width. The SNN averages over T before the
 * last linear layer, as resnet19 does before fc2. */
static sakd_status build_vgg11(builder *b)
{
    sakd_model *m = b->m;
    sakd_graph *g = b->g;
    double w = m->desc.width;
    static const long cfg[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};
    int x = m->input;
    size_t idx = 0;
    int first = 1;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        char n1[32], n2[32], n3[32];
        if (cfg[i] < 0) {
            snprintf(n1, sizeof n1, "features.%zu", idx++);
            if (m->n_blocks > 0)
                m->block_is_stage_end[m->n_blocks - 1] = 1;
            /* A 28x28 input reaches 1x1 after 4 pools; the fifth would empty it (torchvision
             * refuses such an input; sakd skips that pool). */
            if (g->acts[x].shape[2] >= 2 && g->acts[x].shape[3] >= 2)
                x = sakd_graph_maxpool(g, n1, x, 2, 2, 0);
            continue;
        }
        snprintf(n1, sizeof n1, "features.%zu", idx);
        snprintf(n2, sizeof n2, "features.%zu", idx + 1);
        snprintf(n3, sizeof n3, "features.%zu", idx + 2);
        idx += 3;
        int y = sakd_graph_conv_with_bias(g, n1, x, scaled((size_t)cfg[i], w), 3, 1, 1);
        y = sakd_graph_bn(g, n2, y);
        int before = y;
        if (first && g->snn)
            y = sakd_graph_repeat_time(g, "encode", y);
        before = first && g->snn ? y : before;
        first = 0;
        x = sakd_graph_neuron(g, n3, y);
        record_block(b, x, before);
    }
    x = sakd_graph_adaptive_avgpool(g, "avgpool", x, 7, 7);
    size_t hidden = scaled(4096, w);
    float p = (float)m->desc.dropout;
    x = sakd_graph_linear(g, "classifier.0", x, hidden);
    x = sakd_graph_neuron(g, "classifier.1", x);
    x = sakd_graph_dropout(g, "classifier.2", x, p);
    x = sakd_graph_linear(g, "classifier.3", x, hidden);
    x = sakd_graph_neuron(g, "classifier.4", x);
    x = sakd_graph_dropout(g, "classifier.5", x, p);
    if (g->snn)
        x = sakd_graph_mean_time(g, "readout", x);
    m->logits = sakd_graph_linear(g, "classifier.6", x, m->desc.classes);
    return g->status;
}

sakd_status sakd_model_build(sakd_model *m, sakd_ctx *ctx, sakd_params *params,
                             const sakd_model_desc *d)
{
    memset(m, 0, sizeof *m);
    m->desc = *d;
    const arch *a = find_arch(d->name);
    if (!a && strcmp(d->name, "vgg11") != 0)
        return sakd_error(SAKD_ERR_ARG,
                          "unknown model '%s' (resnet19, resnet18/34/50/101/152, "
                          "sew_resnet18/34/50/101/152, vgg11)",
                          d->name);
    if (!(d->width > 0) || d->T < 1 || d->batch < 1 || d->classes < 1 || d->in_channels < 1)
        return sakd_error(SAKD_ERR_ARG,
                          "model %s: width, T, batch, classes and channels must "
                          "be positive",
                          d->name);
    m->is_sew = a && a->sew;
    sakd_graph_init(&m->graph, ctx, params, d->snn, d->T, d->batch, &d->lif);
    m->input = sakd_graph_input(&m->graph, "input", d->in_channels, d->height, d->width_px);
    builder b = {m, &m->graph};
    sakd_status st = a ? build_resnet(&b, a) : build_vgg11(&b);
    if (st == SAKD_OK && m->n_blocks >= SAKD_MODEL_MAX_TAPS)
        st = sakd_error(SAKD_ERR_ARG, "model %s has more than %d blocks", d->name,
                        SAKD_MODEL_MAX_TAPS);
    if (st != SAKD_OK)
        return sakd_error(st, "building %s: %s", d->name, sakd_error_detail());
    return SAKD_OK;
}

size_t sakd_model_taps(const sakd_model *m, int per_block, sakd_tap_kind kind, int *ids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_blocks && n < max; i++)
        if (per_block || m->block_is_stage_end[i])
            ids[n++] = m->block_tap[i][kind];
    return n;
}

void sakd_model_free(sakd_model *m)
{
    sakd_graph_free(&m->graph);
    memset(m, 0, sizeof *m);
}
