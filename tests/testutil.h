/* testutil.h — shared helpers of the Check suites: seeded random inputs, NaN poisoning, the
 * shared device context and running the sakd command. */
#ifndef SAKD_TESTS_TESTUTIL_H
#define SAKD_TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "sakd.h"

/* The seed of this run: SAKD_TEST_SEED if set, else from the clock. Printed
 * at start and in failure messages so that a failure can be replayed. */
uint64_t test_seed(void);

/* A random stream for one test: the run's seed mixed with `salt`. */
typedef struct test_rng {
    uint64_t state;
} test_rng;
test_rng test_rng_new(uint64_t salt);
uint64_t test_rand_u64(test_rng *r);
double test_rand_uniform(test_rng *r, double lo, double hi);
/* Uniform integer in [lo, hi]. */
size_t test_rand_size(test_rng *r, size_t lo, size_t hi);
void test_fill_uniform(test_rng *r, float *x, size_t n, double lo, double hi);

/* Sets every element to NaN, so that an element a kernel forgets to write
 * shows up. */
void test_poison(float *x, size_t n);

/* The device context shared by the device suites (SAKD_DEVICE selects it). */
sakd_ctx *test_ctx(void);

/* Checked fixtures that run a test case under one GEMM provider (ops/gemm.h) of test_ctx():
 * CLBlast, or the host BLAS (where it cannot serve the device, the case says so once and runs
 * under the automatic choice); the teardown returns to the automatic choice. */
void test_provider_clblast(void);
void test_provider_host(void);
void test_provider_reset(void);
/* The providers to run a suite's cases under: 2 (clblast, host) when sakd was built with a
 * host BLAS that can serve the device, else 1 (elsewhere the host cases would repeat the CLBlast
 * ones under the automatic choice); test_provider_tcase(i) makes the test case of provider i,
 * fixture set. */
int test_providers(void);
TCase *test_provider_tcase(int i);
/* For convolutions also the host provider's routes (ops/conv.h): 0 clblast, 1 host (automatic
 * route), 2 host-im2col, 3 host-onednn (every convolution through oneDNN; when built with it). */
int test_conv_providers(void);
TCase *test_conv_provider_tcase(int i);
void test_provider_host_im2col(void);
void test_provider_host_onednn(void);

/* 1 under SAKD_TEST_SMALL=1, which `make check-oclgrind` sets (tests/check_oclgrind.sh): the
 * suites run in a simulator that interprets every work-item, so they leave out the cases it
 * takes minutes over and keep ones that still take every path and launch every kernel. */
int test_small_shapes(void);

/* Asserts a status is SAKD_OK, printing the error detail otherwise. */
#define TEST_OK(call)                                                                              \
    do {                                                                                           \
        sakd_status test_st_ = (call);                                                             \
        ck_assert_msg(test_st_ == SAKD_OK, "%s -> %s: %s (seed %llu)", #call,                      \
                      sakd_strerror(test_st_), sakd_error_detail(),                                \
                      (unsigned long long)test_seed());                                            \
    } while (0)

/* Runs the sakd command ($SAKD_BIN) with `args` (NULL-terminated) and extra
 * environment assignments `env` ("NAME=value", NULL-terminated, may be
 * NULL); captures stdout and stderr together into `out`. Returns the exit
 * status, or -1 if it could not run. */
int test_run_sakd(const char *const *env, const char *const *args, char *out, size_t size);

/* Guarded tensors: after test_guard_offset(k) with k > 0, test_guarded_tensor makes each
 * tensor a view at offset k inside a buffer with k guard elements on both sides, so that
 * element offsets are exercised and writes outside a view are caught by test_guarded_free,
 * which checks the guards and frees the buffers. With k = 0 tensors are plain. The tensor is
 * uploaded from `host`, or filled with NaN when host is NULL. */
void test_guard_offset(size_t k);
void test_guarded_tensor(sakd_tensor *t, const char *name, int ndim, const size_t *shape,
                         const float *host);
void test_guarded_free(void);

/* dst, channel-blocked by blk (runtime/tensor.h), from src, plain [N, C, P]; and back. */
void test_to_blocked(float *dst, const float *src, size_t n, size_t c, size_t p, size_t blk);
void test_from_blocked(float *dst, const float *src, size_t n, size_t c, size_t p, size_t blk);

/* A fresh empty directory under $TMPDIR (or /tmp); `path` receives it. */
void test_tempdir(char *path, size_t size);

/* rm -rf of a test directory. */
void test_rmtree(const char *path);

Suite *suite_status(void);
Suite *suite_stats(void);
Suite *suite_device_select(void);
Suite *suite_rng_host(void);
Suite *suite_file(void);
Suite *suite_checkpoint(void);
Suite *suite_conv_spike(void);
Suite *suite_config(void);
Suite *suite_tensor(void);
Suite *suite_gemm(void);
Suite *suite_elementwise(void);
Suite *suite_loss(void);
Suite *suite_optim(void);
Suite *suite_rng_device(void);
Suite *suite_program_cache(void);
Suite *suite_cli(void);
Suite *suite_chain(void);
Suite *suite_null_args(void);
Suite *suite_model(void);
Suite *suite_graph(void);
Suite *suite_train(void);
Suite *suite_loading(void);
Suite *suite_conv(void);
Suite *suite_linear(void);
Suite *suite_bn(void);
Suite *suite_lif(void);
Suite *suite_activation(void);
Suite *suite_pool(void);
Suite *suite_shape(void);
Suite *suite_data(void);
Suite *suite_sweep(void);
Suite *suite_experiments(void);
Suite *suite_gemm_tune(void);
Suite *suite_badinput(void);
Suite *suite_faults(void);

#endif
