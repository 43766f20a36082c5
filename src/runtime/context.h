/* context.h — one selected device with its OpenCL context, queue, programs and memory count. */
#ifndef SAKD_RUNTIME_CONTEXT_H
#define SAKD_RUNTIME_CONTEXT_H

#include <stddef.h>

#include "runtime/device.h"

enum sakd_ctx_flags {
    SAKD_CTX_PROFILING = 1 << 0, /* queue with CL_QUEUE_PROFILING_ENABLE */
};

struct sakd_program_entry; /* program.c */
struct sakd_kernel_entry;  /* program.c */
struct sakd_profile;       /* profile.c */

typedef struct sakd_ctx {
    sakd_device_info info; /* the selected device */
    cl_context context;
    cl_command_queue queue; /* in-order */
    unsigned flags;
    /* Programs built so far, keyed by family and options (program.c). */
    struct sakd_program_entry *programs;
    size_t n_programs;
    /* Kernel objects created so far, keyed by program and name (program.c). */
    struct sakd_kernel_entry *kernels;
    size_t n_kernels;
    /* Bytes of device memory held by sakd buffers, now and at most. */
    size_t mem_current;
    size_t mem_peak;
    /* Events of the commands queued since the last sakd_profile_collect, when
     * profiling (SAKD_CTX_PROFILING and sakd_profile_start). */
    struct sakd_profile *profile;
    /* What sakd_ctx_free runs before it releases the context, the last registered first
     * (sakd_ctx_on_release): the state libraries keep per context (oneDNN's primitives,
     * CLBlast's program cache) goes while the context is still alive. */
    void (*release_hooks[4])(struct sakd_ctx *ctx);
    int n_release_hooks;
    /* State the layers above keep per context, opaque here: src/ops keeps its GEMM provider,
     * tuning and convolution route there (ops/ops_state.h) and frees it by a release hook. */
    void *ops;
    /* The last work queued (a sakd kernel, else last_op names it), for the message when a
     * later wait or transfer finds the device failed: an in-order queue reports an earlier
     * command's failure at the next point that waits. */
    cl_kernel last_kernel;
    const char *last_op;
    /* The ranks whose batch statistics the BN layers of this context share in training
     * (train.sync_bn, runtime/dist.h); NULL: each rank's own batch. */
    struct sakd_dist *bn_group;
} sakd_ctx;

/* Selects a device by `spec` (see sakd_device_select; NULL means the
 * SAKD_DEVICE environment variable, else the default) and creates its
 * context and in-order queue. */
sakd_status sakd_ctx_new(sakd_ctx **ctx, const char *spec, unsigned flags);

/* Flags added to every context created afterwards in this process (benchmarks that
 * profile contexts made by other code). */
void sakd_ctx_set_default_flags(unsigned flags);
void sakd_ctx_free(sakd_ctx *ctx);

/* Registers `fn` to run in sakd_ctx_free before the context is released (at most 4). */
sakd_status sakd_ctx_on_release(sakd_ctx *ctx, void (*fn)(sakd_ctx *ctx));

/* Waits for every command queued so far. */
sakd_status sakd_ctx_finish(sakd_ctx *ctx);

/* Names the last work queued ("kernel lif_fwd", "CLBlast GEMM", "no kernel yet") in `buf`, for
 * messages about failures found at a later wait or transfer. */
const char *sakd_ctx_last_work(sakd_ctx *ctx, char *buf, size_t size);

/* The error for OpenCL status `err` found while `what` (a wait or a transfer): names the
 * device, the error, and the last work queued before it, which is where an asynchronous
 * failure (a faulting kernel, a lost device) most likely happened. */
sakd_status sakd_ctx_device_error(sakd_ctx *ctx, cl_int err, const char *what);

/* Device buffer of `bytes` bytes, counted in mem_current/mem_peak. `what`
 * names the buffer in the message when allocation fails. */
sakd_status sakd_buffer_new(sakd_ctx *ctx, const char *what, size_t bytes, cl_mem *buf);
void sakd_buffer_free(sakd_ctx *ctx, cl_mem buf, size_t bytes);

/* A kernel argument for sakd_launch: its size and address. */
typedef struct sakd_arg {
    size_t size;
    const void *value;
} sakd_arg;
#define SAKD_ARG(x) ((sakd_arg){sizeof(x), &(x)})
/* A value as a kernel argument of the kernel's type: SAKD_ULONG(n0) passes a size_t as ulong,
 * SAKD_INT(flag) an int as int. The compound literal lives to the end of the enclosing block,
 * so it outlives the launch it is an argument of. */
#define SAKD_ULONG(x) ((sakd_arg){sizeof(cl_ulong), &(cl_ulong){(x)}})
#define SAKD_UINT(x) ((sakd_arg){sizeof(cl_uint), &(cl_uint){(x)}})
#define SAKD_INT(x) ((sakd_arg){sizeof(cl_int), &(cl_int){(x)}})
#define SAKD_FLOAT(x) ((sakd_arg){sizeof(cl_float), &(cl_float){(x)}})

/* Sets the arguments of `kernel` and enqueues it over `n` work-items in
 * one dimension (rounded up to whole work-groups; kernels bound-check).
 * Errors name the kernel. */
sakd_status sakd_launch_1d(sakd_ctx *ctx, cl_kernel kernel, size_t n, size_t nargs,
                           const sakd_arg *args);

/* The same over a [rows, len] grid: dimension 0 runs along a row (len, the fast index),
 * dimension 1 over the rows, groups of up to 64 work-items (a power of two along the row, at
 * most len rounded up, the rest across rows); both rounded up to whole groups, kernels
 * bound-check. For element-wise kernels on [N, C, P] tensors whose per-row quantities (the
 * channel) then cost one division per row instead of one per element. */
sakd_status sakd_launch_rows(sakd_ctx *ctx, cl_kernel kernel, size_t len, size_t rows, size_t nargs,
                             const sakd_arg *args);

/* The same as `groups` work-groups of exactly `wg` work-items (the reductions, whose tree
 * depends on the group size; the caller checks that the kernel can run groups of wg). */
sakd_status sakd_launch_groups(sakd_ctx *ctx, cl_kernel kernel, size_t groups, size_t wg,
                               size_t nargs, const sakd_arg *args);

/* The launches above with their arguments listed and counted here, e.g.
 *   SAKD_LAUNCH_1D(ctx, k, n, SAKD_ARG(y->buf), SAKD_ULONG(y->offset), SAKD_ARG(n))
 * instead of a hand-typed count next to a compound-literal array. */
#define SAKD_NARGS(...) (sizeof((sakd_arg[]){__VA_ARGS__}) / sizeof(sakd_arg))
#define SAKD_LAUNCH_1D(ctx, kernel, n, ...)                                                        \
    sakd_launch_1d(ctx, kernel, n, SAKD_NARGS(__VA_ARGS__), (sakd_arg[]){__VA_ARGS__})
#define SAKD_LAUNCH_ROWS(ctx, kernel, len, rows, ...)                                              \
    sakd_launch_rows(ctx, kernel, len, rows, SAKD_NARGS(__VA_ARGS__), (sakd_arg[]){__VA_ARGS__})
#define SAKD_LAUNCH_GROUPS(ctx, kernel, groups, wg, ...)                                           \
    sakd_launch_groups(ctx, kernel, groups, wg, SAKD_NARGS(__VA_ARGS__), (sakd_arg[]){__VA_ARGS__})

#endif
