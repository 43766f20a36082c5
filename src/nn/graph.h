/* graph.h — a network as a list of nodes over named activations, built once for a fixed batch
 * size, run forward (train or eval) and backward through time. The same description serves the
 * ANN (act = ReLU) and the SNN (act = multi-step LIF over time-major [T·B, ...] tensors). */
#ifndef SAKD_NN_GRAPH_H
#define SAKD_NN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "nn/params.h"
#include "ops/conv.h"
#include "ops/lif.h"
#include "ops/pool.h"
#include "ops/shape.h"

typedef enum sakd_node_kind {
    SAKD_NODE_CONV,
    SAKD_NODE_BN,
    SAKD_NODE_LIF,
    SAKD_NODE_RELU,
    SAKD_NODE_ADD,
    SAKD_NODE_SEW,
    SAKD_NODE_MAXPOOL,
    SAKD_NODE_GAP,
    SAKD_NODE_REPEAT_T,
    SAKD_NODE_MEAN_T,
    SAKD_NODE_LINEAR,
    SAKD_NODE_ADAPTIVE_AVGPOOL,
    SAKD_NODE_DROPOUT,
    SAKD_NODE_KIND_COUNT
} sakd_node_kind;

/* An activation: the output of one node (or the graph input). */
typedef struct sakd_act {
    char name[96];
    int ndim;
    size_t shape[4];
    int time_major;    /* leading dimension is T·B rather than B */
    int needs_grad;    /* 0 for the input and what depends only on it without parameters */
    sakd_tensor value; /* kept for the backward pass */
    sakd_tensor grad;  /* d loss / d value, when needs_grad */
    int grad_ready;    /* during backward: grad holds the complete sum so far */
    int keep_plain;    /* read or seeded from outside the graph: kept in the plain layout */
} sakd_act;

/* A node: one layer. What each kind does (allocate, forward, backward, release, cost) is one
 * entry of the table in graph.c; its own state is the member of `u` named by its kind. */
struct sakd_spike_node; /* graph.c: a spike-fed layer's active set and choice */

typedef struct sakd_node {
    sakd_node_kind kind;
    char name[96]; /* module name, e.g. "layer1.0.bn1" */
    int in[2];     /* activation ids (in[1] = -1 when unused) */
    int out;
    size_t param[4]; /* conv: weight, bias (SIZE_MAX: none); bn: weight, bias, running_mean,
                        running_var; linear: weight, bias */
    union {
        sakd_conv2d_params conv; /* SAKD_NODE_CONV */
        struct {
            sakd_tensor mean, invstd; /* [C]: the statistics the forward used */
        } bn;                         /* SAKD_NODE_BN */
        sakd_lif_cache lif;           /* SAKD_NODE_LIF: h and spikes for BPTT */
        struct {
            sakd_pool2d pool;
            sakd_pool_index index; /* argmax */
        } maxpool;                 /* SAKD_NODE_MAXPOOL */
        sakd_sew_connect sew;      /* SAKD_NODE_SEW */
        struct {
            float p;       /* drop probability */
            uint64_t salt; /* this node's own stream: the graph's seed hashed with the node */
        } dropout;         /* SAKD_NODE_DROPOUT */
    } u;
    /* A convolution whose input is a LIF layer's spikes (SNN): what its spike-driven passes
     * keep (ops/spike_route.h decides per step); NULL otherwise. */
    struct sakd_spike_node *spike;
    /* Inputs this node reads in another layout than their activation's (the graph's layout
     * plan, sakd_graph_allocate): converted into conv_in[k] (layout convert_in[k] − 1: plain,
     * or the block) before the forward, their gradient converted back after the backward. */
    int convert_in[2];
    sakd_tensor conv_in[2];
    /* A convolution with no native output block: the block the plan found its output converted
     * to downstream (an add's other operand), which it then writes instead (0: none). */
    int want_out;
} sakd_node;

typedef struct sakd_graph {
    sakd_ctx *ctx;
    sakd_params *params; /* where parameters are registered (may be shared) */
    int snn;             /* act() builds LIF (1) or ReLU (0) */
    size_t T;            /* time steps (1 for the ANN) */
    size_t batch;        /* B */
    sakd_lif_params lif;
    sakd_act *acts;
    size_t n_acts, cap_acts;
    sakd_node *nodes;
    size_t n_nodes, cap_nodes;
    size_t workspace_floats; /* conv im2col workspace, shared by all conv nodes */
    sakd_tensor workspace;
    sakd_tensor scratch[2];   /* [largest activation] each, for gradient sums at fan-out */
    sakd_tensor conv_grad[2]; /* [largest converted input]: gradients before conversion */
    int plain_only;           /* no channel-blocked activations (sakd_graph_plain_layouts) */
    sakd_status status;       /* first error while building; builders return -1 after it */
    int allocated;
    int train;                   /* the mode of the last forward; backward differentiates it */
    uint64_t rng_seed, rng_step; /* dropout masks: sakd_graph_set_rng */
    /* Spike-fed convolutions in training since the graph was built: the synaptic operations
     * (additions of weight or gradient vectors' elements) their spike-driven passes executed,
     * forward and weight gradient, the dense multiply-accumulates those passes replaced, and
     * how many passes (forward or weight gradient of one layer) ran each way. Evaluation
     * forwards are not counted. */
    double spike_ops, spike_replaced_macs;
    size_t spike_passes, dense_passes;
} sakd_graph;

/* Starts a graph for batch B; an SNN uses T steps and `lif`, an ANN (snn = 0) T = 1. */
void sakd_graph_init(sakd_graph *g, sakd_ctx *ctx, sakd_params *params, int snn, size_t T,
                     size_t batch, const sakd_lif_params *lif);

/* Builders: each returns the id of its output activation, or -1 once g->status is an error.
 * Shapes are checked as the graph is built. `name` is the module name; parameters are
 * registered as name + ".weight" etc. in torchvision's naming. */
int sakd_graph_input(sakd_graph *g, const char *name, size_t channels, size_t height, size_t width);
/* An input whose gradient backward computes (e.g. a distillation head fed by the student). */
int sakd_graph_input_with_grad(sakd_graph *g, const char *name, size_t channels, size_t height,
                               size_t width);
int sakd_graph_conv(sakd_graph *g, const char *name, int in, size_t cout, size_t k, size_t stride,
                    size_t pad);
/* The same convolution with a bias (`name`.bias, torchvision's VGG convs). */
int sakd_graph_conv_with_bias(sakd_graph *g, const char *name, int in, size_t cout, size_t k,
                              size_t stride, size_t pad);
int sakd_graph_bn(sakd_graph *g, const char *name, int in);
/* Adds the network's neuron after `in`: LIF in an SNN, ReLU in an ANN (not to be confused
 * with sakd_act, an activation tensor of the graph). */
int sakd_graph_neuron(sakd_graph *g, const char *name, int in);
int sakd_graph_relu(sakd_graph *g, const char *name, int in);
int sakd_graph_add(sakd_graph *g, const char *name, int a, int b);
int sakd_graph_sew(sakd_graph *g, const char *name, int out, int id, sakd_sew_connect connect);
int sakd_graph_maxpool(sakd_graph *g, const char *name, int in, size_t k, size_t stride,
                       size_t pad);
int sakd_graph_gap(sakd_graph *g, const char *name, int in); /* [N,C,H,W] → [N,C] */
/* [N,C,H,W] → [N,C,oh,ow] by PyTorch's AdaptiveAvgPool2d (ops/pool.h). */
int sakd_graph_adaptive_avgpool(sakd_graph *g, const char *name, int in, size_t oh, size_t ow);
/* Inverted dropout with probability p in a train-mode forward (ops/dropout.h), the identity in
 * eval mode. The mask of a time-major input is the same at every time step; masks come from
 * the graph's seed and step (sakd_graph_set_rng), so a resumed run draws the same ones. */
int sakd_graph_dropout(sakd_graph *g, const char *name, int in, float p);
int sakd_graph_repeat_time(sakd_graph *g, const char *name, int in); /* [B,…] → [T·B,…] */
int sakd_graph_mean_time(sakd_graph *g, const char *name, int in);   /* [T·B,…] → [B,…] */
int sakd_graph_linear(sakd_graph *g, const char *name, int in, size_t out_features);

/* The random stream of the next train-mode forwards: dropout masks are a function of (seed,
 * step, node), so the trainer sets its seed and optimizer step before each step's forward. */
void sakd_graph_set_rng(sakd_graph *g, uint64_t seed, uint64_t step);

/* Allocates activations, gradients and caches (after the parameters are allocated), and plans
 * the activations' layouts (runtime/tensor.h): on the host provider with oneDNN, a convolution's
 * output takes the channel-blocked layout its primitives read and write without reorders, and
 * the layers between convolutions (BN, LIF, ReLU, residual adds, means over T) keep it; layers
 * that need the plain layout (pooling, linear, dropout, spike-driven convolutions) convert their
 * input. Every result is the same, bit for bit, as in the plain layout. SAKD_LAYOUT=plain in the
 * environment keeps every activation plain. */
sakd_status sakd_graph_allocate(sakd_graph *g);

/* Activation id is read or seeded from outside the graph (a distillation tap, the numerics
 * trace): it stays in the plain layout (the plan is made again). */
sakd_status sakd_graph_keep_plain(sakd_graph *g, int id);

/* Every activation in the plain layout from now on. */
sakd_status sakd_graph_plain_layouts(sakd_graph *g);

/* Forward from the input activation (already filled: sakd_graph_input_tensor). train = 1:
 * BN uses batch statistics and updates its running statistics; 0: running statistics. The
 * mode is kept for the backward pass. */
sakd_status sakd_graph_forward(sakd_graph *g, int train);

/* Backward of the last forward, in its mode (after an eval-mode forward BN differentiates the
 * normalization by its running statistics): seeds[i] (the same shape as activation
 * seed_ids[i]) are added to the gradients of those activations (the loss gradient of the
 * output, feature-KD gradients of taps), then gradients flow back to every parameter (written
 * into params->grads). */
sakd_status sakd_graph_backward(sakd_graph *g, size_t n_seeds, const int *seed_ids,
                                const sakd_tensor *const *seeds);

/* Activation by id, and the id of a named activation (-1 when absent). */
sakd_act *sakd_graph_act_get(sakd_graph *g, int id);
int sakd_graph_find(const sakd_graph *g, const char *name);

/* What the metric walks (synaptic operations, firing rates, memory) need of a node, from its
 * kind's entry in the table: the multiply-accumulates per row of its output (an image, or an
 * image at one time step for a time-major output) of a synaptic layer (conv, linear), else 0;
 * and whether its output is a spike train (LIF). */
double sakd_node_macs_per_row(const sakd_graph *g, const sakd_node *n);
int sakd_node_spikes(const sakd_node *n);

/* Whether node n is a spike-fed convolution or linear layer whose last forward ran
 * spike-driven. */
int sakd_node_spike_driven(const sakd_node *n);

/* Bytes of device memory held for the backward pass: every activation's value and what the
 * nodes keep beside them (LIF: h and the spikes; BN: its statistics; max pool: the argmax). */
double sakd_graph_stored_bytes(const sakd_graph *g);

void sakd_graph_free(sakd_graph *g);

#endif
