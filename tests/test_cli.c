/* test_cli.c — the sakd command: exit codes and messages for good and bad input (device
 * strings, kernel directories, offline binaries, cache directories, unknown commands). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char out[1 << 16];

#define RUN(env, ...) test_run_sakd(env, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)

#define EXPECT_IN_OUTPUT(text)                                                                     \
    ck_assert_msg(strstr(out, text) != NULL, "output lacks '%s':\n%s", text, out)

START_TEST(test_version_and_help)
{
    ck_assert_int_eq(RUN(NULL, "--version"), 0);
    EXPECT_IN_OUTPUT("sakd ");
    EXPECT_IN_OUTPUT(sakd_version());
    ck_assert_int_eq(RUN(NULL, "--help"), 0);
    EXPECT_IN_OUTPUT("devices");
    EXPECT_IN_OUTPUT("selftest");
    EXPECT_IN_OUTPUT("SAKD_CL_BINARY_DIR");
    const char *commands[] = {"devices", "selftest", "kernels", "bench", "help"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(RUN(NULL, "help", commands[i]), 0);
        EXPECT_IN_OUTPUT("usage: sakd");
        EXPECT_IN_OUTPUT(commands[i]);
        ck_assert_int_eq(RUN(NULL, commands[i], "--help"), 0);
        EXPECT_IN_OUTPUT(commands[i]);
    }
}
END_TEST

START_TEST(test_usage_errors)
{
    ck_assert_int_eq(RUN(NULL, "frobnicate"), 2);
    EXPECT_IN_OUTPUT("frobnicate");
    ck_assert_int_eq(RUN(NULL, "--no-such-option"), 2);
    ck_assert_int_eq(RUN(NULL, "devices", "extra"), 2);
    EXPECT_IN_OUTPUT("extra");
    ck_assert_int_eq(RUN(NULL, "help", "frobnicate"), 2);
    const char *none[] = {NULL};
    ck_assert_int_eq(test_run_sakd(NULL, none, out, sizeof out), 2);
    EXPECT_IN_OUTPUT("usage");
    /* Every integer option goes through one parser: trailing characters, empty values and
     * values out of range are refused with one message naming the command, the option, the
     * range and the value, before any work starts. */
    const struct {
        const char *argv[4];
        const char *says;
    } bad[] = {
        {{"bench", "gemm", "--reps", "0"},
         "bench gemm: --reps wants a whole number from 1 to 1000, not '0'"},
        {{"bench", "train", "--warmup", "3x"},
         "bench train: --warmup wants a whole number from 0 to 100, not '3x'"},
        {{"bench", "ops", "--batch", ""},
         "bench ops: --batch wants a whole number from 1 to 100000, not ''"},
        {{"sweep", "x.ini", "-j", "2000"},
         "sweep: --jobs wants a whole number from 1 to 1024, not '2000'"},
        {{"tune", "--seed", "-1", NULL}, "tune: --seed wants a whole number from 0 to"},
        {{"tune", "--time-limit", "soon", NULL}, "tune: --time-limit wants a number from 0 to"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[5] = {bad[i].argv[0], bad[i].argv[1], bad[i].argv[2], bad[i].argv[3],
                               NULL};
        ck_assert_int_eq(test_run_sakd(NULL, argv, out, sizeof out), 2);
        EXPECT_IN_OUTPUT(bad[i].says);
    }
}
END_TEST

START_TEST(test_devices)
{
    ck_assert_int_eq(RUN(NULL, "devices"), 0);
    sakd_ctx *ctx = test_ctx();
    EXPECT_IN_OUTPUT(ctx->info.name);
    EXPECT_IN_OUTPUT(ctx->info.driver);
    EXPECT_IN_OUTPUT("compute units");
    EXPECT_IN_OUTPUT("fp64");
    EXPECT_IN_OUTPUT("* ");
    /* Selection by indices, type and name marks the same device. */
    char idx[32];
    snprintf(idx, sizeof idx, "%u:%u", ctx->info.platform_index, ctx->info.device_index);
    ck_assert_int_eq(RUN(NULL, "--device", idx, "devices"), 0);
    EXPECT_IN_OUTPUT("(* = selected: ");
    ck_assert_int_eq(RUN(NULL, "devices", "--device", idx), 0);
    const char *env[] = {"SAKD_DEVICE=0:0", NULL};
    ck_assert_int_eq(RUN(env, "devices"), 0);
    EXPECT_IN_OUTPUT("(* = selected: 0:0");
}
END_TEST

START_TEST(test_bad_device)
{
    /* Unknown device strings: exit 2; the message names the string and lists the devices. */
    const char *bad[] = {"nosuchdevice", "99:0", "accelerator-x", "0:"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(RUN(NULL, "--device", bad[i], "selftest"), 2);
        EXPECT_IN_OUTPUT(bad[i]);
        EXPECT_IN_OUTPUT("Available devices");
        EXPECT_IN_OUTPUT(test_ctx()->info.name);
        EXPECT_IN_OUTPUT("0:0");
    }
    const char *env[] = {"SAKD_DEVICE=nosuchdevice", NULL};
    ck_assert_int_eq(RUN(env, "devices"), 2);
    EXPECT_IN_OUTPUT("nosuchdevice");
}
END_TEST

START_TEST(test_selftest_passes)
{
    ck_assert_int_eq(RUN(NULL, "selftest"), 0);
    EXPECT_IN_OUTPUT("selftest passed");
    EXPECT_IN_OUTPUT("gemm_batched");
    EXPECT_IN_OUTPUT("axpby");
    ck_assert_ptr_null(strstr(out, "FAIL"));
}
END_TEST

START_TEST(test_kernel_dir_errors)
{
    char dir[PATH_MAX], env1[PATH_MAX + 32], path[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    /* A kernel directory that does not exist. */
    snprintf(env1, sizeof env1, "SAKD_CL_DIR=%s/missing", dir);
    const char *env[] = {env1, NULL};
    ck_assert_int_eq(RUN(env, "selftest"), 1);
    EXPECT_IN_OUTPUT("missing");
    EXPECT_IN_OUTPUT("SAKD_CL_DIR");
    /* A kernel that fails to build: its file name and the compiler's log. */
    snprintf(env1, sizeof env1, "SAKD_CL_DIR=%s", dir);
    snprintf(path, sizeof path, "%s/elementwise.cl", dir);
    FILE *f = fopen(path, "w");
    fputs("__kernel void axpby(__global float *y) { y[0] = not_declared_anywhere; }\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/random.cl", dir);
    f = fopen(path, "w");
    fputs("__kernel void uniform_fill(__global float *y) { y[0] = 0; }\n", f);
    fclose(f);
    ck_assert_int_eq(RUN(env, "selftest"), 1);
    EXPECT_IN_OUTPUT("elementwise.cl");
    EXPECT_IN_OUTPUT("not_declared_anywhere");
    ck_assert_ptr_nonnull(strstr(out, "FAIL"));
    test_rmtree(dir);
}
END_TEST

START_TEST(test_offline_binary_missing)
{
    char dir[PATH_MAX], env1[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    snprintf(env1, sizeof env1, "SAKD_CL_BINARY_DIR=%s", dir);
    const char *env[] = {env1, NULL};
    ck_assert_int_eq(RUN(env, "selftest"), 1);
    EXPECT_IN_OUTPUT("elementwise.bin");
    EXPECT_IN_OUTPUT(dir);
    /* After exporting, the same command runs from the binaries alone. */
    ck_assert_int_eq(RUN(NULL, "kernels", "--export", dir), 0);
    EXPECT_IN_OUTPUT("random.bin");
    ck_assert_int_eq(RUN(env, "selftest"), 0);
    EXPECT_IN_OUTPUT("selftest passed");
    /* Every variant the ops use was exported: a context reading only binaries finds each. */
    setenv("SAKD_CL_BINARY_DIR", dir, 1);
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    sakd_program_variant v[256];
    size_t n = sakd_ops_program_variants(ctx, v, 256);
    ck_assert_uint_gt(n, 12);
    for (size_t i = 0; i < n; i++) {
        cl_program p;
        sakd_program_origin origin;
        TEST_OK(sakd_program_get(ctx, v[i].family, v[i].options, &p, &origin));
        ck_assert_int_eq(origin, SAKD_PROGRAM_FROM_OFFLINE);
    }
    sakd_ctx_free(ctx);
    unsetenv("SAKD_CL_BINARY_DIR");
    test_rmtree(dir);
}
END_TEST

START_TEST(test_cache_dir_unusable)
{
    char dir[PATH_MAX], env1[PATH_MAX + 64], path[PATH_MAX + 16];
    test_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(env1, sizeof env1, "SAKD_CACHE_DIR=%s/sub", path);
    const char *env[] = {env1, NULL};
    ck_assert_int_eq(RUN(env, "selftest"), 1);
    EXPECT_IN_OUTPUT(path);
    EXPECT_IN_OUTPUT("cache");
    const char *env_off[] = {env1, "SAKD_NO_CACHE=1", NULL};
    ck_assert_int_eq(RUN(env_off, "selftest"), 0);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_kernels_listing)
{
    ck_assert_int_eq(RUN(NULL, "kernels"), 0);
    EXPECT_IN_OUTPUT("elementwise.cl");
    EXPECT_IN_OUTPUT("philox.clh");
    ck_assert_int_eq(RUN(NULL, "kernels", "--source", "random"), 0);
    EXPECT_IN_OUTPUT("__kernel void uniform_fill");
    EXPECT_IN_OUTPUT("philox4x32_10");
    ck_assert_int_eq(RUN(NULL, "kernels", "--source", "nonesuch"), 1);
    EXPECT_IN_OUTPUT("nonesuch.cl");
    ck_assert_int_eq(RUN(NULL, "kernels", "--export", "/tmp/sakd-test-unused", "nonesuch"), 2);
    EXPECT_IN_OUTPUT("nonesuch");
}
END_TEST

START_TEST(test_bench_gemm)
{
    ck_assert_int_eq(RUN(NULL, "bench", "gemm", "--sizes", "17,33", "--reps", "2"), 0);
    EXPECT_IN_OUTPUT("GFLOP/s");
    EXPECT_IN_OUTPUT("measured GEMM peak");
    ck_assert_int_eq(RUN(NULL, "bench", "gemm", "--sizes", "17,x"), 2);
    EXPECT_IN_OUTPUT("--sizes");
    ck_assert_int_eq(RUN(NULL, "bench", "gemm", "--reps", "0"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "nosuchbench"), 2);
    EXPECT_IN_OUTPUT("nosuchbench");
}
END_TEST

START_TEST(test_bench_ops)
{
    /* A tiny configuration runs every op family; bad options exit 2. */
    ck_assert_int_eq(RUN(NULL, "bench", "ops", "--width", "0.0625", "--size", "8", "--T", "2",
                         "--batch", "2", "--reps", "1"),
                     0);
    const char *ops[] = {"conv2d",        "batchnorm",      "lif",        "relu",
                         "add",           "global_avgpool", "linear",     "mean_time",
                         "cross_entropy", "logit_kd",       "feature_l2", "feature_kl",
                         "attn",          "sgd_step",       "SGEMM peak", "peak device memory"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        EXPECT_IN_OUTPUT(ops[i]);
    ck_assert_int_eq(RUN(NULL, "bench", "ops", "--width", "abc"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "ops", "--size", "2"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "ops", "--T", "0"), 2);
}
END_TEST

START_TEST(test_bench_spikes)
{
    /* A tiny run of every shape: a row per shape and density in the CSV, a crossover line per
     * shape, and --save writes the crossover file of this device and route into the cache
     * directory given. */
    char dir[PATH_MAX], csv[PATH_MAX + 16], cache[PATH_MAX + 64];
    test_tempdir(dir, sizeof dir);
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    snprintf(cache, sizeof cache, "SAKD_CACHE_DIR=%s/cache", dir);
    const char *env[] = {cache, NULL};
    ck_assert_int_eq(RUN(env, "bench", "spikes", "--width", "0.03", "--T", "1", "--batch", "2",
                         "--densities", "0,0.5,1", "--reps", "1", "--csv", csv, "--save"),
                     0);
    EXPECT_IN_OUTPUT("linear 123 -> 123");
    EXPECT_IN_OUTPUT("crossover (host)");
    EXPECT_IN_OUTPUT("crossover densities saved to");
    FILE *f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    int lines = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        lines += c == '\n';
    fclose(f);
    ck_assert_int_eq(lines, 6 * 3); /* rows only: --csv appends */
    DIR *d;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cache", dir);
    ck_assert_ptr_nonnull(d = opendir(path));
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += !strncmp(e->d_name, "spike-crossover-", 16);
    closedir(d);
    ck_assert_int_eq(files, 1);
    /* Where CLBlast serves, --save keeps the device kernels' crossovers: refused without
     * their timings, before anything is measured. */
    const char *dev_env[] = {cache, "SAKD_GEMM_PROVIDER=clblast", NULL};
    ck_assert_int_eq(RUN(dev_env, "bench", "spikes", "--no-device", "--save"), 2);
    EXPECT_IN_OUTPUT("leave out --no-device");
    ck_assert_ptr_null(strstr(out, "crossover ("));
    ck_assert_int_eq(RUN(NULL, "bench", "spikes", "--only", "dense"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "spikes", "--densities", "0,x"), 2);
}
END_TEST

/* Counts the data rows of a CSV file and checks that each has `cols` fields (a field may hold
 * quoted commas: counted with a small quote-aware scan). */
static int csv_rows(const char *path, int cols)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    int rows = -1, fields = 1, quoted = 0, c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '"')
            quoted = !quoted;
        else if (c == ',' && !quoted)
            fields++;
        else if (c == '\n' && !quoted) {
            ck_assert_int_eq(fields, cols);
            rows++;
            fields = 1;
        }
    }
    fclose(f);
    return rows;
}

START_TEST(test_bench_train_and_lif_layer)
{
    /* A tiny model in all three modes: the table, the breakdown, the ratio and one CSV row per
     * mode; then the LIF-layer benchmark at a tiny size; bad options exit 2. */
    char dir[512], csv[600];
    test_tempdir(dir, sizeof dir);
    snprintf(csv, sizeof csv, "%s/bench.csv", dir);
    ck_assert_int_eq(RUN(NULL, "bench", "train", "model.width=0.0625", "model.T=2", "train.batch=2",
                         "--size", "8", "--reps", "1", "--warmup", "0", "--csv", csv),
                     0);
    const char *want[] = {"ann",          "snn", "sakd",      "im2col/col2im",
                          "lif",          "bn",  "optimizer", "SAKD step / SNN step",
                          "GEMM provider"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        EXPECT_IN_OUTPUT(want[i]);
    ck_assert_int_eq(csv_rows(csv, 8 + 25), 3);
    /* A second run appends under the same header. */
    ck_assert_int_eq(RUN(NULL, "bench", "train", "model.width=0.0625", "model.T=1", "train.batch=2",
                         "--size", "8", "--modes", "snn", "--reps", "1", "--warmup", "0", "--csv",
                         csv, "--kernels", "40"),
                     0);
    ck_assert_int_eq(csv_rows(csv, 8 + 25), 4);
    /* --kernels: the per-kernel list of the profiled step names the SNN's own kernels. */
    EXPECT_IN_OUTPUT("costliest kernels of the profiled snn step");
    EXPECT_IN_OUTPUT("launches");
    EXPECT_IN_OUTPUT("lif_fwd");
    EXPECT_IN_OUTPUT("conv2d_im2col"); /* the OpenCL kernel, or the host provider's columns */
    /* --interleave: every trainer first, then the steps in rounds; a mode named twice runs once;
     * the per-round SAKD/SNN ratios. */
    ck_assert_int_eq(RUN(NULL, "bench", "train", "model.width=0.0625", "model.T=1", "train.batch=2",
                         "--size", "8", "--modes", "sakd,snn,sakd", "--reps", "2", "--warmup", "0",
                         "--csv", csv, "--interleave"),
                     0);
    ck_assert_int_eq(csv_rows(csv, 8 + 25), 6);
    EXPECT_IN_OUTPUT("SAKD step / SNN step of the same round, median of 2 rounds");
    ck_assert_int_eq(RUN(NULL, "bench", "train", "--kernels", "-1"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "train", "--kernels", "65"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "train", "--modes", "spiky"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "train", "--reps", "0"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "train", "model.nosuchkey=1"), 2);
    EXPECT_IN_OUTPUT("nosuchkey");
    /* tune refuses a missing or malformed --start file before any work, naming it, and writes
     * no tuning. */
    char start[600], tuned[600];
    snprintf(start, sizeof start, "%s/no-such-tuning.ini", dir);
    snprintf(tuned, sizeof tuned, "%s/tuned.ini", dir);
    ck_assert_int_eq(RUN(NULL, "tune", "--start", start, "--out", tuned), 2);
    EXPECT_IN_OUTPUT("no-such-tuning.ini");
    snprintf(start, sizeof start, "%s/bad-tuning.ini", dir);
    FILE *bad = fopen(start, "w");
    ck_assert_ptr_nonnull(bad);
    fputs("[Xgemm]\nNOSUCHPARAM = 3\n", bad);
    fclose(bad);
    ck_assert_int_eq(RUN(NULL, "tune", "--start", start, "--out", tuned), 2);
    EXPECT_IN_OUTPUT("bad-tuning.ini");
    ck_assert_int_eq(RUN(NULL, "tune", "--samples", "0"), 2);
    ck_assert_int_eq(access(tuned, F_OK), -1);
    /* A whole (tiny) search runs to its end whatever provider serves the device's GEMMs: the
     * calls it records are CLBlast's (the host provider's per-image GEMMs are no calls
     * CLBlast can replay: it stopped at "CLBlastInvalidDimension" before). */
    ck_assert_int_eq(RUN(NULL, "tune", "--dry-run", "--samples", "1", "--direct-samples", "0",
                         "--refine", "0", "--time-limit", "5", "--modes", "ann", "--size", "8",
                         "model.width=0.0625", "train.batch=2"),
                     0);
    EXPECT_IN_OUTPUT("dry run: nothing stored");
    snprintf(csv, sizeof csv, "%s/lif.csv", dir);
    ck_assert_int_eq(RUN(NULL, "bench", "lif-layer", "--sizes", "16,24", "--T", "5", "--batch", "2",
                         "--reps", "1", "--csv", csv),
                     0);
    EXPECT_IN_OUTPUT("forward_ms");
    ck_assert_int_eq(csv_rows(csv, 8 + 7), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "lif-layer", "--sizes", "8", "--T", "3", "--batch", "2",
                         "--reps", "1", "--warmup", "0"),
                     0);
    EXPECT_IN_OUTPUT("after 0 warm-up");
    ck_assert_int_eq(RUN(NULL, "bench", "lif-layer", "--T", "0"), 2);
    ck_assert_int_eq(RUN(NULL, "bench", "lif-layer", "--warmup", "-1"), 2);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_no_platform)
{
    /* An ICD loader that finds no vendor: a message saying how to install PoCL, exit 1. */
    char dir[PATH_MAX], env1[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    snprintf(env1, sizeof env1, "OCL_ICD_VENDORS=%s", dir);
    const char *env[] = {env1, NULL};
    ck_assert_int_eq(RUN(env, "devices"), 1);
    EXPECT_IN_OUTPUT("no OpenCL platform");
    EXPECT_IN_OUTPUT("pocl-opencl-icd");
    ck_assert_int_eq(RUN(env, "selftest"), 1);
    EXPECT_IN_OUTPUT("pocl-opencl-icd");
    test_rmtree(dir);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_version_and_help);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_devices);
    tcase_add_test(tc, test_bad_device);
    tcase_add_test(tc, test_selftest_passes);
    tcase_add_test(tc, test_kernel_dir_errors);
    tcase_add_test(tc, test_offline_binary_missing);
    tcase_add_test(tc, test_cache_dir_unusable);
    tcase_add_test(tc, test_kernels_listing);
    tcase_add_test(tc, test_no_platform);
    tcase_add_test(tc, test_bench_gemm);
    tcase_add_test(tc, test_bench_ops);
    tcase_add_test(tc, test_bench_spikes);
    tcase_add_test(tc, test_bench_train_and_lif_layer);
    suite_add_tcase(s, tc);
    return s;
}
