/* context.c — creates the OpenCL context and queue, allocates buffers and launches kernels. */
#include "runtime/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/profile.h"
#include "runtime/program.h"

static unsigned default_flags;

void sakd_ctx_set_default_flags(unsigned flags)
{
    default_flags = flags;
}

sakd_status sakd_ctx_new(sakd_ctx **out, const char *spec, unsigned flags)
{
    *out = NULL;
    flags |= default_flags;
    if (!spec)
        spec = getenv("SAKD_DEVICE");
    sakd_device_info *list;
    size_t count, index;
    SAKD_TRY(sakd_device_list(&list, &count));
    sakd_status st = sakd_device_select(list, count, spec, &index);
    if (st != SAKD_OK) {
        sakd_device_list_free(list);
        return st;
    }
    sakd_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        sakd_device_list_free(list);
        return sakd_error(SAKD_ERR_NOMEM, "cannot allocate the OpenCL context record");
    }
    ctx->info = list[index];
    ctx->flags = flags;
    sakd_device_list_free(list);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->info.platform,
                                     0};
    ctx->context = clCreateContext(props, 1, &ctx->info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = sakd_error(SAKD_ERR_OPENCL, "cannot create an OpenCL context on %s (%s): %s",
                        ctx->info.name, ctx->info.platform_name, sakd_cl_strerror(err));
        free(ctx);
        return st;
    }
    cl_command_queue_properties qp = (flags & SAKD_CTX_PROFILING) ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->info.device, qp, &err);
    if (err != CL_SUCCESS) {
        st = sakd_error(SAKD_ERR_OPENCL, "cannot create a command queue on %s: %s", ctx->info.name,
                        sakd_cl_strerror(err));
        clReleaseContext(ctx->context);
        free(ctx);
        return st;
    }
    *out = ctx;
    return SAKD_OK;
}

void sakd_ctx_free(sakd_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->queue)
        clFinish(ctx->queue);
    sakd_profile_stop(ctx);
    while (ctx->n_release_hooks > 0)
        ctx->release_hooks[--ctx->n_release_hooks](ctx);
    sakd_program_release_all(ctx);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->context)
        clReleaseContext(ctx->context);
    free(ctx);
}

sakd_status sakd_ctx_on_release(sakd_ctx *ctx, void (*fn)(sakd_ctx *ctx))
{
    int max = (int)(sizeof ctx->release_hooks / sizeof ctx->release_hooks[0]);
    if (ctx->n_release_hooks == max)
        return sakd_error(SAKD_ERR_ARG, "more than %d release hooks on one context", max);
    ctx->release_hooks[ctx->n_release_hooks++] = fn;
    return SAKD_OK;
}

static const char *kernel_name(cl_kernel kernel, char *buf, size_t size);

const char *sakd_ctx_last_work(sakd_ctx *ctx, char *buf, size_t size)
{
    char name[128];
    if (ctx->last_op)
        snprintf(buf, size, "%s", ctx->last_op);
    else if (ctx->last_kernel)
        snprintf(buf, size, "kernel %s", kernel_name(ctx->last_kernel, name, sizeof name));
    else
        snprintf(buf, size, "no kernel yet");
    return buf;
}

sakd_status sakd_ctx_device_error(sakd_ctx *ctx, cl_int err, const char *what)
{
    char last[160];
    return sakd_error(SAKD_ERR_OPENCL,
                      "%s failed with %s on %s: the device failed or was lost; the last work "
                      "queued before it was %s",
                      what, sakd_cl_strerror(err), ctx->info.name,
                      sakd_ctx_last_work(ctx, last, sizeof last));
}

sakd_status sakd_ctx_finish(sakd_ctx *ctx)
{
    cl_int err = clFinish(ctx->queue);
    if (err != CL_SUCCESS)
        return sakd_ctx_device_error(ctx, err, "waiting for the device (clFinish)");
    return SAKD_OK;
}

static void format_bytes(char *buf, size_t size, double bytes)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.1f %s", bytes, unit[u]);
}

sakd_status sakd_buffer_new(sakd_ctx *ctx, const char *what, size_t bytes, cl_mem *buf)
{
    char asked[32], limit[32], total[32], held[32];
    format_bytes(asked, sizeof asked, (double)bytes);
    format_bytes(limit, sizeof limit, (double)ctx->info.max_alloc);
    format_bytes(total, sizeof total, (double)ctx->info.global_mem);
    format_bytes(held, sizeof held, (double)ctx->mem_current);
    if (bytes == 0)
        return sakd_error(SAKD_ERR_ARG, "buffer '%s' has zero size", what);
    if (bytes > ctx->info.max_alloc)
        return sakd_error(SAKD_ERR_NOMEM,
                          "buffer '%s' needs %s, more than the largest single allocation of %s "
                          "(%s, %s in all); try a smaller batch or width",
                          what, asked, ctx->info.name, limit, total);
    cl_int err;
    *buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return sakd_error(err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                                  err == CL_OUT_OF_HOST_MEMORY
                              ? SAKD_ERR_NOMEM
                              : SAKD_ERR_OPENCL,
                          "cannot allocate buffer '%s' of %s on %s (%s held by sakd, device "
                          "has %s, largest allocation %s): %s; try a smaller batch or width",
                          what, asked, ctx->info.name, held, total, limit, sakd_cl_strerror(err));
    ctx->mem_current += bytes;
    if (ctx->mem_current > ctx->mem_peak)
        ctx->mem_peak = ctx->mem_current;
    return SAKD_OK;
}

void sakd_buffer_free(sakd_ctx *ctx, cl_mem buf, size_t bytes)
{
    if (!buf)
        return;
    clReleaseMemObject(buf);
    ctx->mem_current -= bytes < ctx->mem_current ? bytes : ctx->mem_current;
}

static const char *kernel_name(cl_kernel kernel, char *buf, size_t size)
{
    if (clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, size, buf, NULL) != CL_SUCCESS)
        snprintf(buf, size, "?");
    buf[size - 1] = '\0';
    return buf;
}

static sakd_status set_args(cl_kernel kernel, size_t nargs, const sakd_arg *args)
{
    char name[128];
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return sakd_error(SAKD_ERR_OPENCL, "setting argument %zu of kernel %s failed with %s",
                              i, kernel_name(kernel, name, sizeof name), sakd_cl_strerror(err));
    }
    return SAKD_OK;
}

/* Work-items per group: 64, or fewer where the kernel or the device allows fewer. */
static size_t group_size(sakd_ctx *ctx, cl_kernel kernel)
{
    size_t local = 64, kernel_max = 0;
    if (clGetKernelWorkGroupInfo(kernel, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof kernel_max, &kernel_max, NULL) == CL_SUCCESS &&
        kernel_max > 0 && kernel_max < local)
        local = kernel_max;
    if (local > ctx->info.max_work_group)
        local = ctx->info.max_work_group;
    return local;
}

/* Enqueues `kernel` (its arguments set) over `global` in groups of `local` and records it as
 * the context's last work and, when profiling, its event: every sakd kernel launch goes through
 * here. */
static cl_int enqueue(sakd_ctx *ctx, cl_kernel kernel, cl_uint dims, const size_t *global,
                      const size_t *local)
{
    cl_event *ev = sakd_profile_event(ctx, kernel, NULL);
    ctx->last_kernel = kernel;
    ctx->last_op = NULL;
    return clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, global, local, 0, NULL, ev);
}

sakd_status sakd_launch_rows(sakd_ctx *ctx, cl_kernel kernel, size_t len, size_t rows, size_t nargs,
                             const sakd_arg *args)
{
    SAKD_TRY(set_args(kernel, nargs, args));
    if (len == 0 || rows == 0)
        return SAKD_OK;
    size_t wg = group_size(ctx, kernel), l0 = 1;
    while (l0 < len && l0 < wg)
        l0 *= 2;
    if (l0 > wg)
        l0 = wg;
    size_t local[2] = {l0, wg / l0 ? wg / l0 : 1};
    size_t global[2] = {(len + local[0] - 1) / local[0] * local[0],
                        (rows + local[1] - 1) / local[1] * local[1]};
    cl_int err = enqueue(ctx, kernel, 2, global, local);
    if (err != CL_SUCCESS) {
        char name[128];
        return sakd_error(SAKD_ERR_OPENCL,
                          "launching kernel %s over %zu rows of %zu work-items failed with %s",
                          kernel_name(kernel, name, sizeof name), rows, len, sakd_cl_strerror(err));
    }
    return SAKD_OK;
}

sakd_status sakd_launch_1d(sakd_ctx *ctx, cl_kernel kernel, size_t n, size_t nargs,
                           const sakd_arg *args)
{
    char name[128];
    SAKD_TRY(set_args(kernel, nargs, args));
    if (n == 0)
        return SAKD_OK;
    size_t local = group_size(ctx, kernel);
    size_t global = (n + local - 1) / local * local;
    cl_int err = enqueue(ctx, kernel, 1, &global, &local);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "launching kernel %s over %zu work-items failed with %s",
                          kernel_name(kernel, name, sizeof name), n, sakd_cl_strerror(err));
    return SAKD_OK;
}

sakd_status sakd_launch_groups(sakd_ctx *ctx, cl_kernel kernel, size_t groups, size_t wg,
                               size_t nargs, const sakd_arg *args)
{
    char name[128];
    SAKD_TRY(set_args(kernel, nargs, args));
    if (groups == 0)
        return SAKD_OK;
    size_t global = groups * wg;
    cl_int err = enqueue(ctx, kernel, 1, &global, &wg);
    if (err != CL_SUCCESS)
        return sakd_error(
            SAKD_ERR_OPENCL, "launching kernel %s over %zu groups of %zu failed with %s",
            kernel_name(kernel, name, sizeof name), groups, wg, sakd_cl_strerror(err));
    return SAKD_OK;
}
