/* gemm_host.c — the host BLAS GEMM provider for a CPU device whose buffers are host memory
 * (PoCL): operands reached through mapped buffers (no copy: the check below shows that a mapped
 * pointer is the buffer's own storage), cblas_sgemm on them, unmapped before any later command
 * of the in-order queue reads them. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ops/blas_host.h"
#include "ops/ops_state.h"
#include "ops/gemm_provider.h"
#include "ops/host.h"
#include "runtime/profile.h"
#include "runtime/timer.h"

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

/* Floats of the zero-copy check's buffer. */
#define CHECK_FLOATS 1024

/* Whether a map of a small buffer returns its storage itself: a pointer mapped once, written,
 * unmapped, then filled by the device, must show the fill without a second map, and the second
 * map must return the same address. A copying implementation (a staging copy per map) fails
 * either test. */
static sakd_status check_zero_copy(sakd_ctx *ctx)
{
    size_t bytes = CHECK_FLOATS * sizeof(float);
    cl_int err;
    cl_mem buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "zero-copy check: clCreateBuffer failed with %s",
                          sakd_cl_strerror(err));
    sakd_status st = SAKD_OK;
    float *p = clEnqueueMapBuffer(ctx->queue, buf, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0,
                                  bytes, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = sakd_error(SAKD_ERR_OPENCL, "zero-copy check: clEnqueueMapBuffer failed with %s",
                        sakd_cl_strerror(err));
        goto out;
    }
    for (size_t i = 0; i < CHECK_FLOATS; i++)
        p[i] = (float)i;
    const float fill = -3.5f;
    err = clEnqueueUnmapMemObject(ctx->queue, buf, p, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueFillBuffer(ctx->queue, buf, &fill, sizeof fill, 0, bytes, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clFinish(ctx->queue);
    if (err != CL_SUCCESS) {
        st = sakd_error(SAKD_ERR_OPENCL, "zero-copy check: unmap/fill failed with %s",
                        sakd_cl_strerror(err));
        goto out;
    }
    /* The buffer is alive, so its storage is readable; reading it through the old pointer is
     * the point of the check. */
    int seen = 1;
    for (size_t i = 0; i < CHECK_FLOATS; i++)
        seen &= ((volatile float *)p)[i] == fill;
    float *q =
        clEnqueueMapBuffer(ctx->queue, buf, CL_TRUE, CL_MAP_READ, 0, bytes, 0, NULL, NULL, &err);
    if (err == CL_SUCCESS) {
        clEnqueueUnmapMemObject(ctx->queue, buf, q, 0, NULL, NULL);
        clFinish(ctx->queue);
    }
    if (err != CL_SUCCESS || q != p || !seen)
        st = sakd_error(SAKD_ERR_ARG,
                        "mapping a buffer of %s copies it (the mapped pointer %s the device's "
                        "writes%s)",
                        ctx->info.name, seen ? "sees" : "does not see",
                        q != p ? "; a second map returned another address" : "");
out:
    clReleaseMemObject(buf);
    return st;
}

sakd_status sakd_gemm_host_check(sakd_ctx *ctx)
{
    sakd_ops_state *os;
    SAKD_TRY(sakd_ops_state_get(ctx, &os));
    if (os->host_checked == 0) {
        sakd_status st = SAKD_OK;
        const sakd_host_blas *blas;
        if (!sakd_host_blas_built())
            st = sakd_error(SAKD_ERR_NOT_FOUND,
                            "sakd was built without a host BLAS (./configure --with-blas)");
        else if (!(ctx->info.type & CL_DEVICE_TYPE_CPU))
            st = sakd_error(SAKD_ERR_ARG, "%s is not a CPU device", ctx->info.name);
        else if (!ctx->info.host_unified)
            st = sakd_error(SAKD_ERR_ARG, "%s does not report host-unified memory", ctx->info.name);
        else if ((st = check_zero_copy(ctx)) == SAKD_OK)
            st = sakd_host_blas_get(&blas, (int)ctx->info.compute_units);
        os->host_checked = st == SAKD_OK ? 1 : -1;
        snprintf(os->host_check_msg, sizeof os->host_check_msg, "%s",
                 st == SAKD_OK ? "" : sakd_error_detail());
        if (st != SAKD_OK)
            return st;
    }
    if (os->host_checked < 0)
        return sakd_error(SAKD_ERR_ARG, "%s", os->host_check_msg);
    return SAKD_OK;
}

/* Elements one operand spans: rows x ld per matrix, the last row only up to its columns. */
static size_t span(size_t rows, size_t cols, size_t ld, size_t stride, size_t batch)
{
    return (batch > 1 ? (batch - 1) * stride : 0) + (rows - 1) * ld + cols;
}

typedef struct batch_job {
    const sakd_host_blas *blas;
    const sakd_gemm_call *g;
    const float *a, *b;
    float *c;
    int nt;
} batch_job;

/* Matrices of a batch in part t's fixed range, each by a single-threaded GEMM. */
static void batch_part(void *arg, int t)
{
    const batch_job *j = arg;
    const sakd_gemm_call *g = j->g;
    size_t lo, hi;
    sakd_host_range(g->batch, t, j->nt, &lo, &hi);
    int ta = g->trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
        tb = g->trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS;
    for (size_t i = lo; i < hi; i++)
        j->blas->sgemm(CBLAS_ROW_MAJOR, ta, tb, (int)g->m, (int)g->n, (int)g->k, g->alpha,
                       j->a + i * g->stride_a, (int)g->a.ld, j->b + i * g->stride_b, (int)g->b.ld,
                       g->beta, j->c + i * g->stride_c, (int)g->c.ld);
}

static sakd_status host_run(sakd_ctx *ctx, const sakd_gemm_call *g)
{
    const sakd_host_blas *blas;
    SAKD_TRY(sakd_host_blas_get(&blas, (int)ctx->info.compute_units));
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->a.ld > INT_MAX ||
        g->b.ld > INT_MAX || g->c.ld > INT_MAX)
        return sakd_error(SAKD_ERR_ARG,
                          "host GEMM: m=%zu, n=%zu, k=%zu or a leading dimension exceeds the "
                          "BLAS's 32-bit integers",
                          g->m, g->n, g->k);
    size_t batch = g->batch ? g->batch : 1;
    size_t ar = g->trans_a ? g->k : g->m, ac = g->trans_a ? g->m : g->k;
    size_t br = g->trans_b ? g->n : g->k, bc = g->trans_b ? g->k : g->n;
    if (g->a.ld < ac || g->b.ld < bc || g->c.ld < g->n)
        return sakd_error(SAKD_ERR_ARG,
                          "host GEMM: a leading dimension (%zu, %zu, %zu) is below its matrix's "
                          "columns (%zu, %zu, %zu)",
                          g->a.ld, g->b.ld, g->c.ld, ac, bc, g->n);
    sakd_host_maps maps = {0};
    float *a = NULL, *b = NULL, *c = NULL;
    sakd_status st = sakd_host_map(ctx, &maps, "GEMM A", g->a.buf, g->a.offset,
                                   span(ar, ac, g->a.ld, g->stride_a, batch), &a);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, "GEMM B", g->b.buf, g->b.offset,
                           span(br, bc, g->b.ld, g->stride_b, batch), &b);
    if (st == SAKD_OK)
        st = sakd_host_map(ctx, &maps, "GEMM C", g->c.buf, g->c.offset,
                           span(g->m, g->n, g->c.ld, g->stride_c, batch), &c);
    if (st == SAKD_OK) {
        double t0 = sakd_time_now();
        if (g->batch > 1 && blas->threads > 1) {
            /* Independent matrices over the threads: better than threading each small GEMM. */
            int nt = (size_t)blas->threads < g->batch ? blas->threads : (int)g->batch;
            batch_job j = {blas, g, a, b, c, nt};
            sakd_host_parallel(nt, batch_part, &j);
        } else {
            blas->sgemm(CBLAS_ROW_MAJOR, g->trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
                        g->trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)g->m, (int)g->n, (int)g->k,
                        g->alpha, a, (int)g->a.ld, b, (int)g->b.ld, g->beta, c, (int)g->c.ld);
        }
        sakd_profile_add(ctx, "gemm", (sakd_time_now() - t0) * 1e3);
    }
    return sakd_host_unmap(ctx, &maps, st);
}

const struct sakd_gemm_provider sakd_gemm_provider_host = {"host", host_run};
