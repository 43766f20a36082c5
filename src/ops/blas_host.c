/* blas_host.c — loads the host BLAS with dlopen: the kernel family and thread count are set
 * before the library's own initialization runs (OpenBLAS picks its kernels in a constructor). */
#include "config.h"

#include "ops/blas_host.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

#ifndef SAKD_HOST_BLAS_SONAME
#define SAKD_HOST_BLAS_SONAME ""
#define SAKD_HOST_BLAS_NAME "none"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sakd_host_blas blas;
static int loaded;
static char load_error[512];
static int default_threads = 1;

int sakd_host_blas_built(void)
{
    return SAKD_HOST_BLAS_SONAME[0] != '\0';
}

const char *sakd_host_blas_library(void)
{
    return SAKD_HOST_BLAS_NAME;
}

/* OpenBLAS's name of the best kernel family of this CPU's instruction set, or NULL to leave the
 * choice to OpenBLAS. Every AVX-512 (F, BW, DQ, VL) CPU runs SGEMM best on the SkylakeX kernels
 * of the OpenBLAS releases Debian ships (Cooperlake adds only bfloat16 routines). */
static const char *openblas_core_for_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return __builtin_cpu_is("amd") ? "Zen" : "Haswell";
#endif
    return NULL;
}

static void *need(void *lib, const char *symbol)
{
    void *p = dlsym(lib, symbol);
    if (!p && !load_error[0])
        snprintf(load_error, sizeof load_error, "%s has no symbol %s", SAKD_HOST_BLAS_SONAME,
                 symbol);
    return p;
}

static int threads_wanted(void)
{
    const char *env = getenv("SAKD_BLAS_THREADS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 1024)
            return (int)n;
        sakd_log(SAKD_LOG_WARN, "SAKD_BLAS_THREADS=%s is not a thread count (1-1024); using %d",
                 env, default_threads);
    }
    return default_threads;
}

static void (*blis_set_threads)(long long);

static void blis_threads(int n)
{
    blis_set_threads(n);
}

static void load_openblas(void *lib)
{
    void (*set_threads)(int) = (void (*)(int))need(lib, "openblas_set_num_threads");
    blas.set_threads = set_threads;
    char *(*corename)(void) = (char *(*)(void))need(lib, "openblas_get_corename");
    char *(*config)(void) = (char *(*)(void))need(lib, "openblas_get_config");
    if (!set_threads || !corename || !config)
        return;
    blas.threads = threads_wanted();
    set_threads(blas.threads);
    /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": the name and version */
    const char *cfg = config(), *sp = strchr(cfg, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    snprintf(blas.version, sizeof blas.version, "%.*s", sp ? (int)(sp - cfg) : 95, cfg);
    snprintf(blas.kernels, sizeof blas.kernels, "%s", corename());
}

/* BLIS's thread count and architecture; dim_t is BLIS's 64-bit integer. */
static void load_blis(void *lib)
{
    void (*set_threads)(long long) = (void (*)(long long))need(lib, "bli_thread_set_num_threads");
    int (*arch_id)(void) = (int (*)(void))need(lib, "bli_arch_query_id");
    const char *(*arch_name)(int) = (const char *(*)(int))need(lib, "bli_arch_string");
    const char *(*version)(void) = (const char *(*)(void))need(lib, "bli_info_get_version_str");
    if (!set_threads || !arch_id || !arch_name || !version)
        return;
    blis_set_threads = set_threads;
    blas.set_threads = blis_threads;
    blas.threads = threads_wanted();
    set_threads(blas.threads);
    snprintf(blas.version, sizeof blas.version, "BLIS %s", version());
    snprintf(blas.kernels, sizeof blas.kernels, "%s", arch_name(arch_id()));
    snprintf(blas.chosen_by, sizeof blas.chosen_by, "BLIS's own detection");
}

static void load(void)
{
    if (!sakd_host_blas_built()) {
        snprintf(load_error, sizeof load_error,
                 "sakd was built without a host BLAS (./configure --with-blas=openblas|blis; "
                 "Debian package libopenblas-dev or libblis-dev)");
        return;
    }
    blas.library = SAKD_HOST_BLAS_NAME;
    blas.soname = SAKD_HOST_BLAS_SONAME;
    int openblas = strcmp(SAKD_HOST_BLAS_NAME, "OpenBLAS") == 0;
    /* The process environment is left as it was: the variable is set only for the load. */
    const char *user_core = getenv("OPENBLAS_CORETYPE");
    const char *core = NULL;
    if (openblas && user_core && *user_core)
        snprintf(blas.chosen_by, sizeof blas.chosen_by, "OPENBLAS_CORETYPE=%s (set by the user)",
                 user_core);
    else if (openblas && (core = openblas_core_for_cpu()) != NULL) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        snprintf(blas.chosen_by, sizeof blas.chosen_by,
                 "sakd from the CPU's instruction set (OPENBLAS_CORETYPE=%s)", core);
    } else if (openblas)
        snprintf(blas.chosen_by, sizeof blas.chosen_by, "OpenBLAS's own detection");
    void *lib = dlopen(SAKD_HOST_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (core)
        unsetenv("OPENBLAS_CORETYPE");
    if (!lib) {
        snprintf(load_error, sizeof load_error, "cannot load %s (%s): %s", SAKD_HOST_BLAS_NAME,
                 SAKD_HOST_BLAS_SONAME, dlerror());
        return;
    }
    blas.sgemm = (sakd_cblas_sgemm_fn)need(lib, "cblas_sgemm");
    if (openblas)
        load_openblas(lib);
    else
        load_blis(lib);
    if (load_error[0] || !blas.sgemm)
        return; /* the library stays loaded: unloading a BLAS with live threads is unsafe */
    loaded = 1;
}

sakd_status sakd_host_blas_get(const sakd_host_blas **out, int threads)
{
    *out = NULL;
    if (threads >= 1)
        default_threads = threads; /* read once, by the first successful call's load */
    pthread_once(&once, load);
    if (!loaded)
        return sakd_error(SAKD_ERR_NOT_FOUND, "host BLAS: %s", load_error);
    *out = &blas;
    return SAKD_OK;
}

void sakd_host_blas_describe(char *buf, size_t size)
{
    if (!loaded) {
        snprintf(buf, size, "%s, not loaded", SAKD_HOST_BLAS_NAME);
        return;
    }
    snprintf(buf, size, "%s, %s kernels (chosen by %s), %d thread%s", blas.version, blas.kernels,
             blas.chosen_by, blas.threads, blas.threads == 1 ? "" : "s");
}
