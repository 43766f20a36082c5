/* lif.h — multi-step LIF spiking neuron (DESIGN.md §2.1) on time-major [T·B, ...] tensors:
 * forward and BPTT backward with a triangle, sigmoid or atan surrogate gradient. */
#ifndef SAKD_OPS_LIF_H
#define SAKD_OPS_LIF_H

#include <stdint.h>

#include "ops/types.h"
#include "runtime/tensor.h"

typedef struct sakd_lif_params {
    float decay;              /* λ, default 0.5 (τ = 2) */
    float threshold;          /* V_th, default 1.0 */
    sakd_lif_reset reset;     /* default hard */
    int detach_reset;         /* 1: no gradient through the reset term; default 0 */
    sakd_surrogate surrogate; /* default triangle */
    float alpha;              /* surrogate sharpness α (sigmoid, atan) */
} sakd_lif_params;

/* The defaults of DESIGN.md §2.1: λ 0.5, V_th 1, hard reset, reset not detached, triangle. */
sakd_lif_params sakd_lif_params_default(void);

/* The largest T whose loop the lif program unrolls (above it, T is a kernel argument). */
#define SAKD_LIF_UNROLL_MAX 32

/* The build options of the lif program for `p` and T steps (surrogate, reset and detach are
 * compile-time, and T up to SAKD_LIF_UNROLL_MAX; T = 0: the program for any T). */
void sakd_lif_program_options(const sakd_lif_params *p, size_t T, char *buf, size_t size);

/* What lif_forward keeps for lif_backward. Choice: h (the membrane potential before reset) is
 * stored as float rather than recomputed, so that backward is one pass that does not need x;
 * the spikes are kept as bytes (the compact record, also usable for firing-rate statistics)
 * and backward reads s from them, so it uses exactly the spikes forward emitted. */
typedef struct sakd_lif_cache {
    sakd_tensor h; /* [T·B, ...] float, h[t] before reset */
    sakd_ctx *ctx;
    cl_mem spikes;        /* uint8 [T·B·N], 0 or 1 */
    size_t spikes_offset; /* in bytes */
    size_t n;             /* elements (T·B·N) of h and spikes */
    int owner;            /* 1 when the cache allocated spikes */
} sakd_lif_cache;

/* Allocates a cache for inputs of `shape` ([T·B, ...]); h is named "<name>.h". */
sakd_status sakd_lif_cache_new(sakd_lif_cache *cache, sakd_ctx *ctx, const char *name, int ndim,
                               const size_t *shape);
/* Frees what the cache owns; safe on a zeroed cache. */
void sakd_lif_cache_free(sakd_lif_cache *cache);
/* Copies the spike record (n bytes) to host memory. */
sakd_status sakd_lif_cache_download_spikes(const sakd_lif_cache *cache, uint8_t *host);

/* Forward over T steps. x, s: [T·B, ...] of the same shape, shape[0] divisible by T; the cache
 * must hold as many elements. Writes s (0/1 floats), cache->h and cache->spikes. */
sakd_status sakd_lif_forward(sakd_tensor *s, sakd_lif_cache *cache, const sakd_tensor *x, size_t T,
                             const sakd_lif_params *params);

/* BPTT backward. gs, gx: [T·B, ...] like s; WRITES gx (overwrites; gx may be gs itself). The
 * params must be those given to forward. */
sakd_status sakd_lif_backward(sakd_tensor *gx, const sakd_lif_cache *cache, const sakd_tensor *gs,
                              size_t T, const sakd_lif_params *params);

#endif
