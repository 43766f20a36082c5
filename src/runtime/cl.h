/* cl.h — the OpenCL headers at the version sakd targets, the names of OpenCL's error codes and
 * the check macro every OpenCL call goes through. */
#ifndef SAKD_RUNTIME_CL_H
#define SAKD_RUNTIME_CL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "runtime/status.h"

/* Name of an OpenCL error code, e.g. "CL_INVALID_VALUE"; "CL_UNKNOWN_ERROR" otherwise. */
const char *sakd_cl_strerror(cl_int err);

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

#endif
