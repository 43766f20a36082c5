/* program.h — kernel sources (embedded or from SAKD_CL_DIR), lazy program builds, the on-disk
 * binary cache and offline binaries (SAKD_CL_BINARY_DIR). */
#ifndef SAKD_RUNTIME_PROGRAM_H
#define SAKD_RUNTIME_PROGRAM_H

#include <stddef.h>

#include "runtime/context.h"

/* One file of cl/, embedded at build time (cl_embedded.c, generated). */
typedef struct sakd_cl_file {
    const char *name; /* e.g. "elementwise.cl" */
    const unsigned char *data;
    size_t size;
} sakd_cl_file;

extern const sakd_cl_file sakd_cl_files[];
extern const size_t sakd_cl_n_files;

/* How a program came to be. */
typedef enum sakd_program_origin {
    SAKD_PROGRAM_FROM_SOURCE = 0, /* compiled now (and stored in the cache) */
    SAKD_PROGRAM_FROM_CACHE = 1,  /* loaded from the on-disk binary cache */
    SAKD_PROGRAM_FROM_OFFLINE = 2 /* loaded from SAKD_CL_BINARY_DIR */
} sakd_program_origin;

/* Options every program is built with, before the caller's own. */
#define SAKD_CL_BASE_OPTIONS "-cl-std=CL1.2"

/* The source of kernel family `family` (file cl/<family>.cl) with its
 * `#include "x.clh"` lines expanded, from SAKD_CL_DIR when set, else from
 * the embedded copy. *source is malloc'ed and NUL-terminated. */
sakd_status sakd_cl_source(const char *family, char **source, size_t *size);

/* Builds `source` with SAKD_CL_BASE_OPTIONS + `options`, through the disk
 * cache (unless SAKD_NO_CACHE is set). `label` names the source in
 * messages. *origin (if non-NULL) says whether the cache was hit. */
sakd_status sakd_program_build(sakd_ctx *ctx, const char *label, const char *source, size_t size,
                               const char *options, cl_program *program,
                               sakd_program_origin *origin);

/* The program of a kernel family with `options` (NULL = none), built once
 * per context: from SAKD_CL_BINARY_DIR when set, else from source through
 * the cache. The context owns the program. */
sakd_status sakd_program_get(sakd_ctx *ctx, const char *family, const char *options,
                             cl_program *program, sakd_program_origin *origin);

/* Kernel `name` of a family's program, created once per context and owned
 * by it. */
sakd_status sakd_kernel_get(sakd_ctx *ctx, const char *family, const char *options,
                            const char *name, cl_kernel *kernel);

/* Releases every program and kernel the context holds. */
void sakd_program_release_all(sakd_ctx *ctx);

/* The cache directory: $SAKD_CACHE_DIR, else $XDG_CACHE_HOME/sakd, else
 * $HOME/.cache/sakd. */
sakd_status sakd_program_cache_dir(char *buf, size_t size);

/* A per-device file of the cache directory: "<dir>/<prefix>-<hash>.ini", the hash of the
 * device's platform, name and driver (and `extra`, a line such as a library version, when
 * not NULL), so that each device and driver keeps its own measurements. `what` names the file
 * in an error. */
sakd_status sakd_device_cache_file(const sakd_ctx *ctx, const char *prefix, const char *extra,
                                   const char *what, char *buf, size_t size);

/* File name an offline binary of `family` built with `options` must have
 * inside SAKD_CL_BINARY_DIR: "<family>.bin", or "<family>-<hash>.bin"
 * when options are given. */
void sakd_program_binary_name(const char *family, const char *options, char *buf, size_t size);

/* Writes the device binary of a built program to `path` (atomically). */
sakd_status sakd_program_write_binary(sakd_ctx *ctx, cl_program program, const char *path);

#endif
