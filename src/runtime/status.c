/* status.c — status strings, OpenCL error names and the per-thread error detail. */
#include "runtime/cl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Large enough for a kernel build log. */
static _Thread_local char error_detail[16384];

const char *sakd_strerror(sakd_status status)
{
    switch (status) {
    case SAKD_OK: return "success";
    case SAKD_ERR_OPENCL: return "OpenCL error";
    case SAKD_ERR_NO_PLATFORM: return "no OpenCL platform";
    case SAKD_ERR_NO_DEVICE: return "no matching OpenCL device";
    case SAKD_ERR_BUILD: return "kernel build failed";
    case SAKD_ERR_IO: return "input/output error";
    case SAKD_ERR_NOMEM: return "out of memory";
    case SAKD_ERR_ARG: return "invalid argument";
    case SAKD_ERR_CLBLAST: return "CLBlast error";
    case SAKD_ERR_FORMAT: return "bad file format";
    case SAKD_ERR_NOT_FOUND: return "not found";
    case SAKD_ERR_CHECK: return "self-check failed";
    case SAKD_ERR_INTERRUPTED: return "interrupted";
    case SAKD_ERR_COMM: return "communication between ranks failed";
    }
    return "unknown error";
}

const char *sakd_cl_strerror(cl_int err)
{
    switch (err) {
#define NAME(code)                                                                                 \
    case code: return #code;
        NAME(CL_SUCCESS)
        NAME(CL_DEVICE_NOT_FOUND)
        NAME(CL_DEVICE_NOT_AVAILABLE)
        NAME(CL_COMPILER_NOT_AVAILABLE)
        NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        NAME(CL_OUT_OF_RESOURCES)
        NAME(CL_OUT_OF_HOST_MEMORY)
        NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        NAME(CL_MEM_COPY_OVERLAP)
        NAME(CL_IMAGE_FORMAT_MISMATCH)
        NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        NAME(CL_BUILD_PROGRAM_FAILURE)
        NAME(CL_MAP_FAILURE)
        NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        NAME(CL_COMPILE_PROGRAM_FAILURE)
        NAME(CL_LINKER_NOT_AVAILABLE)
        NAME(CL_LINK_PROGRAM_FAILURE)
        NAME(CL_DEVICE_PARTITION_FAILED)
        NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        NAME(CL_INVALID_VALUE)
        NAME(CL_INVALID_DEVICE_TYPE)
        NAME(CL_INVALID_PLATFORM)
        NAME(CL_INVALID_DEVICE)
        NAME(CL_INVALID_CONTEXT)
        NAME(CL_INVALID_QUEUE_PROPERTIES)
        NAME(CL_INVALID_COMMAND_QUEUE)
        NAME(CL_INVALID_HOST_PTR)
        NAME(CL_INVALID_MEM_OBJECT)
        NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        NAME(CL_INVALID_IMAGE_SIZE)
        NAME(CL_INVALID_SAMPLER)
        NAME(CL_INVALID_BINARY)
        NAME(CL_INVALID_BUILD_OPTIONS)
        NAME(CL_INVALID_PROGRAM)
        NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        NAME(CL_INVALID_KERNEL_NAME)
        NAME(CL_INVALID_KERNEL_DEFINITION)
        NAME(CL_INVALID_KERNEL)
        NAME(CL_INVALID_ARG_INDEX)
        NAME(CL_INVALID_ARG_VALUE)
        NAME(CL_INVALID_ARG_SIZE)
        NAME(CL_INVALID_KERNEL_ARGS)
        NAME(CL_INVALID_WORK_DIMENSION)
        NAME(CL_INVALID_WORK_GROUP_SIZE)
        NAME(CL_INVALID_WORK_ITEM_SIZE)
        NAME(CL_INVALID_GLOBAL_OFFSET)
        NAME(CL_INVALID_EVENT_WAIT_LIST)
        NAME(CL_INVALID_EVENT)
        NAME(CL_INVALID_OPERATION)
        NAME(CL_INVALID_GL_OBJECT)
        NAME(CL_INVALID_BUFFER_SIZE)
        NAME(CL_INVALID_MIP_LEVEL)
        NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        NAME(CL_INVALID_PROPERTY)
        NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        NAME(CL_INVALID_COMPILER_OPTIONS)
        NAME(CL_INVALID_LINKER_OPTIONS)
        NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef NAME
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "CL_UNKNOWN_ERROR";
}

const char *sakd_error_detail(void)
{
    return error_detail;
}

void sakd_error_clear(void)
{
    error_detail[0] = '\0';
}

sakd_status sakd_error(sakd_status status, const char *fmt, ...)
{
    /* Format into a scratch buffer first: the arguments may include the
     * current detail, to which the caller adds context. */
    static _Thread_local char scratch[sizeof error_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scratch, sizeof scratch, fmt, ap);
    va_end(ap);
    memcpy(error_detail, scratch, sizeof error_detail);
    return status;
}
