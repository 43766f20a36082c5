/* params.h — the named parameters and buffers of a network in a few large device buffers:
 * values, gradients and BN running statistics, each entry a view at an offset. */
#ifndef SAKD_NN_PARAMS_H
#define SAKD_NN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tensor.h"

/* How a parameter is initialized (PyTorch defaults). */
typedef enum sakd_init {
    SAKD_INIT_ZERO,         /* BN bias, BN running mean */
    SAKD_INIT_ONE,          /* BN weight, BN running var */
    SAKD_INIT_KAIMING_OUT,  /* conv: N(0, sqrt(2 / fan_out)), torchvision ResNet */
    SAKD_INIT_UNIFORM_FANIN /* linear weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} sakd_init;

typedef struct sakd_param {
    char name[96]; /* torchvision name, e.g. "layer1.0.conv1.weight" */
    int ndim;
    size_t shape[SAKD_TENSOR_MAX_DIMS];
    size_t offset; /* in floats, into the store's value (and grad) buffer */
    size_t numel;
    int trainable; /* 0: a BN running statistic (a buffer) */
    sakd_init init;
    size_t fan_in, fan_out;
    sakd_tensor value, grad; /* views; grad is unset for buffers */
} sakd_param;

typedef struct sakd_params {
    sakd_ctx *ctx;
    sakd_param *items;
    size_t count, cap;
    size_t n_trainable;  /* floats in `values`/`grads` */
    size_t n_buffers;    /* floats in `buffers` */
    sakd_tensor values;  /* [n_trainable] every trainable parameter */
    sakd_tensor grads;   /* [n_trainable] their gradients, same offsets */
    sakd_tensor buffers; /* [n_buffers] BN running statistics */
    int allocated;
} sakd_params;

void sakd_params_init(sakd_params *p, sakd_ctx *ctx);

/* Registers a parameter before allocation; *index receives its position. Names are unique. */
sakd_status sakd_params_add(sakd_params *p, const char *name, int ndim, const size_t *shape,
                            int trainable, sakd_init init, size_t fan_in, size_t fan_out,
                            size_t *index);

/* Allocates the buffers and sets every entry's views (contents undefined). */
sakd_status sakd_params_allocate(sakd_params *p);

/* Initializes every entry by its rule from counter-based random numbers of `seed`: the same
 * seed gives the same values on every device. */
sakd_status sakd_params_initialize(sakd_params *p, uint64_t seed);

/* Index of `name`, or -1. */
long sakd_params_find(const sakd_params *p, const char *name);

void sakd_params_free(sakd_params *p);

#endif
