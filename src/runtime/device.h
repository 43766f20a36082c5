/* device.h — OpenCL platform and device enumeration, and device selection by string. */
#ifndef SAKD_RUNTIME_DEVICE_H
#define SAKD_RUNTIME_DEVICE_H

#include <stddef.h>

#include "runtime/cl.h"

/* What sakd needs to know about one OpenCL device. */
typedef struct sakd_device_info {
    unsigned platform_index; /* position in clGetPlatformIDs */
    unsigned device_index;   /* position within its platform */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256];
    char platform_vendor[256];
    char platform_version[256];
    char name[256];
    char vendor[256];
    char version[256];   /* CL_DEVICE_VERSION, e.g. "OpenCL 3.0 PoCL ..." */
    char c_version[256]; /* CL_DEVICE_OPENCL_C_VERSION */
    char driver[256];    /* CL_DRIVER_VERSION */
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;   /* bytes */
    cl_ulong local_mem;    /* bytes */
    cl_ulong max_alloc;    /* bytes, largest single buffer */
    size_t max_work_group; /* work-items */
    int fp64;              /* double precision supported */
    int host_unified;      /* CL_DEVICE_HOST_UNIFIED_MEMORY: buffers live in host memory */
} sakd_device_info;

/* Lists every device of every platform, platform by platform. On success
 * *list is malloc'ed (free with sakd_device_list_free). Returns
 * SAKD_ERR_NO_PLATFORM when no OpenCL platform is installed. */
sakd_status sakd_device_list(sakd_device_info **list, size_t *count);
void sakd_device_list_free(sakd_device_info *list);

/* Picks a device from `list` by `spec`:
 *   NULL or ""                  the first GPU, else the first device
 *   "P:D"                       platform index P, device index D
 *   "gpu" | "cpu" | "accelerator"  the first device of that type
 *   anything else               the first device whose platform or device
 *                               name contains it (case-insensitive)
 * On failure returns SAKD_ERR_NO_DEVICE with a detail that lists the
 * available devices. Pure: needs no OpenCL runtime. */
sakd_status sakd_device_select(const sakd_device_info *list, size_t count, const char *spec,
                               size_t *index);

/* "GPU", "CPU", "accelerator", "custom" or "default". */
const char *sakd_device_type_name(cl_device_type type);

/* One line "P:D  name (platform, TYPE)" per device, for messages. */
void sakd_device_list_format(const sakd_device_info *list, size_t count, char *buf, size_t size);

#endif
