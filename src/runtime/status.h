/* status.h — error codes and the last-error detail message (no OpenCL: runtime/cl.h has the
 * OpenCL check macro). */
#ifndef SAKD_RUNTIME_STATUS_H
#define SAKD_RUNTIME_STATUS_H

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
    SAKD_ERR_COMM = -13,        /* a message between the ranks of a job failed (MPI) */
} sakd_status;

/* Short, fixed description of a status code. */
const char *sakd_strerror(sakd_status status);

/* The detail of the most recent error on this thread: what failed and where.
 * Library functions set it when they return an error; the CLI prints it. */
const char *sakd_error_detail(void);
void sakd_error_clear(void);

/* Records a detail message and returns `status`, so that callers can write
 * `return sakd_error(SAKD_ERR_IO, "cannot open %s", path);`. */
sakd_status sakd_error(sakd_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Propagates a non-OK status from a sakd call. */
#define SAKD_TRY(call)                                                                             \
    do {                                                                                           \
        sakd_status sakd_st_ = (call);                                                             \
        if (sakd_st_ != SAKD_OK)                                                                   \
            return sakd_st_;                                                                       \
    } while (0)

#endif
