/* test_program_cache.c — kernel sources and programs: the on-disk binary cache (hit, miss on
 * changed source or options, corrupt files rebuilt), cache-directory errors, build failures
 * with their log, SAKD_CL_DIR, #include expansion and offline binaries (SAKD_CL_BINARY_DIR). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* Environment variables the tests change, restored after each test. */
static const char *saved_names[] = {"SAKD_CACHE_DIR",     "SAKD_NO_CACHE",  "SAKD_CL_DIR",
                                    "SAKD_CL_BINARY_DIR", "XDG_CACHE_HOME", "HOME"};
#define N_SAVED (sizeof saved_names / sizeof saved_names[0])
static char *saved_values[N_SAVED];
static char dir[PATH_MAX];

static void setup(void)
{
    for (size_t i = 0; i < N_SAVED; i++) {
        const char *v = getenv(saved_names[i]);
        saved_values[i] = v ? strdup(v) : NULL;
    }
    test_tempdir(dir, sizeof dir);
    unsetenv("SAKD_NO_CACHE");
    unsetenv("SAKD_CL_DIR");
    unsetenv("SAKD_CL_BINARY_DIR");
}

static void teardown(void)
{
    for (size_t i = 0; i < N_SAVED; i++) {
        if (saved_values[i])
            setenv(saved_names[i], saved_values[i], 1);
        else
            unsetenv(saved_names[i]);
        free(saved_values[i]);
    }
    test_rmtree(dir);
}

/* A kernel that writes `value` into x[0]; `tag` makes the source unique to this run. */
static void kernel_source(char *buf, size_t size, unsigned long long tag, int value)
{
    snprintf(buf, size,
             "/* run %llu */\n__kernel void put(__global float *x) { x[0] = %d.0f + VALUE; }\n",
             tag, value);
}

/* Runs kernel put of `program` and returns x[0]. */
static float run_put(cl_program program)
{
    sakd_ctx *ctx = test_ctx();
    cl_int err;
    cl_kernel k = clCreateKernel(program, "put", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    size_t one = 1;
    sakd_tensor t;
    TEST_OK(sakd_tensor_new(&t, ctx, "put", 1, &one));
    TEST_OK(sakd_tensor_fill(&t, -1.0f));
    TEST_OK(sakd_launch_1d(ctx, k, 1, 1, (sakd_arg[]){SAKD_ARG(t.buf)}));
    float v;
    TEST_OK(sakd_tensor_download(&t, &v));
    sakd_tensor_free(&t);
    clReleaseKernel(k);
    return v;
}

static sakd_program_origin build(const char *src, const char *options, float expect)
{
    cl_program p;
    sakd_program_origin origin;
    TEST_OK(sakd_program_build(test_ctx(), "put.cl", src, strlen(src), options, &p, &origin));
    ck_assert_float_eq(run_put(p), expect);
    clReleaseProgram(p);
    return origin;
}

static int count_files(const char *path, const char *suffix)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += l > s && strcmp(e->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return n;
}

START_TEST(test_hit_and_miss)
{
    setenv("SAKD_CACHE_DIR", dir, 1);
    char src[256], other[256];
    unsigned long long tag = test_seed();
    kernel_source(src, sizeof src, tag, 3);
    kernel_source(other, sizeof other, tag, 4);
    ck_assert_int_eq(build(src, "-DVALUE=1", 4.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(count_files(dir, ".bin"), 1);
    ck_assert_int_eq(build(src, "-DVALUE=1", 4.0f), SAKD_PROGRAM_FROM_CACHE);
    /* A changed option or source is a miss, and is cached in its own file. */
    ck_assert_int_eq(build(src, "-DVALUE=2", 5.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(build(other, "-DVALUE=1", 5.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(count_files(dir, ".bin"), 3);
    ck_assert_int_eq(build(src, "-DVALUE=2", 5.0f), SAKD_PROGRAM_FROM_CACHE);
    ck_assert_int_eq(build(other, "-DVALUE=1", 5.0f), SAKD_PROGRAM_FROM_CACHE);
    /* No temporary file is left behind. */
    ck_assert_int_eq(count_files(dir, ".bin") + count_files(dir, "XXXXXX"), 3);
}
END_TEST

/* Damages the single cache file in dir: _i selects how. */
static void damage_cache(int how)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX + 300] = "";
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".bin"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(d);
    ck_assert_msg(path[0], "no cache file to damage");
    char *data;
    size_t size;
    TEST_OK(sakd_file_read(path, &data, &size));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    switch (how) {
    case 0: /* truncated to half */ fwrite(data, 1, size / 2, f); break;
    case 1: /* one byte flipped in the middle of the binary */
        data[size / 2] ^= 0x40;
        fwrite(data, 1, size, f);
        break;
    case 2: /* empty */ break;
    default: /* garbage of the same length */
        for (size_t i = 0; i < size; i++)
            fputc((int)(i * 7919 % 251), f);
    }
    fclose(f);
    free(data);
}

START_TEST(test_corrupt_cache_rebuilt)
{
    setenv("SAKD_CACHE_DIR", dir, 1);
    char src[256];
    kernel_source(src, sizeof src, test_seed() + 100 + (unsigned long long)_i, 7);
    ck_assert_int_eq(build(src, "-DVALUE=0", 7.0f), SAKD_PROGRAM_FROM_SOURCE);
    damage_cache(_i);
    /* Not fatal: rebuilt from source, and the cache file repaired. */
    ck_assert_int_eq(build(src, "-DVALUE=0", 7.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(build(src, "-DVALUE=0", 7.0f), SAKD_PROGRAM_FROM_CACHE);
}
END_TEST

START_TEST(test_no_cache)
{
    setenv("SAKD_CACHE_DIR", dir, 1);
    setenv("SAKD_NO_CACHE", "1", 1);
    char src[256];
    kernel_source(src, sizeof src, test_seed() + 200, 1);
    ck_assert_int_eq(build(src, "-DVALUE=0", 1.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(build(src, "-DVALUE=0", 1.0f), SAKD_PROGRAM_FROM_SOURCE);
    ck_assert_int_eq(count_files(dir, ".bin"), 0);
}
END_TEST

START_TEST(test_cache_dir_location)
{
    char buf[PATH_MAX];
    unsetenv("SAKD_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/some/xdg", 1);
    TEST_OK(sakd_program_cache_dir(buf, sizeof buf));
    ck_assert_str_eq(buf, "/some/xdg/sakd");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    TEST_OK(sakd_program_cache_dir(buf, sizeof buf));
    ck_assert_str_eq(buf, "/home/someone/.cache/sakd");
    setenv("SAKD_CACHE_DIR", "/explicit", 1);
    TEST_OK(sakd_program_cache_dir(buf, sizeof buf));
    ck_assert_str_eq(buf, "/explicit");
}
END_TEST

START_TEST(test_cache_dir_unusable)
{
    /* The cache directory path is a regular file: a clear error naming it, no crash. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/not-a-dir", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    setenv("SAKD_CACHE_DIR", path, 1);
    char src[256];
    kernel_source(src, sizeof src, test_seed() + 300, 1);
    cl_program p;
    sakd_status st =
        sakd_program_build(test_ctx(), "put.cl", src, strlen(src), "-DVALUE=0", &p, NULL);
    ck_assert_int_eq(st, SAKD_ERR_IO);
    ck_assert_msg(strstr(sakd_error_detail(), "not-a-dir") &&
                      strstr(sakd_error_detail(), "SAKD_NO_CACHE"),
                  "%s", sakd_error_detail());
}
END_TEST

START_TEST(test_build_failure_log)
{
    setenv("SAKD_CACHE_DIR", dir, 1);
    const char *src = "__kernel void broken(__global float *x) { x[0] = undeclared_thing; }\n";
    cl_program p;
    sakd_status st =
        sakd_program_build(test_ctx(), "broken.cl", src, strlen(src), "-DX=1", &p, NULL);
    ck_assert_int_eq(st, SAKD_ERR_BUILD);
    const char *d = sakd_error_detail();
    ck_assert_msg(strstr(d, "broken.cl") && strstr(d, "undeclared_thing") && strstr(d, "-DX=1"),
                  "%s", d);
    ck_assert_int_eq(count_files(dir, ".bin"), 0);
}
END_TEST

START_TEST(test_embedded_sources)
{
    /* Every family's source expands its includes with #line markers naming the files. */
    char *src;
    size_t size;
    TEST_OK(sakd_cl_source("random", &src, &size));
    ck_assert_uint_eq(strlen(src), size);
    ck_assert_ptr_nonnull(strstr(src, "#line 1 \"random.cl\""));
    ck_assert_ptr_nonnull(strstr(src, "#line 1 \"philox.clh\""));
    ck_assert_ptr_nonnull(strstr(src, "philox4x32_10"));
    ck_assert_ptr_null(strstr(src, "#include \"philox.clh\""));
    free(src);
    ck_assert_int_eq(sakd_cl_source("no_such_family", &src, &size), SAKD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(sakd_error_detail(), "no_such_family.cl") &&
                      strstr(sakd_error_detail(), "elementwise.cl"),
                  "%s", sakd_error_detail());
}
END_TEST

START_TEST(test_cl_dir)
{
    /* SAKD_CL_DIR pointing at the source tree gives the same text as the embedded copy. */
    const char *srcdir = getenv("SAKD_TEST_CL_DIR");
    ck_assert_msg(srcdir != NULL, "SAKD_TEST_CL_DIR is not set (run through make check)");
    char *embedded, *disk;
    size_t n1, n2;
    TEST_OK(sakd_cl_source("random", &embedded, &n1));
    setenv("SAKD_CL_DIR", srcdir, 1);
    TEST_OK(sakd_cl_source("random", &disk, &n2));
    ck_assert_uint_eq(n1, n2);
    ck_assert_str_eq(embedded, disk);
    free(embedded);
    free(disk);
    /* A kernel directory that does not exist, and a missing file in an existing one. */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
    setenv("SAKD_CL_DIR", missing, 1);
    ck_assert_int_eq(sakd_cl_source("random", &disk, &n2), SAKD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(sakd_error_detail(), "no-such-dir") &&
                      strstr(sakd_error_detail(), "SAKD_CL_DIR"),
                  "%s", sakd_error_detail());
    setenv("SAKD_CL_DIR", dir, 1);
    ck_assert_int_eq(sakd_cl_source("random", &disk, &n2), SAKD_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "random.cl"));
    /* A missing include names the including file and line. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/inc.cl", dir);
    FILE *f = fopen(path, "w");
    fputs("// first line\n#include \"gone.clh\"\n", f);
    fclose(f);
    ck_assert_int_eq(sakd_cl_source("inc", &disk, &n2), SAKD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(sakd_error_detail(), "gone.clh") &&
                      strstr(sakd_error_detail(), "inc.cl:2"),
                  "%s", sakd_error_detail());
}
END_TEST

START_TEST(test_offline_binaries)
{
    /* Export the random family for this device, then load it through SAKD_CL_BINARY_DIR
     * in a fresh context: it must come from the file and compute the same numbers. */
    setenv("SAKD_CACHE_DIR", dir, 1);
    sakd_ctx *ctx;
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    char *src, name[300], path[PATH_MAX + 320];
    size_t size;
    cl_program p;
    TEST_OK(sakd_cl_source("random", &src, &size));
    TEST_OK(sakd_program_build(ctx, "random.cl", src, size, NULL, &p, NULL));
    free(src);
    sakd_program_binary_name("random", NULL, name, sizeof name);
    ck_assert_str_eq(name, "random.bin");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    TEST_OK(sakd_program_write_binary(ctx, p, path));
    clReleaseProgram(p);
    sakd_ctx_free(ctx);

    setenv("SAKD_CL_BINARY_DIR", dir, 1);
    TEST_OK(sakd_ctx_new(&ctx, NULL, 0));
    sakd_program_origin origin;
    TEST_OK(sakd_program_get(ctx, "random", NULL, &p, &origin));
    ck_assert_int_eq(origin, SAKD_PROGRAM_FROM_OFFLINE);
    size_t n = 77;
    sakd_tensor t;
    float out[77];
    TEST_OK(sakd_tensor_new(&t, ctx, "u", 1, &n));
    TEST_OK(sakd_rng_uniform_fill(&t, 42, 5, 0.0f, 1.0f));
    TEST_OK(sakd_tensor_download(&t, out));
    for (size_t i = 0; i < n; i++)
        ck_assert(out[i] == sakd_rng_uniform(42, 5 + i));
    sakd_tensor_free(&t);
    /* A family (or option set) without a binary: the message names the missing file. */
    cl_kernel k;
    ck_assert_int_eq(sakd_kernel_get(ctx, "elementwise", NULL, "axpby", &k), SAKD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(sakd_error_detail(), "elementwise.bin") &&
                      strstr(sakd_error_detail(), dir),
                  "%s", sakd_error_detail());
    sakd_program_binary_name("random", "-DX=1", name, sizeof name);
    ck_assert_int_eq(sakd_program_get(ctx, "random", "-DX=1", &p, NULL), SAKD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(sakd_error_detail(), name), "%s", sakd_error_detail());
    /* A corrupt binary is rejected with the file named, not crashed on. */
    snprintf(path, sizeof path, "%s/elementwise.bin", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a device binary", f);
    fclose(f);
    ck_assert_int_ne(sakd_kernel_get(ctx, "elementwise", NULL, "axpby", &k), SAKD_OK);
    ck_assert_msg(strstr(sakd_error_detail(), "elementwise.bin"), "%s", sakd_error_detail());
    sakd_ctx_free(ctx);
}
END_TEST

START_TEST(test_program_memoized)
{
    /* Within a context a family is built once; kernels are created once. */
    sakd_ctx *ctx = test_ctx();
    cl_program p1, p2;
    cl_kernel k1, k2;
    TEST_OK(sakd_program_get(ctx, "elementwise", "-DSAKD_TEST_VARIANT=1", &p1, NULL));
    TEST_OK(sakd_program_get(ctx, "elementwise", "-DSAKD_TEST_VARIANT=1", &p2, NULL));
    ck_assert_ptr_eq(p1, p2);
    TEST_OK(sakd_program_get(ctx, "elementwise", "-DSAKD_TEST_VARIANT=2", &p2, NULL));
    ck_assert_ptr_ne(p1, p2);
    TEST_OK(sakd_kernel_get(ctx, "elementwise", NULL, "scale", &k1));
    TEST_OK(sakd_kernel_get(ctx, "elementwise", NULL, "scale", &k2));
    ck_assert_ptr_eq(k1, k2);
    ck_assert_int_eq(sakd_kernel_get(ctx, "elementwise", NULL, "no_such_kernel", &k2),
                     SAKD_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "no_such_kernel"));
}
END_TEST

/* A launch in whole groups (a reduction's) runs groups·wg work-items and, like every other
 * launch, becomes the last work that a later device failure is blamed on. */
START_TEST(test_launch_groups)
{
    sakd_ctx *ctx = test_ctx();
    cl_kernel kaxpby, kscale;
    TEST_OK(sakd_kernel_get(ctx, "elementwise", NULL, "axpby", &kaxpby));
    TEST_OK(sakd_kernel_get(ctx, "elementwise", NULL, "scale", &kscale));
    size_t n = 10;
    sakd_tensor y;
    TEST_OK(sakd_tensor_new(&y, ctx, "y", 1, &n));
    TEST_OK(sakd_tensor_fill(&y, 1.0f));
    cl_ulong off = 0, cn = n;
    float a = 1.0f, b = 0.0f, two = 2.0f;
    TEST_OK(sakd_launch_1d(ctx, kaxpby, n, 7,
                           (sakd_arg[]){SAKD_ARG(y.buf), SAKD_ARG(off), SAKD_ARG(y.buf),
                                        SAKD_ARG(off), SAKD_ARG(cn), SAKD_ARG(a), SAKD_ARG(b)}));
    char last[160];
    ck_assert_str_eq(sakd_ctx_last_work(ctx, last, sizeof last), "kernel axpby");
    /* 3 groups of 4 cover the 10 elements (the kernel bound-checks the last 2) */
    TEST_OK(sakd_launch_groups(
        ctx, kscale, 3, 4, 4,
        (sakd_arg[]){SAKD_ARG(y.buf), SAKD_ARG(off), SAKD_ARG(cn), SAKD_ARG(two)}));
    ck_assert_str_eq(sakd_ctx_last_work(ctx, last, sizeof last), "kernel scale");
    float out[10];
    TEST_OK(sakd_tensor_download(&y, out));
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(out[i], 2.0f);
    sakd_tensor_free(&y);
}
END_TEST

Suite *suite_program_cache(void)
{
    Suite *s = suite_create("program_cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hit_and_miss);
    tcase_add_loop_test(tc, test_corrupt_cache_rebuilt, 0, 4);
    tcase_add_test(tc, test_no_cache);
    tcase_add_test(tc, test_cache_dir_location);
    tcase_add_test(tc, test_cache_dir_unusable);
    tcase_add_test(tc, test_build_failure_log);
    tcase_add_test(tc, test_embedded_sources);
    tcase_add_test(tc, test_cl_dir);
    tcase_add_test(tc, test_offline_binaries);
    tcase_add_test(tc, test_program_memoized);
    tcase_add_test(tc, test_launch_groups);
    suite_add_tcase(s, tc);
    return s;
}
