/* test_status.c — status strings, OpenCL and CLBlast error names, and the error detail. */
#include <string.h>

#include "testutil.h"

START_TEST(test_strerror_distinct)
{
    const sakd_status all[] = {SAKD_OK,
                               SAKD_ERR_OPENCL,
                               SAKD_ERR_NO_PLATFORM,
                               SAKD_ERR_NO_DEVICE,
                               SAKD_ERR_BUILD,
                               SAKD_ERR_IO,
                               SAKD_ERR_NOMEM,
                               SAKD_ERR_ARG,
                               SAKD_ERR_CLBLAST,
                               SAKD_ERR_FORMAT,
                               SAKD_ERR_NOT_FOUND,
                               SAKD_ERR_CHECK,
                               SAKD_ERR_INTERRUPTED};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *a = sakd_strerror(all[i]);
        ck_assert_ptr_nonnull(a);
        ck_assert_str_ne(a, "unknown error");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(a, sakd_strerror(all[j]));
    }
    ck_assert_str_eq(sakd_strerror((sakd_status)-999), "unknown error");
}
END_TEST

START_TEST(test_cl_error_names)
{
    ck_assert_str_eq(sakd_cl_strerror(0), "CL_SUCCESS");
    ck_assert_str_eq(sakd_cl_strerror(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(sakd_cl_strerror(-30), "CL_INVALID_VALUE");
    ck_assert_str_eq(sakd_cl_strerror(-46), "CL_INVALID_KERNEL_NAME");
    ck_assert_str_eq(sakd_cl_strerror(-68), "CL_INVALID_DEVICE_PARTITION_COUNT");
    ck_assert_str_eq(sakd_cl_strerror(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(sakd_cl_strerror(-12345), "CL_UNKNOWN_ERROR");
    /* Every code of OpenCL 1.2 has a name. */
    for (int code = 0; code >= -19; code--)
        ck_assert_str_ne(sakd_cl_strerror(code), "CL_UNKNOWN_ERROR");
    for (int code = -30; code >= -68; code--)
        ck_assert_str_ne(sakd_cl_strerror(code), "CL_UNKNOWN_ERROR");
}
END_TEST

START_TEST(test_clblast_names)
{
    ck_assert_str_eq(sakd_clblast_strerror(0), "CLBlastSuccess");
    ck_assert_str_eq(sakd_clblast_strerror(-1016), "CLBlastInvalidLeadDimA");
    ck_assert_str_eq(sakd_clblast_strerror(-2049), "CLBlastInvalidBatchCount");
    ck_assert_str_eq(sakd_clblast_strerror(-7777), "CLBlastUnknownStatus");
}
END_TEST

START_TEST(test_error_detail)
{
    sakd_error_clear();
    ck_assert_str_eq(sakd_error_detail(), "");
    ck_assert_int_eq(sakd_error(SAKD_ERR_IO, "cannot open %s", "x.h5"), SAKD_ERR_IO);
    ck_assert_str_eq(sakd_error_detail(), "cannot open x.h5");
    /* Adding context to the current detail must not corrupt it. */
    sakd_error(SAKD_ERR_IO, "%s (while loading %s)", sakd_error_detail(), "teacher");
    ck_assert_str_eq(sakd_error_detail(), "cannot open x.h5 (while loading teacher)");
}
END_TEST

static sakd_status fails_cl(void)
{
    SAKD_CL_CHECK(CL_INVALID_VALUE);
    return SAKD_OK;
}

START_TEST(test_cl_check_macro)
{
    ck_assert_int_eq(fails_cl(), SAKD_ERR_OPENCL);
    const char *d = sakd_error_detail();
    ck_assert_msg(strstr(d, "CL_INVALID_VALUE") && strstr(d, "test_status.c:"), "detail: %s", d);
}
END_TEST

START_TEST(test_hash64)
{
    /* FNV-1a 64 known answers. */
    ck_assert_uint_eq(sakd_hash64("", 0, SAKD_HASH64_SEED), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(sakd_hash64("a", 1, SAKD_HASH64_SEED), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(sakd_hash64("foobar", 6, SAKD_HASH64_SEED), 0x85944171f73967e8ULL);
}
END_TEST

Suite *suite_status(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror_distinct);
    tcase_add_test(tc, test_cl_error_names);
    tcase_add_test(tc, test_clblast_names);
    tcase_add_test(tc, test_error_detail);
    tcase_add_test(tc, test_cl_check_macro);
    tcase_add_test(tc, test_hash64);
    suite_add_tcase(s, tc);
    return s;
}
