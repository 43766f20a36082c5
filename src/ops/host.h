/* host.h — host-side work on a CPU device that shares host memory (the host provider): buffers
 * reached by whole-buffer maps (zero-copy there: ops/gemm_host.c checks it) and work split over a
 * fixed number of host threads, so that results do not depend on scheduling. */
#ifndef SAKD_OPS_HOST_H
#define SAKD_OPS_HOST_H

#include <stddef.h>

#include "runtime/context.h"
#include "runtime/tensor.h"

#define SAKD_HOST_MAX_MAPS 8

/* The buffers mapped for one host operation; each distinct cl_mem is mapped once. */
typedef struct sakd_host_maps {
    cl_mem buf[SAKD_HOST_MAX_MAPS];
    unsigned char *base[SAKD_HOST_MAX_MAPS];
    int n;
} sakd_host_maps;

/* 1 when ctx's GEMMs (and so its convolutions) run on the host (sakd_gemm_provider_name). */
int sakd_host_active(sakd_ctx *ctx);

/* *ptr = the host address of element `offset` of `buf`, mapping it (blocking: every command
 * queued before has finished) unless `m` holds it already. `need` floats from `offset` must lie
 * inside the buffer; `what` names the operand in the message when they do not. */
sakd_status sakd_host_map(sakd_ctx *ctx, sakd_host_maps *m, const char *what, cl_mem buf,
                          size_t offset, size_t need, float **ptr);

/* *ptr = the host address of tensor t's first element (its whole extent mapped as above), or
 * NULL when t is NULL; st is passed through when it is already an error (so that a list of
 * operands maps as `st = sakd_host_map_tensor(ctx, m, t, &p, st);` lines). */
sakd_status sakd_host_map_tensor(sakd_ctx *ctx, sakd_host_maps *m, const sakd_tensor *t,
                                 float **ptr, sakd_status st);

/* The same for bytes: *ptr = the address of byte `offset`; `need` bytes must fit. */
sakd_status sakd_host_map_bytes(sakd_ctx *ctx, sakd_host_maps *m, const char *what, cl_mem buf,
                                size_t offset, size_t need, unsigned char **ptr);

/* Unmaps everything in `m` (queued: later commands of the in-order queue see the host's
 * writes) and returns `st`, or the unmap's error when st was SAKD_OK. */
sakd_status sakd_host_unmap(sakd_ctx *ctx, sakd_host_maps *m, sakd_status st);

/* The host threads of the provider: the host BLAS's thread count. */
int sakd_host_threads(void);

/* Runs fn(arg, t) for t = 0 … n − 1, each on a thread of its own (t = 0 on the caller), with
 * the BLAS single-threaded meanwhile; returns when all are done. */
void sakd_host_parallel(int n, void (*fn)(void *arg, int t), void *arg);

/* The first and one-past-last of `count` items that part t of n takes (contiguous, fixed). */
static inline void sakd_host_range(size_t count, int t, int n, size_t *lo, size_t *hi)
{
    *lo = count * (size_t)t / (size_t)n;
    *hi = count * (size_t)(t + 1) / (size_t)n;
}

#endif
