/* host.c — whole-buffer maps and a fixed thread split for the host provider's operations. */
#include "ops/host.h"

#include <pthread.h>
#include <stdint.h>
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
        void *p = clEnqueueMapBuffer(ctx->queue, buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes,
                                     0, NULL, NULL, &err);
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
        return sakd_error(SAKD_ERR_ARG,
                          "host operand %s needs floats %zu to %zu of a buffer of %zu", what,
                          offset, offset + need, floats);
    unsigned char *p;
    SAKD_TRY(
        sakd_host_map_bytes(ctx, m, what, buf, offset * sizeof(float), need * sizeof(float), &p));
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

sakd_status sakd_host_map_tensor(sakd_ctx *ctx, sakd_host_maps *m, const sakd_tensor *t,
                                 float **ptr, sakd_status st)
{
    *ptr = NULL;
    if (st != SAKD_OK || !t)
        return st;
    return sakd_host_map(ctx, m, t->name, t->buf, t->offset, sakd_tensor_numel(t), ptr);
}

int sakd_host_threads(void)
{
    const sakd_host_blas *blas;
    return sakd_host_blas_get(&blas, 0) == SAKD_OK ? blas->threads : 1;
}

/* A pool of worker threads started on first use and kept for the process: a parallel region
 * costs a wake-up instead of a thread creation (hundreds of microseconds on some machines).
 * Workers sleep on a condition variable between regions (no spinning beside PoCL's threads). */
enum { MAX_THREADS = 256 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    int started;              /* workers running */
    unsigned long generation; /* one per region */
    int n;                    /* parts of the current region */
    int remaining;            /* parts not finished yet */
    void (*fn)(void *arg, int t);
    void *arg;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .start = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Worker `t` (1 …) runs part t of every region that has one. */
static void *worker(void *p)
{
    int t = (int)(intptr_t)p;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen)
            pthread_cond_wait(&pool.start, &pool.lock);
        seen = pool.generation;
        if (t >= pool.n)
            continue;
        void (*fn)(void *, int) = pool.fn;
        void *arg = pool.arg;
        pthread_mutex_unlock(&pool.lock);
        fn(arg, t);
        pthread_mutex_lock(&pool.lock);
        if (--pool.remaining == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Regions run one at a time (the host provider's callers hold a context's queue). */
static pthread_mutex_t region = PTHREAD_MUTEX_INITIALIZER;

void sakd_host_parallel(int n, void (*fn)(void *arg, int t), void *arg)
{
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    const sakd_host_blas *blas;
    int single = n > 1 && sakd_host_blas_get(&blas, 0) == SAKD_OK;
    if (single)
        blas->set_threads(1);
    pthread_mutex_lock(&region);
    pthread_mutex_lock(&pool.lock);
    while (pool.started < n - 1) {
        pthread_t tid;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&tid, &attr, worker, (void *)(intptr_t)(pool.started + 1)) == 0;
        pthread_attr_destroy(&attr);
        if (!ok)
            break;
        pool.started++;
    }
    /* Parts without a worker (no thread to be had) run on this thread, after its own. */
    int workers = n - 1 < pool.started ? n - 1 : pool.started;
    pool.fn = fn;
    pool.arg = arg;
    pool.n = workers + 1;
    pool.remaining = workers;
    pool.generation++;
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.lock);
    fn(arg, 0);
    for (int t = workers + 1; t < n; t++)
        fn(arg, t);
    pthread_mutex_lock(&pool.lock);
    while (pool.remaining > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&region);
    if (single)
        blas->set_threads(blas->threads);
}
