/* status.h — error codes, the last-error detail message, and the OpenCL check macro. */
#ifndef SAKD_RUNTIME_STATUS_H
#define SAKD_RUNTIME_STATUS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

typedef enum sakd_status {
    SAKD_OK = 0,
    SAKD_ERR_OPENCL = -1,       /* an OpenCL call failed */
    SAKD_ERR_NO_PLATFORM = -2,  /* no OpenCL platform is installed */
    SAKD_ERR_NO_DEVICE = -3,    /* a device string matched nothing */
    SAKD_ERR_BUILD = -4,        /* a kernel program failed to build */
    SAKD_ERR_IO = -5,           /* a file could not be read or written */
    SAKD_ERR_NOMEM = -6,        /* host or device allocation failed */
    SAKD_ERR_ARG = -7,          /* an invalid argument (shape, size, name) */
    SAKD_ERR_CLBLAST = -8,      /* a CLBlast routine failed */
    SAKD_ERR_FORMAT = -9,       /* a file has the wrong format or is corrupt */
    SAKD_ERR_NOT_FOUND = -10,   /* a named kernel, file or entry does not exist */
    SAKD_ERR_CHECK = -11,       /* a self-check found a wrong result */
    SAKD_ERR_INTERRUPTED = -12, /* stopped on request (a signal); state was saved */
} sakd_status;

/* Short, fixed description of a status code. */
const char *sakd_strerror(sakd_status status);

/* Name of an OpenCL error code, e.g. "CL_INVALID_VALUE"; "CL_UNKNOWN_ERROR" otherwise. */
const char *sakd_cl_strerror(cl_int err);

/* The detail of the most recent error on this thread: what failed and where.
 * Library functions set it when they return an error; the CLI prints it. */
const char *sakd_error_detail(void);
void sakd_error_clear(void);

/* Records a detail message and returns `status`, so that callers can write
 * `return sakd_error(SAKD_ERR_IO, "cannot open %s", path);`. */
sakd_status sakd_error(sakd_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs an OpenCL call; on failure records the call, the error's name and
 * file:line, and returns SAKD_ERR_OPENCL from the enclosing function. */
#define SAKD_CL_CHECK(call)                                                                        \
    do {                                                                                           \
        cl_int sakd_cl_err_ = (call);                                                              \
        if (sakd_cl_err_ != CL_SUCCESS)                                                            \
            return sakd_error(SAKD_ERR_OPENCL, "%s failed with %s (%d) at %s:%d", #call,           \
                              sakd_cl_strerror(sakd_cl_err_), (int)sakd_cl_err_, __FILE__,         \
                              __LINE__);                                                           \
    } while (0)

/* Propagates a non-OK status from a sakd call. */
#define SAKD_TRY(call)                                                                             \
    do {                                                                                           \
        sakd_status sakd_st_ = (call);                                                             \
        if (sakd_st_ != SAKD_OK)                                                                   \
            return sakd_st_;                                                                       \
    } while (0)

#endif
