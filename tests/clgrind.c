/* clgrind.c — the preload of `make check-oclgrind` (tests/check_oclgrind.sh), loaded with
 * LD_PRELOAD in front of the ICD loader whose one platform is oclgrind. With
 * SAKD_CLGRIND_DIR=DIR it
 *
 *   - appends the name of each kernel the process launches (sakd's and CLBlast's), once per
 *     name, to DIR/launched.PID: the script proves from these that every kernel of cl/ ran;
 *   - gives each context its own oclgrind log, DIR/oclgrind.PID.N.log (oclgrind opens
 *     OCLGRIND_LOG anew, truncating it, for every context it creates), and appends the API
 *     errors oclgrind reports through the context callback to DIR/api.PID.log (on stderr
 *     they would be lost in the output the tests capture from the sakd processes they run);
 *   - makes host-side stores whole-buffer writes, for oclgrind 21.10's --uninitialized.
 *
 * That plugin (src/plugins/Uninitialized.cpp, Uninitialized::hostMemoryStore) keeps one
 * shadow allocation per buffer: every host-side store (write, fill, copy) replaces it by one
 * of the store's size at the buffer's start, and a released buffer's shadow stays for the next
 * buffer that gets its index. After a fill with a 4-byte pattern every read past the first 4
 * bytes counts as uninitialized however often kernels rewrote the memory: lif_bwd, reading the
 * h that lif_fwd wrote over the tests' NaN fill, was reported as "Controlflow depends on
 * uninitialized value ... Kernel: lif_bwd ... At line 27 of lif.cl" (the surrogate's fabs(u))
 * and "Uninitialized value written to global memory", and so were bn_bwd_reduce, ce_fwd,
 * sum_final and linear_bias_fwd: false reports, all gone with the writes below. Here a new
 * buffer gets a zero-byte write, which drops a stale shadow (the next kernel that takes the
 * buffer then gives it a fresh all-uninitialized one, so reads of memory nothing wrote are
 * still reported), and a store to part of a buffer becomes a read of the whole buffer, the
 * store on the host and a write of the whole buffer back (the bytes are the same; the whole
 * buffer then counts as initialized). Maps are left alone: sakd maps whole buffers only, and
 * not on oclgrind.
 *
 * Without SAKD_CLGRIND_DIR every call goes straight to the real one. The OpenCL calls of the
 * tests and of sakd come from one thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#define MAX_NAMES 512
#define MAX_QUEUES 64

static char names[MAX_NAMES][64]; /* kernels already written to launched.PID */
static size_t n_names;
static struct {
    cl_context context;
    cl_command_queue queue;
} queues[MAX_QUEUES]; /* a queue of each live context, for the zero-byte writes */
static size_t n_queues;
static int n_contexts;

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort(); /* the ICD loader is not linked: nothing to wrap */
    return f;
}

static const char *out_dir(void)
{
    const char *d = getenv("SAKD_CLGRIND_DIR");
    return d && *d ? d : NULL;
}

/* Appends `text` to DIR/<file>.PID. */
static void append(const char *file, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%ld", out_dir(), file, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    if (write(fd, text, strlen(text)) < 0)
        perror("clgrind: writing the launch log");
    close(fd);
}

static void record_launch(cl_kernel kernel)
{
    static cl_int (*info)(cl_kernel, cl_kernel_info, size_t, void *, size_t *);
    if (!info)
        *(void **)&info = real("clGetKernelInfo");
    char name[64];
    if (info(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL) != CL_SUCCESS)
        snprintf(name, sizeof name, "?");
    name[sizeof name - 1] = '\0';
    for (size_t i = 0; i < n_names; i++)
        if (strcmp(names[i], name) == 0)
            return;
    if (n_names < MAX_NAMES)
        memcpy(names[n_names++], name, sizeof name);
    char line[80];
    snprintf(line, sizeof line, "%s\n", name);
    append("launched", line);
}

cl_int clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims,
                              const size_t *offset, const size_t *global, const size_t *local,
                              cl_uint n_wait, const cl_event *wait, cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                          const size_t *, cl_uint, const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueNDRangeKernel");
    if (out_dir())
        record_launch(kernel);
    return next(queue, kernel, dims, offset, global, local, n_wait, wait, event);
}

/* ---- contexts: a log of their own, API errors to a file ----------------------------------- */

typedef void(CL_CALLBACK *notify_fn)(const char *, const void *, size_t, void *);

static void CL_CALLBACK api_error(const char *text, const void *info, size_t size, void *data)
{
    (void)info, (void)size, (void)data;
    append("api", text);
    append("api", "\n");
}

cl_context clCreateContext(const cl_context_properties *props, cl_uint n_devices,
                           const cl_device_id *devices, notify_fn notify, void *data, cl_int *err)
{
    static cl_context (*next)(const cl_context_properties *, cl_uint, const cl_device_id *,
                              notify_fn, void *, cl_int *);
    if (!next)
        *(void **)&next = real("clCreateContext");
    if (!out_dir() || notify) /* sakd and CLBlast pass no callback of their own */
        return next(props, n_devices, devices, notify, data, err);
    char log[4096];
    snprintf(log, sizeof log, "%s/oclgrind.%ld.%d.log", out_dir(), (long)getpid(), ++n_contexts);
    setenv("OCLGRIND_LOG", log, 1);
    cl_context context = next(props, n_devices, devices, api_error, NULL, err);
    unsetenv("OCLGRIND_LOG"); /* read once, by the context; not for the processes we start */
    return context;
}

/* ---- queues: remembered per context ------------------------------------------------------- */

cl_command_queue clCreateCommandQueue(cl_context context, cl_device_id device,
                                      cl_command_queue_properties props, cl_int *err)
{
    static cl_command_queue (*next)(cl_context, cl_device_id, cl_command_queue_properties,
                                    cl_int *);
    if (!next)
        *(void **)&next = real("clCreateCommandQueue");
    cl_command_queue q = next(context, device, props, err);
    if (q && n_queues < MAX_QUEUES) {
        queues[n_queues].context = context;
        queues[n_queues++].queue = q;
    }
    return q;
}

cl_int clReleaseCommandQueue(cl_command_queue queue)
{
    static cl_int (*next)(cl_command_queue);
    if (!next)
        *(void **)&next = real("clReleaseCommandQueue");
    for (size_t i = 0; i < n_queues; i++)
        if (queues[i].queue == queue) {
            queues[i] = queues[--n_queues];
            break;
        }
    return next(queue);
}

static cl_command_queue queue_of(cl_context context)
{
    for (size_t i = 0; i < n_queues; i++)
        if (queues[i].context == context)
            return queues[i].queue;
    return NULL;
}

/* ---- host-side stores as whole-buffer writes ---------------------------------------------- */

typedef cl_int (*write_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                           const cl_event *, cl_event *);
typedef cl_int (*read_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                          const cl_event *, cl_event *);

static write_fn real_write(void)
{
    static write_fn next;
    if (!next)
        *(void **)&next = real("clEnqueueWriteBuffer");
    return next;
}

static read_fn real_read(void)
{
    static read_fn next;
    if (!next)
        *(void **)&next = real("clEnqueueReadBuffer");
    return next;
}

static size_t buffer_size(cl_mem buf)
{
    static cl_int (*info)(cl_mem, cl_mem_info, size_t, void *, size_t *);
    if (!info)
        *(void **)&info = real("clGetMemObjectInfo");
    size_t size = 0;
    return info(buf, CL_MEM_SIZE, sizeof size, &size, NULL) == CL_SUCCESS ? size : 0;
}

/* Stores `size` bytes at `offset` of buf: `data` itself (pattern == 0) or `data` repeated
 * (a pattern of that many bytes), through a host copy of the whole buffer. Blocking. */
static cl_int store_whole(cl_command_queue queue, cl_mem buf, size_t offset, const void *data,
                          size_t size, size_t pattern, cl_uint n_wait, const cl_event *wait,
                          cl_event *event)
{
    size_t whole = buffer_size(buf);
    if (whole == 0 || offset > whole || size > whole - offset)
        return real_write()(queue, buf, CL_TRUE, offset, size, data, n_wait, wait, event);
    unsigned char *copy = malloc(whole);
    if (!copy)
        return CL_OUT_OF_HOST_MEMORY;
    cl_int err = real_read()(queue, buf, CL_TRUE, 0, whole, copy, n_wait, wait, NULL);
    if (err == CL_SUCCESS) {
        if (pattern == 0)
            memcpy(copy + offset, data, size);
        for (size_t i = 0; pattern && i < size; i += pattern)
            memcpy(copy + offset + i, data, pattern);
        err = real_write()(queue, buf, CL_TRUE, 0, whole, copy, 0, NULL, event);
    }
    free(copy);
    return err;
}

cl_int clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buf, cl_bool blocking, size_t offset,
                            size_t size, const void *host, cl_uint n_wait, const cl_event *wait,
                            cl_event *event)
{
    if (!out_dir() || (offset == 0 && size == buffer_size(buf)))
        return real_write()(queue, buf, blocking, offset, size, host, n_wait, wait, event);
    return store_whole(queue, buf, offset, host, size, 0, n_wait, wait, event);
}

cl_int clEnqueueFillBuffer(cl_command_queue queue, cl_mem buf, const void *pattern,
                           size_t pattern_size, size_t offset, size_t size, cl_uint n_wait,
                           const cl_event *wait, cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint,
                          const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueFillBuffer");
    if (!out_dir() || pattern_size == 0 || size % pattern_size != 0)
        return next(queue, buf, pattern, pattern_size, offset, size, n_wait, wait, event);
    return store_whole(queue, buf, offset, pattern, size, pattern_size, n_wait, wait, event);
}

cl_int clEnqueueCopyBuffer(cl_command_queue queue, cl_mem src, cl_mem dst, size_t src_offset,
                           size_t dst_offset, size_t size, cl_uint n_wait, const cl_event *wait,
                           cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
                          const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueCopyBuffer");
    void *copy = out_dir() && size ? malloc(size) : NULL;
    if (!copy)
        return next(queue, src, dst, src_offset, dst_offset, size, n_wait, wait, event);
    cl_int err = real_read()(queue, src, CL_TRUE, src_offset, size, copy, n_wait, wait, NULL);
    if (err == CL_SUCCESS)
        err = store_whole(queue, dst, dst_offset, copy, size, 0, 0, NULL, event);
    free(copy);
    return err;
}

/* A new buffer: a zero-byte write drops the shadow a released buffer left at its index; with
 * host data, the whole buffer is written (oclgrind's plugin does not see creation data). */
cl_mem clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size, void *host, cl_int *err)
{
    static cl_mem (*next)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
    if (!next)
        *(void **)&next = real("clCreateBuffer");
    cl_mem buf = next(context, flags, size, host, err);
    cl_command_queue queue = out_dir() ? queue_of(context) : NULL;
    if (!buf || !queue)
        return buf;
    unsigned char none = 0;
    if (host && (flags & (CL_MEM_COPY_HOST_PTR | CL_MEM_USE_HOST_PTR))) {
        void *copy = malloc(size);
        if (copy) {
            memcpy(copy, host, size);
            real_write()(queue, buf, CL_TRUE, 0, size, copy, 0, NULL, NULL);
            free(copy);
        }
    } else {
        real_write()(queue, buf, CL_TRUE, 0, 0, &none, 0, NULL, NULL);
    }
    return buf;
}
