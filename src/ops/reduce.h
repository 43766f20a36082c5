/* reduce.h — (private to src/ops) the group size, build options and kernels of the fixed-tree
 * sums of cl/reduce.clh; they run one work-group per channel through sakd_launch_groups. */
#ifndef SAKD_OPS_REDUCE_H
#define SAKD_OPS_REDUCE_H

#include <stdio.h>

#include "runtime/program.h"

/* Work-items per reduction group: the largest power of two <= 128 the device allows. It
 * depends only on the device, so the reduction tree is the same on every run. */
static inline size_t sakd_reduce_wg(const sakd_ctx *ctx)
{
    size_t wg = 128;
    while (wg > 1 && wg > ctx->info.max_work_group)
        wg /= 2;
    return wg;
}

/* The build options "-DRED_WG=<wg>" of a family that includes reduce.clh; every kernel of the
 * family is fetched with them, so that the family is built once. */
typedef struct sakd_reduce_opts {
    size_t wg;
    char options[32];
} sakd_reduce_opts;

static inline sakd_reduce_opts sakd_reduce_options(const sakd_ctx *ctx)
{
    sakd_reduce_opts o;
    o.wg = sakd_reduce_wg(ctx);
    snprintf(o.options, sizeof o.options, "-DRED_WG=%zu", o.wg);
    return o;
}

/* Reduction kernel `name` of `family`; checks that it can run groups of o->wg work-items. */
static inline sakd_status sakd_reduce_kernel(sakd_ctx *ctx, const char *family, const char *name,
                                             const sakd_reduce_opts *o, cl_kernel *kernel)
{
    size_t wg = o->wg;
    SAKD_TRY(sakd_kernel_get(ctx, family, o->options, name, kernel));
    size_t kmax = 0;
    SAKD_CL_CHECK(clGetKernelWorkGroupInfo(*kernel, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kmax, &kmax, NULL));
    if (kmax < wg)
        return sakd_error(SAKD_ERR_OPENCL,
                          "kernel %s runs at most %zu work-items per group, %zu needed", name, kmax,
                          wg);
    return SAKD_OK;
}

#endif
