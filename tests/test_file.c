/* test_file.c — temp names, durable commit and atomic writes of io/file. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/csv_file.h"
#include "testutil.h"

/* Number of entries in `dir` other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void assert_content(const char *path, const char *text)
{
    char *data;
    size_t size;
    TEST_OK(sakd_file_read(path, &data, &size));
    ck_assert_str_eq(data, text);
    free(data);
}

START_TEST(test_temp_name_unique)
{
    char dir[PATH_MAX], final[PATH_MAX + 16], a[PATH_MAX + 32], b[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    snprintf(final, sizeof final, "%s/out.h5", dir);
    TEST_OK(sakd_file_temp_name(final, a, sizeof a));
    TEST_OK(sakd_file_temp_name(final, b, sizeof b));
    ck_assert_str_ne(a, b);
    /* Both beside the target, reserved (existing, private) until used. */
    ck_assert(strncmp(a, final, strlen(final)) == 0 && strncmp(b, final, strlen(final)) == 0);
    struct stat sa, sb;
    ck_assert_int_eq(stat(a, &sa), 0);
    ck_assert_int_eq(stat(b, &sb), 0);
    ck_assert_int_eq(sa.st_mode & 0777, 0600);
    ck_assert_int_eq(count_entries(dir), 2);
    /* Too small a buffer, and a missing directory, are errors naming the target. */
    char small[8];
    ck_assert_int_eq(sakd_file_temp_name(final, small, sizeof small), SAKD_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), final));
    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/no/such/out.h5", dir);
    ck_assert_int_eq(sakd_file_temp_name(missing, a, sizeof a), SAKD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), missing));
    test_rmtree(dir);
}
END_TEST

START_TEST(test_commit_replaces)
{
    char dir[PATH_MAX], final[PATH_MAX + 16], tmp[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    snprintf(final, sizeof final, "%s/out.txt", dir);
    put(final, "old");
    TEST_OK(sakd_file_temp_name(final, tmp, sizeof tmp));
    put(tmp, "new contents");
    TEST_OK(sakd_file_commit(tmp, final));
    assert_content(final, "new contents");
    ck_assert_int_eq(access(tmp, F_OK), -1);
    struct stat st;
    ck_assert_int_eq(stat(final, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(count_entries(dir), 1);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_commit_failures_keep_old)
{
    char dir[PATH_MAX], final[PATH_MAX + 16], tmp[PATH_MAX + 32], bad[PATH_MAX + 32];
    test_tempdir(dir, sizeof dir);
    snprintf(final, sizeof final, "%s/out.txt", dir);
    put(final, "old");
    /* A temp file that does not exist. */
    snprintf(tmp, sizeof tmp, "%s/out.txt.tmp.gone", dir);
    ck_assert_int_eq(sakd_file_commit(tmp, final), SAKD_ERR_IO);
    const char *d = sakd_error_detail();
    ck_assert_msg(strstr(d, final) && strstr(d, tmp) && strstr(d, "old file is kept"), "%s", d);
    assert_content(final, "old");
    /* A rename that fails (target directory missing): the temp file is removed. */
    TEST_OK(sakd_file_temp_name(final, tmp, sizeof tmp));
    put(tmp, "new");
    snprintf(bad, sizeof bad, "%s/missing/out.txt", dir);
    ck_assert_int_eq(sakd_file_commit(tmp, bad), SAKD_ERR_IO);
    ck_assert_msg(strstr(sakd_error_detail(), "rename"), "%s", sakd_error_detail());
    ck_assert_int_eq(access(tmp, F_OK), -1);
    assert_content(final, "old");
    ck_assert_int_eq(count_entries(dir), 1);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_write_atomic)
{
    char dir[PATH_MAX], final[PATH_MAX + 16];
    test_tempdir(dir, sizeof dir);
    snprintf(final, sizeof final, "%s/a.bin", dir);
    TEST_OK(sakd_file_write_atomic(final, "first", 5));
    assert_content(final, "first");
    TEST_OK(sakd_file_write_atomic(final, "second!", 7));
    assert_content(final, "second!");
    TEST_OK(sakd_file_write_atomic(final, "", 0));
    assert_content(final, "");
    ck_assert_int_eq(count_entries(dir), 1);
    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/no/a.bin", dir);
    ck_assert_int_eq(sakd_file_write_atomic(missing, "x", 1), SAKD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), missing));
    test_rmtree(dir);
}
END_TEST

/* Whole-row CSV appends: rows kept or cut back, fields quoted, a foreign header refused with
 * the file named and left as it was. */
START_TEST(test_csv_append)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    test_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    const char *hdr[2] = {"a", "b"}, *r1[2] = {"1", "x,y"}, *r23[4] = {"2", "p", "3", "q"};
    TEST_OK(sakd_csv_append(path, hdr, 2, r1, 1, -1));
    assert_content(path, "\"a\",\"b\"\n\"1\",\"x,y\"\n");
    TEST_OK(sakd_csv_append(path, hdr, 2, r23, 2, -1));
    assert_content(path, "\"a\",\"b\"\n\"1\",\"x,y\"\n\"2\",\"p\"\n\"3\",\"q\"\n");
    TEST_OK(sakd_csv_append(path, hdr, 2, r23 + 2, 1, 1)); /* keep one row, then "3" */
    assert_content(path, "\"a\",\"b\"\n\"1\",\"x,y\"\n\"3\",\"q\"\n");
    const char *other[2] = {"a", "c"};
    ck_assert_int_eq(sakd_csv_append(path, other, 2, r1, 1, -1), SAKD_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), path));
    assert_content(path, "\"a\",\"b\"\n\"1\",\"x,y\"\n\"3\",\"q\"\n");
    TEST_OK(sakd_csv_append(path, other, 2, r1, 1, 0)); /* keeping nothing: a new header */
    assert_content(path, "\"a\",\"c\"\n\"1\",\"x,y\"\n");
    test_rmtree(dir);
}
END_TEST

Suite *suite_file(void)
{
    Suite *s = suite_create("file");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_temp_name_unique);
    tcase_add_test(tc, test_commit_replaces);
    tcase_add_test(tc, test_commit_failures_keep_old);
    tcase_add_test(tc, test_write_atomic);
    tcase_add_test(tc, test_csv_append);
    suite_add_tcase(s, tc);
    return s;
}
