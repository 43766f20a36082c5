/* clfault.c — OpenCL fault injection for the tests, loaded with LD_PRELOAD in front of the ICD
 * loader. It wraps the calls that queue or wait for work, for sakd's kernels and CLBlast's alike:
 *
 *   SAKD_CLFAULT_LAUNCH=N  the N-th kernel launch (1-based) fails at once with
 *                          CL_OUT_OF_RESOURCES, as when a launch asks for too much;
 *   SAKD_CLFAULT_LOST=N    the device is lost at the N-th launch: that launch and every later
 *                          one are accepted but never run, and every wait or blocking transfer
 *                          from then on fails with CL_OUT_OF_RESOURCES, which is how a GPU that
 *                          faulted or fell off the bus shows itself to an in-order queue.
 *
 * Without either variable every call goes straight to the real one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

static long launches;

static long setting(const char *name)
{
    const char *v = getenv(name);
    return v ? atol(v) : 0;
}

static int lost(void)
{
    long at = setting("SAKD_CLFAULT_LOST");
    return at > 0 && launches >= at;
}

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort(); /* the ICD loader is not linked: nothing to wrap */
    return f;
}

cl_int clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims,
                              const size_t *offset, const size_t *global, const size_t *local,
                              cl_uint n_wait, const cl_event *wait, cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                          const size_t *, cl_uint, const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueNDRangeKernel");
    launches++;
    if (launches == setting("SAKD_CLFAULT_LAUNCH"))
        return CL_OUT_OF_RESOURCES;
    if (lost()) {
        /* accepted, never run; a marker stands in for the event asked for */
        return event ? clEnqueueMarkerWithWaitList(queue, n_wait, wait, event) : CL_SUCCESS;
    }
    return next(queue, kernel, dims, offset, global, local, n_wait, wait, event);
}

cl_int clFinish(cl_command_queue queue)
{
    static cl_int (*next)(cl_command_queue);
    if (!next)
        *(void **)&next = real("clFinish");
    cl_int err = next(queue);
    return lost() ? CL_OUT_OF_RESOURCES : err;
}

cl_int clWaitForEvents(cl_uint n, const cl_event *events)
{
    static cl_int (*next)(cl_uint, const cl_event *);
    if (!next)
        *(void **)&next = real("clWaitForEvents");
    cl_int err = next(n, events);
    return lost() ? CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST : err;
}

cl_int clEnqueueReadBuffer(cl_command_queue queue, cl_mem buf, cl_bool blocking, size_t offset,
                           size_t size, void *host, cl_uint n_wait, const cl_event *wait,
                           cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                          const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueReadBuffer");
    if (lost() && blocking)
        return CL_OUT_OF_RESOURCES;
    return next(queue, buf, blocking, offset, size, host, n_wait, wait, event);
}

cl_int clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buf, cl_bool blocking, size_t offset,
                            size_t size, const void *host, cl_uint n_wait, const cl_event *wait,
                            cl_event *event)
{
    static cl_int (*next)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                          const cl_event *, cl_event *);
    if (!next)
        *(void **)&next = real("clEnqueueWriteBuffer");
    if (lost() && blocking)
        return CL_OUT_OF_RESOURCES;
    return next(queue, buf, blocking, offset, size, host, n_wait, wait, event);
}
