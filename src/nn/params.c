/* params.c — registration, allocation and initialization of named parameters. */
#include "nn/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rng.h"

void sakd_params_init(sakd_params *p, sakd_ctx *ctx)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
}

long sakd_params_find(const sakd_params *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return (long)i;
    return -1;
}

sakd_status sakd_params_add(sakd_params *p, const char *name, int ndim, const size_t *shape,
                            int trainable, sakd_init init, size_t fan_in, size_t fan_out,
                            size_t *index)
{
    if (p->allocated)
        return sakd_error(SAKD_ERR_ARG, "parameter %s added after allocation", name);
    if (strlen(name) >= sizeof p->items[0].name)
        return sakd_error(SAKD_ERR_ARG, "parameter name too long: %s", name);
    if (sakd_params_find(p, name) >= 0)
        return sakd_error(SAKD_ERR_ARG, "parameter %s registered twice", name);
    if (ndim < 1 || ndim > SAKD_TENSOR_MAX_DIMS)
        return sakd_error(SAKD_ERR_ARG, "parameter %s: %d dimensions", name, ndim);
    if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        sakd_param *grown = realloc(p->items, cap * sizeof *grown);
        if (!grown)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory registering %s", name);
        p->items = grown;
        p->cap = cap;
    }
    sakd_param *e = &p->items[p->count];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->numel = 1;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        e->numel *= shape[i];
    }
    e->trainable = trainable;
    e->init = init;
    e->fan_in = fan_in;
    e->fan_out = fan_out;
    if (trainable) {
        e->offset = p->n_trainable;
        p->n_trainable += e->numel;
    } else {
        e->offset = p->n_buffers;
        p->n_buffers += e->numel;
    }
    if (index)
        *index = p->count;
    p->count++;
    return SAKD_OK;
}

sakd_status sakd_params_allocate(sakd_params *p)
{
    if (p->n_trainable) {
        SAKD_TRY(sakd_tensor_new(&p->values, p->ctx, "parameters", 1, &p->n_trainable));
        SAKD_TRY(sakd_tensor_new(&p->grads, p->ctx, "gradients", 1, &p->n_trainable));
        /* zero until a backward writes them: a parameter a step leaves out gets no update
         * from whatever the allocation held */
        SAKD_TRY(sakd_tensor_fill(&p->grads, 0.0f));
    }
    if (p->n_buffers)
        SAKD_TRY(sakd_tensor_new(&p->buffers, p->ctx, "BN running statistics", 1, &p->n_buffers));
    for (size_t i = 0; i < p->count; i++) {
        sakd_param *e = &p->items[i];
        if (e->trainable) {
            SAKD_TRY(
                sakd_tensor_view(&e->value, &p->values, e->name, e->offset, e->ndim, e->shape));
            SAKD_TRY(sakd_tensor_view(&e->grad, &p->grads, e->name, e->offset, e->ndim, e->shape));
        } else {
            SAKD_TRY(
                sakd_tensor_view(&e->value, &p->buffers, e->name, e->offset, e->ndim, e->shape));
        }
    }
    p->allocated = 1;
    return SAKD_OK;
}

sakd_status sakd_params_initialize(sakd_params *p, uint64_t seed)
{
    /* Each entry draws from its own counter range: index i of entry k is counter
     * (k << 40) + i, so adding a parameter never shifts another's values. */
    for (size_t k = 0; k < p->count; k++) {
        sakd_param *e = &p->items[k];
        uint64_t base = (uint64_t)k << 40;
        switch (e->init) {
        case SAKD_INIT_ZERO: SAKD_TRY(sakd_tensor_fill(&e->value, 0.0f)); break;
        case SAKD_INIT_ONE: SAKD_TRY(sakd_tensor_fill(&e->value, 1.0f)); break;
        case SAKD_INIT_KAIMING_OUT:
            SAKD_TRY(sakd_rng_normal_fill(&e->value, seed, base, 0.0f,
                                          (float)sqrt(2.0 / (double)e->fan_out)));
            break;
        case SAKD_INIT_UNIFORM_FANIN: {
            float b = (float)(1.0 / sqrt((double)e->fan_in));
            SAKD_TRY(sakd_rng_uniform_fill(&e->value, seed, base, -b, b));
            break;
        }
        }
    }
    return SAKD_OK;
}

void sakd_params_free(sakd_params *p)
{
    sakd_tensor_free(&p->values);
    sakd_tensor_free(&p->grads);
    sakd_tensor_free(&p->buffers);
    free(p->items);
    memset(p, 0, sizeof *p);
}
