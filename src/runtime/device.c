/* device.c — enumerates OpenCL devices and resolves device strings. */
#include "runtime/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void device_string(cl_device_id dev, cl_device_info what, char *out, size_t size)
{
    if (clGetDeviceInfo(dev, what, size, out, NULL) != CL_SUCCESS)
        snprintf(out, size, "?");
    out[size - 1] = '\0';
}

static void platform_string(cl_platform_id p, cl_platform_info what, char *out, size_t size)
{
    if (clGetPlatformInfo(p, what, size, out, NULL) != CL_SUCCESS)
        snprintf(out, size, "?");
    out[size - 1] = '\0';
}

static sakd_status describe_device(sakd_device_info *d)
{
    device_string(d->device, CL_DEVICE_NAME, d->name, sizeof d->name);
    device_string(d->device, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    device_string(d->device, CL_DEVICE_VERSION, d->version, sizeof d->version);
    device_string(d->device, CL_DEVICE_OPENCL_C_VERSION, d->c_version, sizeof d->c_version);
    device_string(d->device, CL_DRIVER_VERSION, d->driver, sizeof d->driver);
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL));
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof d->compute_units,
                                  &d->compute_units, NULL));
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof d->global_mem,
                                  &d->global_mem, NULL));
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof d->local_mem,
                                  &d->local_mem, NULL));
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc,
                                  &d->max_alloc, NULL));
    SAKD_CL_CHECK(clGetDeviceInfo(d->device, CL_DEVICE_MAX_WORK_GROUP_SIZE,
                                  sizeof d->max_work_group, &d->max_work_group, NULL));
    cl_device_fp_config fp64 = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL) !=
        CL_SUCCESS)
        fp64 = 0;
    d->fp64 = fp64 != 0;
    cl_bool unified = CL_FALSE;
    if (clGetDeviceInfo(d->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) !=
        CL_SUCCESS)
        unified = CL_FALSE;
    d->host_unified = unified == CL_TRUE;
    return SAKD_OK;
}

sakd_status sakd_device_list(sakd_device_info **list, size_t *count)
{
    *list = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return sakd_error(SAKD_ERR_NO_PLATFORM,
                          "no OpenCL platform is installed (on Debian, the CPU platform is "
                          "'apt-get install pocl-opencl-icd')");
    SAKD_CL_CHECK(err);
    cl_platform_id *platforms = calloc(np, sizeof *platforms);
    if (!platforms)
        return sakd_error(SAKD_ERR_NOMEM, "cannot allocate the platform list");
    sakd_status st = SAKD_OK;
    err = clGetPlatformIDs(np, platforms, NULL);
    if (err != CL_SUCCESS) {
        free(platforms);
        SAKD_CL_CHECK(err);
    }
    sakd_device_info *out = NULL;
    size_t n = 0;
    for (cl_uint p = 0; p < np && st == SAKD_OK; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err == CL_DEVICE_NOT_FOUND || nd == 0)
            continue; /* a platform without devices is not an error */
        if (err != CL_SUCCESS) {
            st = sakd_error(SAKD_ERR_OPENCL, "clGetDeviceIDs on platform %u failed with %s", p,
                            sakd_cl_strerror(err));
            break;
        }
        cl_device_id *devs = calloc(nd, sizeof *devs);
        sakd_device_info *grown = realloc(out, (n + nd) * sizeof *out);
        if (!devs || !grown) {
            free(devs);
            if (grown)
                out = grown;
            st = sakd_error(SAKD_ERR_NOMEM, "cannot allocate the device list");
            break;
        }
        out = grown;
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint d = 0; d < nd && err == CL_SUCCESS && st == SAKD_OK; d++) {
            sakd_device_info *info = &out[n++];
            memset(info, 0, sizeof *info);
            info->platform_index = p;
            info->device_index = d;
            info->platform = platforms[p];
            info->device = devs[d];
            platform_string(platforms[p], CL_PLATFORM_NAME, info->platform_name,
                            sizeof info->platform_name);
            platform_string(platforms[p], CL_PLATFORM_VENDOR, info->platform_vendor,
                            sizeof info->platform_vendor);
            platform_string(platforms[p], CL_PLATFORM_VERSION, info->platform_version,
                            sizeof info->platform_version);
            st = describe_device(info);
        }
        if (err != CL_SUCCESS && st == SAKD_OK)
            st = sakd_error(SAKD_ERR_OPENCL, "clGetDeviceIDs on platform %u failed with %s", p,
                            sakd_cl_strerror(err));
        free(devs);
    }
    free(platforms);
    if (st == SAKD_OK && n == 0)
        st = sakd_error(SAKD_ERR_NO_PLATFORM,
                        "%u OpenCL platform(s) found but none has a device (on Debian, the CPU "
                        "platform is 'apt-get install pocl-opencl-icd')",
                        np);
    if (st != SAKD_OK) {
        free(out);
        return st;
    }
    *list = out;
    *count = n;
    return SAKD_OK;
}

void sakd_device_list_free(sakd_device_info *list)
{
    free(list);
}

const char *sakd_device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return "custom";
    return "default";
}

void sakd_device_list_format(const sakd_device_info *list, size_t count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (count == 0)
        snprintf(buf, size, "  (none)\n");
    for (size_t i = 0; i < count && used < size; i++) {
        int w = snprintf(buf + used, size - used, "  %u:%u  %s (%s, %s)\n", list[i].platform_index,
                         list[i].device_index, list[i].name, list[i].platform_name,
                         sakd_device_type_name(list[i].type));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Case-insensitive substring test. */
static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl)
            return 1;
    }
    return nl == 0;
}

/* Parses "P:D" with decimal indices; returns 1 on a match of the whole string. */
static int parse_indices(const char *s, unsigned long *p, unsigned long *d)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return 0;
    *p = strtoul(s, &end, 10);
    if (*end != ':' || !isdigit((unsigned char)end[1]))
        return 0;
    *d = strtoul(end + 1, &end, 10);
    return *end == '\0';
}

static sakd_status no_match(const sakd_device_info *list, size_t count, const char *spec,
                            const char *why)
{
    char devices[4096];
    sakd_device_list_format(list, count, devices, sizeof devices);
    return sakd_error(SAKD_ERR_NO_DEVICE,
                      "device '%s' %s; give P:D indices, part of a platform or device name, "
                      "or gpu, cpu, accelerator. Available devices:\n%s",
                      spec, why, devices);
}

sakd_status sakd_device_select(const sakd_device_info *list, size_t count, const char *spec,
                               size_t *index)
{
    char s[256];
    /* Trim surrounding white space. */
    const char *begin = spec ? spec : "";
    while (isspace((unsigned char)*begin))
        begin++;
    size_t len = strlen(begin);
    while (len > 0 && isspace((unsigned char)begin[len - 1]))
        len--;
    if (len >= sizeof s)
        return no_match(list, count, begin, "is too long");
    memcpy(s, begin, len);
    s[len] = '\0';

    if (count == 0)
        return no_match(list, count, s, "cannot be used: there are no OpenCL devices");
    if (s[0] == '\0') {
        for (size_t i = 0; i < count; i++)
            if (list[i].type & CL_DEVICE_TYPE_GPU) {
                *index = i;
                return SAKD_OK;
            }
        *index = 0;
        return SAKD_OK;
    }
    unsigned long p, d;
    if (parse_indices(s, &p, &d)) {
        for (size_t i = 0; i < count; i++)
            if (list[i].platform_index == p && list[i].device_index == d) {
                *index = i;
                return SAKD_OK;
            }
        return no_match(list, count, s, "names no device");
    }
    static const struct {
        const char *name;
        cl_device_type type;
    } types[] = {
        {"gpu", CL_DEVICE_TYPE_GPU},
        {"cpu", CL_DEVICE_TYPE_CPU},
        {"accelerator", CL_DEVICE_TYPE_ACCELERATOR},
    };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (strcasecmp(s, types[t].name) != 0)
            continue;
        for (size_t i = 0; i < count; i++)
            if (list[i].type & types[t].type) {
                *index = i;
                return SAKD_OK;
            }
        return no_match(list, count, s, "matches no device of that type");
    }
    for (size_t i = 0; i < count; i++)
        if (contains_nocase(list[i].name, s) || contains_nocase(list[i].platform_name, s)) {
            *index = i;
            return SAKD_OK;
        }
    return no_match(list, count, s, "matches no platform or device name");
}
