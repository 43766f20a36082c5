/* model.h — the architectures of DESIGN.md §2.4 (resnet19, resnet18…152, sew_resnet18…152,
 * vgg11) built from one description as ANN (ReLU) or SNN (LIF), with torchvision parameter
 * names and the feature taps used for distillation. */
#ifndef SAKD_NN_MODEL_H
#define SAKD_NN_MODEL_H

#include "nn/graph.h"

#define SAKD_MODEL_MAX_TAPS 64

typedef struct sakd_model_desc {
    char name[32];            /* resnet19, resnet18/34/50/101/152, sew_resnet…, vgg11 */
    int snn;                  /* 1: LIF neurons over T steps; 0: the ANN twin (ReLU) */
    double width;             /* channel multiplier */
    int stem_imagenet;        /* 0: cifar stem (conv3x3 s1); 1: conv7x7 s2 + max pool */
    sakd_sew_connect connect; /* SEW only */
    size_t T;                 /* time steps (SNN) */
    sakd_lif_params lif;
    double dropout; /* vgg11's classifier dropout (0.5, as torchvision); other models: unused */
    size_t in_channels, height, width_px, classes;
    size_t batch; /* the graph is built for this batch size */
} sakd_model_desc;

/* Where features are tapped: after the block's output spikes, or at the input of its final
 * neuron (DESIGN.md §2.5). */
typedef enum sakd_tap_kind { SAKD_TAP_AFTER = 0, SAKD_TAP_BEFORE = 1 } sakd_tap_kind;

typedef struct sakd_model {
    sakd_model_desc desc;
    sakd_graph graph;
    int input;  /* activation id of the input images [B, C, H, W] */
    int logits; /* activation id of the logits [B, classes] (mean over T for the SNN) */
    /* Per block, in order: activation ids of the two tap kinds, and the stage it ends. */
    int block_tap[SAKD_MODEL_MAX_TAPS][2];
    int block_is_stage_end[SAKD_MODEL_MAX_TAPS];
    size_t n_blocks;
    int is_sew;
} sakd_model;

/* Fills a description with the defaults of DESIGN.md §3.3 for `name`. */
void sakd_model_desc_default(sakd_model_desc *d, const char *name);

/* Whether `name` is a known architecture. */
int sakd_model_known(const char *name);

/* Builds the graph (registering parameters in `params`, which the caller allocates and
 * initializes afterwards, then calls sakd_graph_allocate). */
sakd_status sakd_model_build(sakd_model *m, sakd_ctx *ctx, sakd_params *params,
                             const sakd_model_desc *d);

/* Tap activation ids for a position: stage (block ends of each stage) or every block, after or
 * before the spike; returns the count written to ids (at most max). */
size_t sakd_model_taps(const sakd_model *m, int per_block, sakd_tap_kind kind, int *ids,
                       size_t max);

void sakd_model_free(sakd_model *m);

#endif
