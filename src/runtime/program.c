/* program.c — kernel sources, lazy per-family program builds and the on-disk binary cache. */
#include "runtime/program.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/file.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/strbuf.h"

struct sakd_program_entry {
    char *family;
    char *options;
    cl_program program;
};

struct sakd_kernel_entry {
    cl_program program;
    char *name;
    cl_kernel kernel;
};

/* Deepest chain of #include "x.clh" followed before giving up. */
#define MAX_INCLUDE_DEPTH 8
/* Cache file: magic, u32 key length, key, u64 binary length, binary, u32 CRC-32 of all before. */
static const char CACHE_MAGIC[8] = {'S', 'A', 'K', 'D', 'P', 'R', 'G', '1'};

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Reads one file of cl/: from SAKD_CL_DIR when set, else the embedded copy. */
static sakd_status load_cl_file(const char *name, char **data, size_t *size)
{
    const char *dir = getenv("SAKD_CL_DIR");
    if (dir && *dir) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return sakd_error(SAKD_ERR_NOT_FOUND,
                              "kernel directory SAKD_CL_DIR=%s does not exist or is not a "
                              "directory (unset SAKD_CL_DIR to use the built-in kernels)",
                              dir);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        sakd_status st = sakd_file_read(path, data, size);
        if (st == SAKD_ERR_NOT_FOUND)
            return sakd_error(st, "kernel source %s not found (SAKD_CL_DIR is set to %s)", path,
                              dir);
        return st;
    }
    for (size_t i = 0; i < sakd_cl_n_files; i++) {
        if (strcmp(sakd_cl_files[i].name, name) != 0)
            continue;
        *data = malloc(sakd_cl_files[i].size + 1);
        if (!*data)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory loading kernel source %s", name);
        memcpy(*data, sakd_cl_files[i].data, sakd_cl_files[i].size);
        (*data)[sakd_cl_files[i].size] = '\0';
        *size = sakd_cl_files[i].size;
        return SAKD_OK;
    }
    char known[1024] = "";
    for (size_t i = 0; i < sakd_cl_n_files; i++) {
        strncat(known, " ", sizeof known - strlen(known) - 1);
        strncat(known, sakd_cl_files[i].name, sizeof known - strlen(known) - 1);
    }
    return sakd_error(SAKD_ERR_NOT_FOUND, "no kernel source %s is built in (known:%s)", name,
                      known);
}

/* If `line` is `#include "name"`, copies name into `out` and returns 1. */
static int include_target(const char *line, size_t len, char *out, size_t size)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i >= len || line[i] != '#')
        return 0;
    i++;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (len - i < 7 || strncmp(line + i, "include", 7) != 0)
        return 0;
    i += 7;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i >= len || line[i] != '"')
        return 0;
    size_t start = ++i;
    while (i < len && line[i] != '"')
        i++;
    if (i >= len || i - start + 1 > size)
        return 0;
    memcpy(out, line + start, i - start);
    out[i - start] = '\0';
    return 1;
}

static sakd_status expand(sakd_strbuf *out, const char *name, int depth)
{
    if (depth > MAX_INCLUDE_DEPTH)
        return sakd_error(SAKD_ERR_ARG, "kernel source %s: includes nested deeper than %d", name,
                          MAX_INCLUDE_DEPTH);
    char *src;
    size_t size;
    SAKD_TRY(load_cl_file(name, &src, &size));
    sakd_strbuf_printf(out, "#line 1 \"%s\"\n", name);
    size_t lineno = 1;
    for (const char *p = src; p < src + size; lineno++) {
        const char *eol = memchr(p, '\n', (size_t)(src + size - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(src + size - p);
        char target[256];
        if (include_target(p, len, target, sizeof target)) {
            sakd_status st = expand(out, target, depth + 1);
            if (st != SAKD_OK) {
                free(src);
                return sakd_error(st, "%s (included from %s:%zu)", sakd_error_detail(), name,
                                  lineno);
            }
            sakd_strbuf_printf(out, "\n#line %zu \"%s\"\n", lineno + 1, name);
        } else {
            sakd_strbuf_append(out, p, len);
            sakd_strbuf_append(out, "\n", 1);
        }
        p += len + (eol ? 1 : 0);
    }
    free(src);
    return out->failed ? sakd_error(SAKD_ERR_NOMEM, "out of memory expanding %s", name) : SAKD_OK;
}

sakd_status sakd_cl_source(const char *family, char **source, size_t *size)
{
    char file[256];
    if ((size_t)snprintf(file, sizeof file, "%s.cl", family) >= sizeof file)
        return sakd_error(SAKD_ERR_ARG, "kernel family name too long: %s", family);
    sakd_strbuf out = {0};
    sakd_status st = expand(&out, file, 0);
    if (st != SAKD_OK) {
        free(out.data);
        return st;
    }
    *source = out.data;
    *size = out.size;
    return SAKD_OK;
}

sakd_status sakd_program_cache_dir(char *buf, size_t size)
{
    const char *dir = getenv("SAKD_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir && *dir)
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/sakd", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.cache/sakd", home);
    else
        return sakd_error(SAKD_ERR_IO, "no kernel cache directory: set XDG_CACHE_HOME or HOME "
                                       "(or SAKD_NO_CACHE=1 to compile every time)");
    if (n < 0 || (size_t)n >= size)
        return sakd_error(SAKD_ERR_ARG, "kernel cache directory path too long");
    return SAKD_OK;
}

sakd_status sakd_device_cache_file(const sakd_ctx *ctx, const char *prefix, const char *extra,
                                   const char *what, char *buf, size_t size)
{
    char dir[4096];
    SAKD_TRY(sakd_program_cache_dir(dir, sizeof dir));
    sakd_strbuf key = {0};
    sakd_strbuf_printf(&key, "%s\n%s\n%s\n", ctx->info.platform_name, ctx->info.name,
                       ctx->info.driver);
    if (extra)
        sakd_strbuf_printf(&key, "%s\n", extra);
    if (key.failed)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    unsigned long long h = sakd_hash64(key.data, key.size, SAKD_HASH64_SEED);
    free(key.data);
    int n = snprintf(buf, size, "%s/%s-%016llx.ini", dir, prefix, h);
    if (n < 0 || (size_t)n >= size)
        return sakd_error(SAKD_ERR_ARG, "%s path too long", what);
    return SAKD_OK;
}

static sakd_status cache_dir_ready(char *dir, size_t size)
{
    SAKD_TRY(sakd_program_cache_dir(dir, size));
    sakd_status st = sakd_mkdir_p(dir);
    if (st != SAKD_OK)
        return sakd_error(st,
                          "kernel cache directory unusable: %s (set XDG_CACHE_HOME to a "
                          "writable directory, or SAKD_NO_CACHE=1 to compile every time)",
                          sakd_error_detail());
    if (access(dir, R_OK | W_OK | X_OK) != 0)
        return sakd_error(SAKD_ERR_IO,
                          "kernel cache directory %s is not readable and writable: %s (set "
                          "XDG_CACHE_HOME to a writable directory, or SAKD_NO_CACHE=1)",
                          dir, strerror(errno));
    return SAKD_OK;
}

/* The text that identifies a build: device, driver, source and options. */
static void cache_key(const sakd_ctx *ctx, const char *source, size_t size, const char *options,
                      sakd_strbuf *key)
{
    sakd_strbuf_printf(key,
                       "sakd-program-cache 1\nplatform: %s | %s\ndevice: %s | %s\ndriver: %s\n",
                       ctx->info.platform_name, ctx->info.platform_version, ctx->info.name,
                       ctx->info.vendor, ctx->info.driver);
    sakd_strbuf_printf(key, "source: %016llx %08lx %zu\n",
                       sakd_hash64(source, size, SAKD_HASH64_SEED),
                       crc32(0L, (const Bytef *)source, (uInt)size), size);
    sakd_strbuf_printf(key, "options: %s\n", options);
}

/* Finds the binary in a cache file; 0 when the file is corrupt or for another key. */
static int cache_parse(const char *file, size_t fsize, const sakd_strbuf *key,
                       const unsigned char **bin, size_t *bin_size)
{
    const unsigned char *p = (const unsigned char *)file;
    if (fsize < sizeof CACHE_MAGIC + 4 + 8 + 4 || memcmp(p, CACHE_MAGIC, sizeof CACHE_MAGIC))
        return 0;
    uint32_t stored_crc, key_len;
    uint64_t blen;
    memcpy(&stored_crc, p + fsize - 4, 4);
    if (crc32(0L, p, (uInt)(fsize - 4)) != stored_crc)
        return 0;
    memcpy(&key_len, p + 8, 4);
    if (key_len != key->size || 12 + (size_t)key_len + 8 + 4 > fsize ||
        memcmp(p + 12, key->data, key_len))
        return 0;
    memcpy(&blen, p + 12 + key_len, 8);
    if (12 + (size_t)key_len + 8 + blen + 4 != fsize || blen == 0)
        return 0;
    *bin = p + 12 + key_len + 8;
    *bin_size = (size_t)blen;
    return 1;
}

static sakd_status program_binary(cl_program program, unsigned char **bin, size_t *size)
{
    SAKD_CL_CHECK(clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof *size, size, NULL));
    if (*size == 0)
        return sakd_error(SAKD_ERR_OPENCL, "the OpenCL driver returned an empty program binary");
    *bin = malloc(*size);
    if (!*bin)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory reading a program binary");
    cl_int err = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof *bin, bin, NULL);
    if (err != CL_SUCCESS) {
        free(*bin);
        *bin = NULL;
        SAKD_CL_CHECK(err);
    }
    return SAKD_OK;
}

static void cache_store(const sakd_ctx *ctx, const char *path, const sakd_strbuf *key,
                        cl_program program)
{
    unsigned char *bin;
    size_t bin_size;
    if (program_binary(program, &bin, &bin_size) != SAKD_OK) {
        sakd_log(SAKD_LOG_WARN, "not caching a program for %s: %s", ctx->info.name,
                 sakd_error_detail());
        return;
    }
    sakd_strbuf file = {0};
    uint32_t key_len = (uint32_t)key->size;
    uint64_t blen = bin_size;
    sakd_strbuf_append(&file, CACHE_MAGIC, sizeof CACHE_MAGIC);
    sakd_strbuf_append(&file, (const char *)&key_len, 4);
    sakd_strbuf_append(&file, key->data, key->size);
    sakd_strbuf_append(&file, (const char *)&blen, 8);
    sakd_strbuf_append(&file, (const char *)bin, bin_size);
    free(bin);
    if (!file.failed) {
        uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)file.data, (uInt)file.size);
        sakd_strbuf_append(&file, (const char *)&crc, 4);
    }
    if (file.failed || sakd_file_write_atomic(path, file.data, file.size) != SAKD_OK)
        sakd_log(SAKD_LOG_WARN, "could not store compiled kernels in %s: %s", path,
                 file.failed ? "out of memory" : sakd_error_detail());
    free(file.data);
}

/* Builds an already created program; on failure records the build log. */
static sakd_status build(sakd_ctx *ctx, cl_program program, const char *label, const char *options)
{
    cl_int err = clBuildProgram(program, 1, &ctx->info.device, options, NULL, NULL);
    if (err == CL_SUCCESS)
        return SAKD_OK;
    size_t log_size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(program, ctx->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL,
                              &log_size) == CL_SUCCESS &&
        (log = malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(program, ctx->info.device, CL_PROGRAM_BUILD_LOG, log_size, log,
                                  NULL) != CL_SUCCESS)
            log_size = 0;
        log[log_size] = '\0';
    }
    sakd_status st = sakd_error(SAKD_ERR_BUILD,
                                "kernel program %s failed to build on %s with options '%s' (%s); "
                                "build log:\n%s",
                                label, ctx->info.name, options, sakd_cl_strerror(err),
                                log && *log ? log : "(empty)");
    free(log);
    return st;
}

static sakd_status from_source(sakd_ctx *ctx, const char *label, const char *source, size_t size,
                               const char *options, cl_program *program)
{
    cl_int err;
    *program = clCreateProgramWithSource(ctx->context, 1, &source, &size, &err);
    if (err != CL_SUCCESS)
        return sakd_error(SAKD_ERR_OPENCL, "creating program %s failed with %s", label,
                          sakd_cl_strerror(err));
    sakd_status st = build(ctx, *program, label, options);
    if (st != SAKD_OK) {
        clReleaseProgram(*program);
        *program = NULL;
    }
    return st;
}

static sakd_status from_binary(sakd_ctx *ctx, const char *label, const unsigned char *bin,
                               size_t size, const char *options, cl_program *program)
{
    cl_int err, bin_status;
    *program = clCreateProgramWithBinary(ctx->context, 1, &ctx->info.device, &size, &bin,
                                         &bin_status, &err);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (*program)
            clReleaseProgram(*program);
        *program = NULL;
        return sakd_error(SAKD_ERR_FORMAT, "binary for %s rejected by %s: %s", label,
                          ctx->info.name, sakd_cl_strerror(err != CL_SUCCESS ? err : bin_status));
    }
    sakd_status st = build(ctx, *program, label, options);
    if (st != SAKD_OK) {
        clReleaseProgram(*program);
        *program = NULL;
    }
    return st;
}

static char *full_options(const char *options)
{
    sakd_strbuf b = {0};
    sakd_strbuf_append(&b, SAKD_CL_BASE_OPTIONS, strlen(SAKD_CL_BASE_OPTIONS));
    if (options && *options) {
        sakd_strbuf_append(&b, " ", 1);
        sakd_strbuf_append(&b, options, strlen(options));
    }
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

sakd_status sakd_program_build(sakd_ctx *ctx, const char *label, const char *source, size_t size,
                               const char *options, cl_program *program,
                               sakd_program_origin *origin)
{
    *program = NULL;
    if (origin)
        *origin = SAKD_PROGRAM_FROM_SOURCE;
    char *opts = full_options(options);
    if (!opts)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    const char *no_cache = getenv("SAKD_NO_CACHE");
    if (no_cache && *no_cache && strcmp(no_cache, "0") != 0) {
        sakd_status st = from_source(ctx, label, source, size, opts, program);
        free(opts);
        return st;
    }
    char dir[PATH_MAX - 32], path[PATH_MAX];
    sakd_status st = cache_dir_ready(dir, sizeof dir);
    if (st != SAKD_OK) {
        free(opts);
        return st;
    }
    sakd_strbuf key = {0};
    cache_key(ctx, source, size, opts, &key);
    if (key.failed) {
        free(opts);
        free(key.data);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    snprintf(path, sizeof path, "%s/%016llx.bin", dir,
             sakd_hash64(key.data, key.size, SAKD_HASH64_SEED));

    char *file;
    size_t fsize;
    if (sakd_file_read(path, &file, &fsize) == SAKD_OK) {
        const unsigned char *bin;
        size_t bin_size;
        if (cache_parse(file, fsize, &key, &bin, &bin_size) &&
            from_binary(ctx, label, bin, bin_size, opts, program) == SAKD_OK) {
            if (origin)
                *origin = SAKD_PROGRAM_FROM_CACHE;
        } else {
            sakd_log(SAKD_LOG_INFO, "kernel cache file %s is stale or corrupt; rebuilding", path);
        }
        free(file);
    }
    if (!*program) {
        st = from_source(ctx, label, source, size, opts, program);
        if (st == SAKD_OK)
            cache_store(ctx, path, &key, *program);
    }
    free(key.data);
    free(opts);
    return st;
}

void sakd_program_binary_name(const char *family, const char *options, char *buf, size_t size)
{
    if (options && *options)
        snprintf(buf, size, "%s-%08llx.bin", family,
                 sakd_hash64(options, strlen(options), SAKD_HASH64_SEED) & 0xffffffffULL);
    else
        snprintf(buf, size, "%s.bin", family);
}

static sakd_status from_offline(sakd_ctx *ctx, const char *dir, const char *family,
                                const char *options, cl_program *program)
{
    char name[300], path[PATH_MAX];
    sakd_program_binary_name(family, options, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *bin;
    size_t size;
    sakd_status st = sakd_file_read(path, &bin, &size);
    if (st == SAKD_ERR_NOT_FOUND)
        return sakd_error(st,
                          "offline kernel binary %s not found: SAKD_CL_BINARY_DIR=%s asks for "
                          "precompiled kernels, and family '%s' with options '%s' needs this file "
                          "(write it with 'sakd kernels --export DIR', or unset "
                          "SAKD_CL_BINARY_DIR to compile from source)",
                          path, dir, family, options ? options : "");
    if (st != SAKD_OK)
        return st;
    char *opts = full_options(options);
    if (!opts) {
        free(bin);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    st = from_binary(ctx, path, (const unsigned char *)bin, size, opts, program);
    free(opts);
    free(bin);
    return st;
}

sakd_status sakd_program_get(sakd_ctx *ctx, const char *family, const char *options,
                             cl_program *program, sakd_program_origin *origin)
{
    if (!options)
        options = "";
    for (size_t i = 0; i < ctx->n_programs; i++) {
        struct sakd_program_entry *e = &ctx->programs[i];
        if (strcmp(e->family, family) == 0 && strcmp(e->options, options) == 0) {
            *program = e->program;
            if (origin)
                *origin = SAKD_PROGRAM_FROM_CACHE;
            return SAKD_OK;
        }
    }
    struct sakd_program_entry *grown =
        realloc(ctx->programs, (ctx->n_programs + 1) * sizeof *grown);
    if (!grown)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    ctx->programs = grown;

    const char *offline = getenv("SAKD_CL_BINARY_DIR");
    sakd_status st;
    if (offline && *offline) {
        st = from_offline(ctx, offline, family, options, program);
        if (origin)
            *origin = SAKD_PROGRAM_FROM_OFFLINE;
    } else {
        char *source, label[300];
        size_t size;
        SAKD_TRY(sakd_cl_source(family, &source, &size));
        snprintf(label, sizeof label, "%s.cl", family);
        st = sakd_program_build(ctx, label, source, size, options, program, origin);
        free(source);
    }
    if (st != SAKD_OK)
        return st;
    struct sakd_program_entry *e = &ctx->programs[ctx->n_programs];
    e->family = dup_string(family);
    e->options = dup_string(options);
    e->program = *program;
    if (!e->family || !e->options) {
        free(e->family);
        free(e->options);
        clReleaseProgram(*program);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    ctx->n_programs++;
    return SAKD_OK;
}

sakd_status sakd_kernel_get(sakd_ctx *ctx, const char *family, const char *options,
                            const char *name, cl_kernel *kernel)
{
    cl_program program;
    SAKD_TRY(sakd_program_get(ctx, family, options, &program, NULL));
    for (size_t i = 0; i < ctx->n_kernels; i++)
        if (ctx->kernels[i].program == program && strcmp(ctx->kernels[i].name, name) == 0) {
            *kernel = ctx->kernels[i].kernel;
            return SAKD_OK;
        }
    struct sakd_kernel_entry *grown = realloc(ctx->kernels, (ctx->n_kernels + 1) * sizeof *grown);
    if (!grown)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    ctx->kernels = grown;
    cl_int err;
    *kernel = clCreateKernel(program, name, &err);
    if (err != CL_SUCCESS)
        return sakd_error(err == CL_INVALID_KERNEL_NAME ? SAKD_ERR_NOT_FOUND : SAKD_ERR_OPENCL,
                          "kernel %s of family %s (options '%s'): %s", name, family,
                          options ? options : "", sakd_cl_strerror(err));
    struct sakd_kernel_entry *e = &ctx->kernels[ctx->n_kernels];
    e->program = program;
    e->kernel = *kernel;
    e->name = dup_string(name);
    if (!e->name) {
        clReleaseKernel(*kernel);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    }
    ctx->n_kernels++;
    return SAKD_OK;
}

void sakd_program_release_all(sakd_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_kernels; i++) {
        clReleaseKernel(ctx->kernels[i].kernel);
        free(ctx->kernels[i].name);
    }
    free(ctx->kernels);
    ctx->kernels = NULL;
    ctx->n_kernels = 0;
    for (size_t i = 0; i < ctx->n_programs; i++) {
        clReleaseProgram(ctx->programs[i].program);
        free(ctx->programs[i].family);
        free(ctx->programs[i].options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->n_programs = 0;
}

sakd_status sakd_program_write_binary(sakd_ctx *ctx, cl_program program, const char *path)
{
    (void)ctx;
    unsigned char *bin;
    size_t size;
    SAKD_TRY(program_binary(program, &bin, &size));
    sakd_status st = sakd_file_write_atomic(path, bin, size);
    free(bin);
    return st;
}
