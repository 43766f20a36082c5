/* test_device_select.c — device strings resolved against synthetic device lists (no OpenCL
 * runtime needed): indices, substrings, types, defaults and garbage. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static sakd_device_info make(unsigned p, unsigned d, const char *platform, const char *name,
                             cl_device_type type)
{
    sakd_device_info i;
    memset(&i, 0, sizeof i);
    i.platform_index = p;
    i.device_index = d;
    snprintf(i.platform_name, sizeof i.platform_name, "%s", platform);
    snprintf(i.name, sizeof i.name, "%s", name);
    i.type = type;
    return i;
}

/* 0:0 PoCL CPU, 1:0 and 1:1 NVIDIA GPUs, 2:0 an FPGA accelerator. */
static sakd_device_info list[4];
static const size_t count = 4;

static void setup(void)
{
    list[0] =
        make(0, 0, "Portable Computing Language", "pthread-skylake-avx512", CL_DEVICE_TYPE_CPU);
    list[1] = make(1, 0, "NVIDIA CUDA", "NVIDIA H200", CL_DEVICE_TYPE_GPU);
    list[2] = make(1, 1, "NVIDIA CUDA", "NVIDIA A100-SXM4-40GB", CL_DEVICE_TYPE_GPU);
    list[3] = make(2, 0, "Intel(R) FPGA SDK for OpenCL(TM)", "Agilex Emulation",
                   CL_DEVICE_TYPE_ACCELERATOR);
}

static size_t pick(const char *spec)
{
    size_t index = 999;
    sakd_status st = sakd_device_select(list, count, spec, &index);
    ck_assert_msg(st == SAKD_OK, "'%s' -> %s", spec ? spec : "(null)", sakd_error_detail());
    return index;
}

static void rejects(const char *spec)
{
    size_t index = 999;
    ck_assert_int_eq(sakd_device_select(list, count, spec, &index), SAKD_ERR_NO_DEVICE);
    ck_assert_uint_eq(index, 999);
    const char *d = sakd_error_detail();
    /* The message names the string and lists every device. */
    ck_assert_msg(strstr(d, spec) != NULL, "detail does not name '%s': %s", spec, d);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(strstr(d, list[i].name) != NULL, "detail lacks %s: %s", list[i].name, d);
    ck_assert_msg(strstr(d, "1:1") != NULL, "detail lacks indices: %s", d);
}

START_TEST(test_default_is_first_gpu)
{
    ck_assert_uint_eq(pick(NULL), 1);
    ck_assert_uint_eq(pick(""), 1);
    ck_assert_uint_eq(pick("   "), 1);
    /* Without a GPU, the first device. */
    size_t index;
    ck_assert_int_eq(sakd_device_select(list + 3, 1, "", &index), SAKD_OK);
    ck_assert_uint_eq(index, 0);
    sakd_device_info cpu_then_fpga[2] = {list[0], list[3]};
    ck_assert_int_eq(sakd_device_select(cpu_then_fpga, 2, NULL, &index), SAKD_OK);
    ck_assert_uint_eq(index, 0);
}
END_TEST

START_TEST(test_indices)
{
    ck_assert_uint_eq(pick("0:0"), 0);
    ck_assert_uint_eq(pick("1:0"), 1);
    ck_assert_uint_eq(pick("1:1"), 2);
    ck_assert_uint_eq(pick("2:0"), 3);
    ck_assert_uint_eq(pick(" 1:1\n"), 2);
    ck_assert_uint_eq(pick("01:01"), 2);
    rejects("3:0");
    rejects("0:1");
    rejects("9999999999999999999999:0");
}
END_TEST

START_TEST(test_types)
{
    ck_assert_uint_eq(pick("gpu"), 1);
    ck_assert_uint_eq(pick("GPU"), 1);
    ck_assert_uint_eq(pick("cpu"), 0);
    ck_assert_uint_eq(pick("Accelerator"), 3);
    size_t index = 999;
    ck_assert_int_eq(sakd_device_select(list, 1, "gpu", &index), SAKD_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "gpu"));
}
END_TEST

START_TEST(test_substrings)
{
    ck_assert_uint_eq(pick("h200"), 1);
    ck_assert_uint_eq(pick("A100"), 2);
    ck_assert_uint_eq(pick("a100-sxm4"), 2);
    ck_assert_uint_eq(pick("nvidia"), 1);   /* first match */
    ck_assert_uint_eq(pick("portable"), 0); /* platform name */
    ck_assert_uint_eq(pick("fpga sdk"), 3); /* platform name with a space */
    ck_assert_uint_eq(pick("skylake"), 0);
}
END_TEST

START_TEST(test_garbage)
{
    rejects("nosuchdevice");
    rejects("1:");
    rejects(":1");
    rejects("-1:0");
    rejects("1:0:0");
    rejects("gpu0");
    char long_spec[400];
    memset(long_spec, 'x', sizeof long_spec - 1);
    long_spec[sizeof long_spec - 1] = '\0';
    size_t index;
    ck_assert_int_eq(sakd_device_select(list, count, long_spec, &index), SAKD_ERR_NO_DEVICE);
}
END_TEST

START_TEST(test_empty_list)
{
    size_t index;
    ck_assert_int_eq(sakd_device_select(list, 0, "", &index), SAKD_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), "no OpenCL devices"));
}
END_TEST

START_TEST(test_random_indices)
{
    /* Every valid "P:D" resolves to that device, with random padding of zeros and spaces. */
    test_rng r = test_rng_new(7);
    for (int trial = 0; trial < 200; trial++) {
        size_t i = test_rand_size(&r, 0, count - 1);
        char spec[64];
        snprintf(spec, sizeof spec, "%*s%0*u:%0*u%*s", (int)test_rand_size(&r, 0, 3), "",
                 (int)test_rand_size(&r, 1, 4), list[i].platform_index,
                 (int)test_rand_size(&r, 1, 4), list[i].device_index, (int)test_rand_size(&r, 0, 3),
                 "");
        ck_assert_uint_eq(pick(spec), i);
    }
}
END_TEST

Suite *suite_device_select(void)
{
    Suite *s = suite_create("device_select");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_default_is_first_gpu);
    tcase_add_test(tc, test_indices);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_substrings);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_empty_list);
    tcase_add_test(tc, test_random_indices);
    suite_add_tcase(s, tc);
    return s;
}
