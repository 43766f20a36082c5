/* host.c — whole-buffer maps and a fixed thread split for the host provider's operations. */
#include "ops/host.h"

#include <pthread.h>
#include <string.h>

#include "ops/blas_host.h"
#include "ops/gemm.h"

static size_t buffer_floats(cl_mem buf)
{
    size_t bytes = 0;
    clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    return bytes / sizeof(float);
}

int sakd_host_active(sakd_ctx *ctx)
{
    return strcmp(sakd_gemm_provider_name(ctx), "host") == 0;
}

sakd_status sakd_host_map_bytes(sakd_ctx *ctx, sakd_host_maps *m, const char *what, cl_mem buf,
                                size_t offset, size_t need, unsigned char **ptr)
{
    size_t bytes;
    SAKD_CL_CHECK(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (offset + need > bytes)
        return sakd_error(SAKD_ERR_ARG, "host operand %s needs bytes %zu to %zu of a buffer of %zu",
                          what, offset, offset + need, bytes);
    int i = 0;
    while (i < m->n && m->buf[i] != buf)
        i++;
    if (i == m->n) {
        if (m->n == SAKD_HOST_MAX_MAPS)
            return sakd_error(SAKD_ERR_ARG, "host operation maps more than %d buffers",
                              SAKD_HOST_MAX_MAPS);
        cl_int err;
        /* The whole buffer: on host-unified memory a map is a pointer, whatever its size. */
        void *p = clEnqueueMapBuffer(ctx->queue, buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                     bytes, 0, NULL, NULL, &err);
        if (err != CL_SUCCESS)
            return sakd_ctx_device_error(ctx, err, "mapping a buffer for the host provider");
        m->buf[i] = buf;
        m->base[i] = p;
        m->n++;
    }
    *ptr = m->base[i] + offset;
    return SAKD_OK;
}

sakd_status sakd_host_map(sakd_ctx *ctx, sakd_host_maps *m, const char *what, cl_mem buf,
                          size_t offset, size_t need, float **ptr)
{
    size_t floats = buffer_floats(buf);
    if (offset + need > floats)
        return sakd_error(SAKD_ERR_ARG, "host operand %s needs floats %zu to %zu of a buffer of %zu",
                          what, offset, offset + need, floats);
    unsigned char *p;
    SAKD_TRY(sakd_host_map_bytes(ctx, m, what, buf, offset * sizeof(float), need * sizeof(float),
                                 &p));
    *ptr = (float *)(void *)p;
    return SAKD_OK;
}

sakd_status sakd_host_unmap(sakd_ctx *ctx, sakd_host_maps *m, sakd_status st)
{
    for (int i = 0; i < m->n; i++) {
        cl_int err = clEnqueueUnmapMemObject(ctx->queue, m->buf[i], m->base[i], 0, NULL, NULL);
        if (err != CL_SUCCESS && st == SAKD_OK)
            st = sakd_ctx_device_error(ctx, err, "unmapping a buffer of the host provider");
    }
    m->n = 0;
    return st;
}

int sakd_host_threads(void)
{
    const sakd_host_blas *blas;
    return sakd_host_blas_get(&blas, 0) == SAKD_OK ? blas->threads : 1;
}

typedef struct part {
    void (*fn)(void *arg, int t);
    void *arg;
    int t;
} part;

static void *run_part(void *p)
{
    part *w = p;
    w->fn(w->arg, w->t);
    return NULL;
}

void sakd_host_parallel(int n, void (*fn)(void *arg, int t), void *arg)
{
    enum { MAX_THREADS = 256 };
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    const sakd_host_blas *blas;
    int single = n > 1 && sakd_host_blas_get(&blas, 0) == SAKD_OK;
    if (single)
        blas->set_threads(1);
    part parts[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int t = 1; t < n; t++) {
        parts[t] = (part){fn, arg, t};
        started[t] = pthread_create(&tid[t], NULL, run_part, &parts[t]) == 0;
        if (!started[t])
            fn(arg, t); /* no thread to be had: the same work on this one */
    }
    fn(arg, 0);
    for (int t = 1; t < n; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    if (single)
        blas->set_threads(blas->threads);
}
