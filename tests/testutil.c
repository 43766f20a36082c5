/* testutil.c — helpers shared by the Check suites. */
#include "testutil.h"

#include "ops/blas_host.h"
#include "ops/conv.h"
#include "ops/conv_dnnl.h"
#include "ops/host.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t test_seed(void)
{
    static uint64_t seed;
    static int ready;
    if (!ready) {
        const char *s = getenv("SAKD_TEST_SEED");
        seed = s && *s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
        ready = 1;
    }
    return seed;
}

/* splitmix64: a small, well-mixed generator for test inputs. */
uint64_t test_rand_u64(test_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

test_rng test_rng_new(uint64_t salt)
{
    test_rng r = {test_seed() ^ (salt * 0xd6e8feb86659fd93ULL)};
    test_rand_u64(&r);
    return r;
}

double test_rand_uniform(test_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(test_rand_u64(r) >> 11) * 0x1.0p-53;
}

size_t test_rand_size(test_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(test_rand_u64(r) % (uint64_t)(hi - lo + 1));
}

void test_fill_uniform(test_rng *r, float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)test_rand_uniform(r, lo, hi);
}

void test_poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

int test_small_shapes(void)
{
    const char *s = getenv("SAKD_TEST_SMALL");
    return s && strcmp(s, "1") == 0;
}

/* The shared context, or NULL (the error detail set) where it cannot be opened. */
static sakd_ctx *shared_ctx(void)
{
    static sakd_ctx *ctx;
    if (!ctx && sakd_ctx_new(&ctx, NULL, 0) != SAKD_OK)
        ctx = NULL;
    return ctx;
}

sakd_ctx *test_ctx(void)
{
    sakd_ctx *ctx = shared_ctx();
    ck_assert_msg(ctx != NULL, "cannot open the OpenCL device: %s", sakd_error_detail());
    return ctx;
}

void test_provider_clblast(void)
{
    sakd_status st = sakd_gemm_provider_set(test_ctx(), "clblast");
    ck_assert_msg(st == SAKD_OK, "GEMM provider clblast: %s", sakd_error_detail());
}

void test_provider_host(void)
{
    static int told;
    if (sakd_gemm_provider_set(test_ctx(), "host") != SAKD_OK) {
        if (!told++)
            printf("note: the host GEMM provider cannot serve this device (%s); its test cases "
                   "run under the automatic choice\n",
                   sakd_error_detail());
        sakd_error_clear();
        test_provider_reset();
    }
}

void test_provider_reset(void)
{
    sakd_status st = sakd_gemm_provider_set(test_ctx(), NULL);
    ck_assert_msg(st == SAKD_OK, "GEMM provider: %s", sakd_error_detail());
    st = sakd_conv_provider_set(test_ctx(), NULL);
    ck_assert_msg(st == SAKD_OK, "convolution provider: %s", sakd_error_detail());
}

/* The host provider with convolutions routed one way; skipped (automatic choice) where the
 * host provider cannot serve the device. */
static void host_with_convs(const char *route)
{
    test_provider_host();
    if (!sakd_host_active(test_ctx()))
        return;
    sakd_status st = sakd_conv_provider_set(test_ctx(), route);
    ck_assert_msg(st == SAKD_OK, "convolution provider %s: %s", route, sakd_error_detail());
}

void test_provider_host_im2col(void)
{
    host_with_convs("im2col");
}

void test_provider_host_onednn(void)
{
    host_with_convs("onednn");
}

int test_conv_providers(void)
{
    if (test_providers() < 2)
        return 1;
    return sakd_conv_dnnl_built() ? 4 : 3;
}

TCase *test_conv_provider_tcase(int i)
{
    if (i < 2)
        return test_provider_tcase(i);
    TCase *tc = tcase_create(i == 2 ? "host-im2col" : "host-onednn");
    tcase_add_checked_fixture(tc, i == 2 ? test_provider_host_im2col : test_provider_host_onednn,
                              test_provider_reset);
    return tc;
}

int test_providers(void)
{
    static int n;
    if (!n) {
        sakd_ctx *ctx = shared_ctx();
        n = sakd_host_blas_built() && ctx && sakd_gemm_provider_set(ctx, "host") == SAKD_OK ? 2 : 1;
        if (ctx)
            sakd_gemm_provider_set(ctx, NULL);
        sakd_error_clear();
    }
    return n;
}

TCase *test_provider_tcase(int i)
{
    TCase *tc = tcase_create(i ? "host" : "clblast");
    tcase_add_checked_fixture(tc, i ? test_provider_host : test_provider_clblast,
                              test_provider_reset);
    return tc;
}

int test_run_sakd(const char *const *env, const char *const *args, char *out, size_t size)
{
    const char *bin = getenv("SAKD_BIN");
    if (!bin)
        bin = "./sakd";
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        for (const char *const *e = env; e && *e; e++) {
            char name[256];
            const char *eq = strchr(*e, '=');
            if (!eq || (size_t)(eq - *e) >= sizeof name)
                _exit(126);
            memcpy(name, *e, (size_t)(eq - *e));
            name[eq - *e] = '\0';
            setenv(name, eq + 1, 1);
        }
        const char *argv[64] = {bin};
        int n = 1;
        for (const char *const *a = args; *a && n < 63; a++)
            argv[n++] = *a;
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t r;
    char sink[4096];
    while ((r = read(fds[0], used + 1 < size ? out + used : sink,
                     used + 1 < size ? size - 1 - used : sizeof sink)) > 0)
        if (used + 1 < size)
            used += (size_t)r;
    out[used] = '\0';
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

void test_tempdir(char *path, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/sakd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(path) != NULL, "cannot create a temporary directory");
}

void test_rmtree(const char *path)
{
    char cmd[4200];
    if (!strstr(path, "/sakd-test-"))
        return; /* never remove anything but our own test directories */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

#define GUARD_VALUE 7.0f
static size_t guard_off;
static sakd_tensor guarded[16]; /* the buffers behind the views, freed by test_guarded_free */
static size_t n_guarded;

void test_guard_offset(size_t k)
{
    guard_off = k;
}

void test_guarded_tensor(sakd_tensor *t, const char *name, int ndim, const size_t *shape,
                         const float *host)
{
    if (guard_off) {
        size_t n = 1;
        for (int i = 0; i < ndim; i++)
            n *= shape[i];
        n += 2 * guard_off;
        ck_assert(n_guarded < sizeof guarded / sizeof guarded[0]);
        sakd_tensor *base = &guarded[n_guarded++];
        TEST_OK(sakd_tensor_new(base, test_ctx(), "guarded", 1, &n));
        TEST_OK(sakd_tensor_fill(base, GUARD_VALUE));
        TEST_OK(sakd_tensor_view(t, base, name, guard_off, ndim, shape));
    } else {
        TEST_OK(sakd_tensor_new(t, test_ctx(), name, ndim, shape));
    }
    if (host)
        TEST_OK(sakd_tensor_upload(t, host));
    else
        TEST_OK(sakd_tensor_fill(t, NAN));
}

void test_guarded_free(void)
{
    for (size_t b = 0; b < n_guarded; b++) {
        size_t n = sakd_tensor_numel(&guarded[b]);
        float *h = malloc(n * sizeof *h);
        ck_assert_ptr_nonnull(h);
        TEST_OK(sakd_tensor_download(&guarded[b], h));
        for (size_t i = 0; i < n; i++)
            if (i < guard_off || i >= n - guard_off)
                ck_assert_msg(h[i] == GUARD_VALUE, "element %zu outside view %zu was written", i,
                              b);
        free(h);
        sakd_tensor_free(&guarded[b]);
    }
    n_guarded = 0;
}

void test_to_blocked(float *dst, const float *src, size_t n, size_t c, size_t p, size_t blk)
{
    for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t q = 0; q < p; q++)
                dst[((i * (c / blk) + ch / blk) * p + q) * blk + ch % blk] =
                    src[(i * c + ch) * p + q];
}

void test_from_blocked(float *dst, const float *src, size_t n, size_t c, size_t p, size_t blk)
{
    for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t q = 0; q < p; q++)
                dst[(i * c + ch) * p + q] =
                    src[((i * (c / blk) + ch / blk) * p + q) * blk + ch % blk];
}
