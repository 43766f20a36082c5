/* check_main.c — runs the Check suites of one test program and fails through its exit code.
 * check_host holds the suites that need no OpenCL device; check_device the others, and it
 * skips (exit 77) only where no OpenCL platform exists at all. */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

typedef Suite *(*suite_fn)(void);

#if defined(SAKD_TESTS_HOST)
static const suite_fn suites[] = {suite_status, suite_device_select, suite_rng_host, suite_data,
                                  suite_file,   suite_checkpoint,    suite_config,   suite_stats};
#else
static const suite_fn suites[] = {
    suite_tensor, suite_gemm, suite_elementwise, suite_rng_device, suite_program_cache, suite_cli,
    suite_lif, suite_activation, suite_pool, suite_shape, suite_conv, suite_conv_spike,
    suite_linear, suite_bn, suite_loss, suite_optim, suite_chain, suite_null_args, suite_model,
    suite_graph, suite_train, suite_loading, suite_sweep, suite_experiments, suite_badinput,
    suite_faults,
    /* last: its search leaves CLBlast's GEMM parameters changed for the rest of the process */
    suite_gemm_tune};
#endif

int main(void)
{
    printf("test seed %llu (SAKD_TEST_SEED=%llu replays this run)\n",
           (unsigned long long)test_seed(), (unsigned long long)test_seed());
#if !defined(SAKD_TESTS_HOST)
    sakd_device_info *list;
    size_t count;
    sakd_status st = sakd_device_list(&list, &count);
    if (st == SAKD_ERR_NO_PLATFORM) {
        printf("SKIP: %s\nThe device tests need an OpenCL platform; on Debian install the CPU "
               "one with 'apt-get install pocl-opencl-icd'.\n",
               sakd_error_detail());
        return 77;
    }
    if (st == SAKD_OK)
        sakd_device_list_free(list);
    /* Compiled kernels go to a private cache, not the user's. */
    const char *tmp = getenv("TMPDIR");
    char cache[512];
    snprintf(cache, sizeof cache, "%s/sakd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(cache)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    setenv("SAKD_CACHE_DIR", cache, 1);
#endif
    SRunner *runner = srunner_create(NULL);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        srunner_add_suite(runner, suites[i]());
    /* One process: the OpenCL runtime is not safe to use across fork(). */
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
#if !defined(SAKD_TESTS_HOST)
    test_rmtree(cache);
#endif
    if (failed)
        printf("failures above used test seed %llu\n", (unsigned long long)test_seed());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
