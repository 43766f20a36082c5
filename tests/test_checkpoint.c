/* test_checkpoint.c — HDF5 checkpoints (round trips, atomic writes, every rejected input), the
 * h5 helpers used for trace files, and the batch file reader. */
#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "testutil.h"

/* ---- helpers --------------------------------------------------------------------------- */

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

static char *slurp(const char *path, size_t *size)
{
    char *data;
    TEST_OK(sakd_file_read(path, &data, size));
    return data;
}

/* Asserts `st` is `want` and that the error detail contains every non-NULL string given. */
static void expect_error(sakd_status st, sakd_status want, const char *a, const char *b,
                         const char *c)
{
    const char *d = sakd_error_detail();
    ck_assert_msg(st == want, "status %s, expected %s: %s", sakd_strerror(st), sakd_strerror(want),
                  d);
    const char *parts[] = {a, b, c};
    for (int i = 0; i < 3; i++)
        ck_assert_msg(!parts[i] || strstr(d, parts[i]), "'%s' not in the message: %s", parts[i], d);
}

#define N_MODEL 7
#define N_OPTIM 3

typedef struct fixture {
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    sakd_ckpt_tensor model[N_MODEL];
    sakd_ckpt_tensor optim[N_OPTIM];
    sakd_ckpt_meta meta;
} fixture;

static void set_tensor(sakd_ckpt_tensor *t, test_rng *r, const char *name, int ndim,
                       const size_t *shape)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= t->shape[i] = shape[i];
    t->data = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(t->data);
    test_fill_uniform(r, t->data, n, -3.0, 3.0);
    /* Values whose bits a lossy path would change. */
    const float special[] = {-0.0f, FLT_MIN / 4, FLT_MAX, -FLT_MIN, 1.0f / 3.0f};
    for (size_t i = 0; i < n && i < sizeof special / sizeof special[0]; i++)
        t->data[n - 1 - i] = special[i];
}

static void fixture_new(fixture *fx, uint64_t salt)
{
    memset(fx, 0, sizeof *fx);
    test_tempdir(fx->dir, sizeof fx->dir);
    snprintf(fx->path, sizeof fx->path, "%s/weights.h5", fx->dir);
    test_rng r = test_rng_new(salt);
    size_t c = test_rand_size(&r, 1, 9), k = test_rand_size(&r, 1, 5);
    set_tensor(&fx->model[0], &r, "conv1.weight", 4, (size_t[]){c, 3, k, k});
    set_tensor(&fx->model[1], &r, "bn1.weight", 1, (size_t[]){c});
    set_tensor(&fx->model[2], &r, "bn1.running_var", 1, (size_t[]){c});
    set_tensor(&fx->model[3], &r, "layer1.0.conv1.weight", 4, (size_t[]){c, c, 3, 3});
    set_tensor(&fx->model[4], &r, "fc.weight", 2, (size_t[]){10, c});
    set_tensor(&fx->model[5], &r, "distill.proj.2.weight", 5, (size_t[]){2, 1, 3, 1, 2});
    set_tensor(&fx->model[6], &r, "scale", 0, NULL);
    set_tensor(&fx->optim[0], &r, "conv1.weight/momentum", 4, (size_t[]){c, 3, k, k});
    set_tensor(&fx->optim[1], &r, "fc.weight/exp_avg", 2, (size_t[]){10, c});
    set_tensor(&fx->optim[2], &r, "fc.weight/exp_avg_sq", 2, (size_t[]){10, c});
    sakd_ckpt_meta *m = &fx->meta;
    m->config = strdup("[model]\nname = resnet19\nwidth = 0.5\n\n[train]\nseed = 7\n");
    snprintf(m->arch, sizeof m->arch, "snn");
    snprintf(m->model, sizeof m->model, "resnet19");
    m->width = 0.5;
    m->T = 4;
    snprintf(m->dataset, sizeof m->dataset, "fashion-mnist");
    m->classes = 10;
    m->in_channels = 1;
    m->epoch = 3;
    m->step = 1234567890123LL;
    m->seed = -42;
    m->test_acc = 0.9123456789012345;
    snprintf(m->git, sizeof m->git, "v0.1-12-gdeadbee-dirty");
    snprintf(m->device, sizeof m->device, "pthread-Intel(R) Xeon(R) — ü");
    snprintf(m->driver, sizeof m->driver, "PoCL 5.0");
    snprintf(m->optimizer, sizeof m->optimizer, "adamw");
    m->rng_counter = 987654321;
}

static void fixture_free(fixture *fx)
{
    /* Every HDF5 file, group, dataset and attribute the library opened is closed again. */
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    for (int i = 0; i < N_MODEL; i++)
        free(fx->model[i].data);
    for (int i = 0; i < N_OPTIM; i++)
        free(fx->optim[i].data);
    free(fx->meta.config);
    test_rmtree(fx->dir);
}

static size_t numel(const sakd_ckpt_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

static void write_fixture(fixture *fx)
{
    TEST_OK(sakd_checkpoint_write(fx->path, fx->model, N_MODEL, fx->optim, N_OPTIM, &fx->meta));
}

/* Creates a file with raw HDF5 (as another tool would), root attributes optional. */
static hid_t raw_create(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

static void raw_attr_fixed_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, t, value), 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

static void raw_attr_int32(hid_t obj, const char *name, int value)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_INT, &value), 0);
    H5Aclose(a);
    H5Sclose(s);
}

static void raw_dataset(hid_t f, const char *path, hid_t filetype, hid_t memtype, int ndim,
                        const hsize_t *dims, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, path, filetype, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
}

/* A minimal checkpoint as h5py would write it from a state dict: fixed-length format string,
 * int32 version, /model only (one float32 [2, 3] tensor "fc.weight"). */
static void raw_minimal(const char *path, const char *format, int version)
{
    hid_t f = raw_create(path);
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (format)
        raw_attr_fixed_string(root, "format", format);
    if (version >= 0)
        raw_attr_int32(root, "format_version", version);
    H5Gclose(root);
    const float w[6] = {1, 2, 3, 4, 5, 6};
    raw_dataset(f, "/model/fc.weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){2, 3}, w);
    H5Fclose(f);
}

/* ---- round trips ----------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const sakd_ckpt_tensor *)a)->name, ((const sakd_ckpt_tensor *)b)->name);
}

static void check_tensors(sakd_checkpoint *ck, const sakd_ckpt_tensor *want, size_t n, int optim)
{
    ck_assert_uint_eq(optim ? sakd_checkpoint_optim_count(ck) : sakd_checkpoint_model_count(ck), n);
    sakd_ckpt_tensor sorted[N_MODEL];
    memcpy(sorted, want, n * sizeof *want);
    qsort(sorted, n, sizeof *sorted, by_name);
    for (size_t i = 0; i < n; i++) {
        const sakd_ckpt_tensor *info =
            optim ? sakd_checkpoint_optim_info(ck, i) : sakd_checkpoint_model_info(ck, i);
        ck_assert_ptr_nonnull(info);
        ck_assert_str_eq(info->name, sorted[i].name);
        ck_assert_int_eq(info->ndim, sorted[i].ndim);
        ck_assert_ptr_null(info->data);
        for (int d = 0; d < info->ndim; d++)
            ck_assert_uint_eq(info->shape[d], sorted[i].shape[d]);
        ck_assert(optim ? sakd_checkpoint_has_optim(ck, info->name)
                        : sakd_checkpoint_has_model(ck, info->name));
        size_t k = numel(&sorted[i]);
        float *got = malloc(k * sizeof *got);
        test_poison(got, k);
        if (optim)
            TEST_OK(sakd_checkpoint_read_optim(ck, info->name, info->ndim, info->shape, got));
        else
            TEST_OK(sakd_checkpoint_read_model(ck, info->name, info->ndim, info->shape, got));
        ck_assert_msg(memcmp(got, sorted[i].data, k * sizeof *got) == 0, "%s differs", info->name);
        free(got);
    }
    ck_assert_ptr_null(sakd_checkpoint_model_info(ck, sakd_checkpoint_model_count(ck)));
}

START_TEST(test_roundtrip)
{
    fixture fx;
    fixture_new(&fx, 101);
    write_fixture(&fx);
    ck_assert_int_eq(count_entries(fx.dir), 1);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    ck_assert_str_eq(sakd_checkpoint_path(ck), fx.path);
    check_tensors(ck, fx.model, N_MODEL, 0);
    check_tensors(ck, fx.optim, N_OPTIM, 1);
    ck_assert(!sakd_checkpoint_has_model(ck, "conv1"));
    ck_assert(!sakd_checkpoint_has_optim(ck, "fc.weight/momentum"));
    ck_assert(sakd_checkpoint_has_meta(ck));
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_meta_roundtrip)
{
    fixture fx;
    fixture_new(&fx, 102);
    write_fixture(&fx);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    sakd_ckpt_meta m;
    TEST_OK(sakd_checkpoint_read_meta(ck, &m));
    const sakd_ckpt_meta *w = &fx.meta;
    ck_assert_str_eq(m.config, w->config);
    ck_assert_str_eq(m.arch, w->arch);
    ck_assert_str_eq(m.model, w->model);
    ck_assert(m.width == w->width);
    ck_assert_int_eq(m.T, w->T);
    ck_assert_str_eq(m.dataset, w->dataset);
    ck_assert_int_eq(m.classes, w->classes);
    ck_assert_int_eq(m.in_channels, w->in_channels);
    ck_assert_int_eq(m.epoch, w->epoch);
    ck_assert(m.step == w->step && m.seed == w->seed);
    ck_assert(m.test_acc == w->test_acc);
    ck_assert_str_eq(m.git, w->git);
    ck_assert_str_eq(m.device, w->device);
    ck_assert_str_eq(m.driver, w->driver);
    ck_assert_str_eq(m.optimizer, w->optimizer);
    ck_assert(m.rng_counter == w->rng_counter);
    ck_assert_str_eq(m.sakd_version, sakd_version());
    /* created: UTC ISO 8601, YYYY-MM-DDTHH:MM:SSZ */
    ck_assert_uint_eq(strlen(m.created), 20);
    ck_assert(m.created[4] == '-' && m.created[10] == 'T' && m.created[19] == 'Z');
    sakd_ckpt_meta_free(&m);
    ck_assert_ptr_null(m.config);
    sakd_checkpoint_close(ck);
    /* Without meta: no /meta group, fields read as zero. */
    TEST_OK(sakd_checkpoint_write(fx.path, fx.model, 2, NULL, 0, NULL));
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    ck_assert(!sakd_checkpoint_has_meta(ck));
    ck_assert_uint_eq(sakd_checkpoint_optim_count(ck), 0);
    TEST_OK(sakd_checkpoint_read_meta(ck, &m));
    ck_assert_ptr_null(m.config);
    ck_assert(m.epoch == 0 && m.step == 0 && m.arch[0] == '\0');
    ck_assert_str_eq(m.sakd_version, sakd_version());
    sakd_ckpt_meta_free(&m);
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_minimal_foreign_file)
{
    /* Root attributes and /model only, strings fixed-length, version int32: reads fine. */
    fixture fx;
    fixture_new(&fx, 103);
    raw_minimal(fx.path, "sakd-checkpoint", 1);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    ck_assert_uint_eq(sakd_checkpoint_model_count(ck), 1);
    ck_assert_uint_eq(sakd_checkpoint_optim_count(ck), 0);
    ck_assert(!sakd_checkpoint_has_meta(ck));
    float w[6];
    TEST_OK(sakd_checkpoint_read_model(ck, "fc.weight", 2, (size_t[]){2, 3}, w));
    ck_assert(w[0] == 1 && w[5] == 6);
    expect_error(sakd_checkpoint_read_optim(ck, "fc.weight/momentum", 2, (size_t[]){2, 3}, w),
                 SAKD_ERR_NOT_FOUND, fx.path, "fc.weight/momentum", NULL);
    sakd_ckpt_meta m;
    TEST_OK(sakd_checkpoint_read_meta(ck, &m));
    ck_assert_ptr_null(m.config);
    ck_assert(m.T == 0 && m.width == 0 && m.sakd_version[0] == '\0');
    sakd_ckpt_meta_free(&m);
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

/* ---- atomic writes --------------------------------------------------------------------- */

START_TEST(test_failed_write_keeps_old)
{
    fixture fx;
    fixture_new(&fx, 104);
    write_fixture(&fx);
    size_t size0;
    char *before = slurp(fx.path, &size0);

    /* The last model tensor has no data: fails after the others were written. */
    float *saved = fx.model[N_MODEL - 2].data;
    fx.model[N_MODEL - 2].data = NULL;
    expect_error(sakd_checkpoint_write(fx.path, fx.model, N_MODEL, fx.optim, N_OPTIM, &fx.meta),
                 SAKD_ERR_ARG, fx.path, fx.model[N_MODEL - 2].name, "old file is kept");
    fx.model[N_MODEL - 2].data = saved;

    /* NaN in an optimizer state, written after all model tensors. */
    fx.optim[2].data[1] = NAN;
    expect_error(sakd_checkpoint_write(fx.path, fx.model, N_MODEL, fx.optim, N_OPTIM, &fx.meta),
                 SAKD_ERR_ARG, "fc.weight/exp_avg_sq", "element 1 is NaN", fx.path);
    fx.optim[2].data[1] = 0.5f;

    /* A duplicate name fails inside HDF5. */
    sakd_ckpt_tensor dup[3] = {fx.model[0], fx.model[1], fx.model[0]};
    expect_error(sakd_checkpoint_write(fx.path, dup, 3, NULL, 0, NULL), SAKD_ERR_ARG,
                 "conv1.weight", "already exists", fx.path);

    /* Bad names and ranks. */
    sakd_ckpt_tensor bad = fx.model[1];
    snprintf(bad.name, sizeof bad.name, "a/b");
    expect_error(sakd_checkpoint_write(fx.path, &bad, 1, NULL, 0, NULL), SAKD_ERR_ARG, "a/b", NULL,
                 NULL);
    sakd_ckpt_tensor bad_optim = fx.optim[0];
    snprintf(bad_optim.name, sizeof bad_optim.name, "conv1.weight");
    expect_error(sakd_checkpoint_write(fx.path, fx.model, 1, &bad_optim, 1, NULL), SAKD_ERR_ARG,
                 "<param>/<state>", NULL, NULL);
    bad = fx.model[1];
    bad.ndim = 6;
    expect_error(sakd_checkpoint_write(fx.path, &bad, 1, NULL, 0, NULL), SAKD_ERR_ARG, "rank 6",
                 NULL, NULL);
    ck_assert_int_eq(sakd_checkpoint_write(fx.path, fx.model, 0, NULL, 0, NULL), SAKD_ERR_ARG);

    /* The old file is untouched and no temp file is left behind. */
    size_t size1;
    char *after = slurp(fx.path, &size1);
    ck_assert_uint_eq(size0, size1);
    ck_assert(memcmp(before, after, size0) == 0);
    ck_assert_int_eq(count_entries(fx.dir), 1);
    free(before);
    free(after);

    /* A failed first write leaves nothing at all. */
    char fresh[PATH_MAX + 32];
    snprintf(fresh, sizeof fresh, "%s/new.h5", fx.dir);
    ck_assert_int_eq(sakd_checkpoint_write(fresh, dup, 3, NULL, 0, NULL), SAKD_ERR_ARG);
    ck_assert_int_eq(count_entries(fx.dir), 1);
    /* A directory that does not exist. */
    snprintf(fresh, sizeof fresh, "%s/no/new.h5", fx.dir);
    expect_error(sakd_checkpoint_write(fresh, fx.model, 1, NULL, 0, NULL), SAKD_ERR_IO, fresh, NULL,
                 NULL);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_overwrite)
{
    fixture fx;
    fixture_new(&fx, 105);
    write_fixture(&fx);
    for (size_t i = 0; i < numel(&fx.model[4]); i++)
        fx.model[4].data[i] += 1.0f;
    write_fixture(&fx);
    ck_assert_int_eq(count_entries(fx.dir), 1);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    check_tensors(ck, fx.model, N_MODEL, 0);
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

/* ---- rejected inputs ------------------------------------------------------------------- */

START_TEST(test_not_a_checkpoint)
{
    fixture fx;
    fixture_new(&fx, 106);
    sakd_checkpoint *ck = (sakd_checkpoint *)&fx; /* must be reset to NULL on failure */
    char path[PATH_MAX + 32];

    snprintf(path, sizeof path, "%s/missing.h5", fx.dir);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_NOT_FOUND, path, NULL, NULL);
    ck_assert_ptr_null(ck);

    snprintf(path, sizeof path, "%s/text.h5", fx.dir);
    TEST_OK(sakd_file_write_atomic(path, "[model]\nname = resnet19\n", 24));
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "not an HDF5 file", NULL);

    snprintf(path, sizeof path, "%s/empty.h5", fx.dir);
    TEST_OK(sakd_file_write_atomic(path, "", 0));
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, NULL, NULL);

    snprintf(path, sizeof path, "%s/noformat.h5", fx.dir);
    raw_minimal(path, NULL, 1);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "'format'", NULL);

    snprintf(path, sizeof path, "%s/other.h5", fx.dir);
    raw_minimal(path, "pytorch-state-dict", 1);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "pytorch-state-dict",
                 "sakd-checkpoint");

    snprintf(path, sizeof path, "%s/v2.h5", fx.dir);
    raw_minimal(path, "sakd-checkpoint", 2);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "format_version 2",
                 "newer");

    snprintf(path, sizeof path, "%s/v0.h5", fx.dir);
    raw_minimal(path, "sakd-checkpoint", 0);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "format_version 0", NULL);

    snprintf(path, sizeof path, "%s/noversion.h5", fx.dir);
    raw_minimal(path, "sakd-checkpoint", -1);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "format_version", NULL);

    /* format_version as a string. */
    snprintf(path, sizeof path, "%s/strversion.h5", fx.dir);
    hid_t f = raw_create(path);
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    raw_attr_fixed_string(root, "format", "sakd-checkpoint");
    raw_attr_fixed_string(root, "format_version", "1");
    H5Gclose(root);
    H5Fclose(f);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "format_version", NULL);

    /* No /model. */
    snprintf(path, sizeof path, "%s/nomodel.h5", fx.dir);
    f = raw_create(path);
    root = H5Gopen2(f, "/", H5P_DEFAULT);
    raw_attr_fixed_string(root, "format", "sakd-checkpoint");
    raw_attr_int32(root, "format_version", 1);
    H5Gclose(root);
    H5Fclose(f);
    expect_error(sakd_checkpoint_open(&ck, path), SAKD_ERR_FORMAT, path, "/model", NULL);
    ck_assert_ptr_null(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_missing_and_wrong_shape)
{
    fixture fx;
    fixture_new(&fx, 107);
    write_fixture(&fx);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    const sakd_ckpt_tensor *fc = &fx.model[4]; /* fc.weight [10, c] */
    float *buf = malloc((numel(fc) + 64) * sizeof *buf);
    expect_error(sakd_checkpoint_read_model(ck, "fc.bias", 1, (size_t[]){10}, buf),
                 SAKD_ERR_NOT_FOUND, fx.path, "fc.bias", NULL);
    size_t wrong[2] = {10, fc->shape[1] + 1};
    char found[64], expected[64];
    snprintf(found, sizeof found, "shape [10, %zu]", fc->shape[1]);
    snprintf(expected, sizeof expected, "expected [10, %zu]", fc->shape[1] + 1);
    expect_error(sakd_checkpoint_read_model(ck, "fc.weight", 2, wrong, buf), SAKD_ERR_FORMAT,
                 fx.path, "/model/fc.weight", found);
    ck_assert_ptr_nonnull(strstr(sakd_error_detail(), expected));
    /* Wrong rank. */
    expect_error(
        sakd_checkpoint_read_model(ck, "fc.weight", 3, (size_t[]){10, fc->shape[1], 1}, buf),
        SAKD_ERR_FORMAT, fx.path, "fc.weight", "expected [10,");
    expect_error(sakd_checkpoint_read_optim(ck, "fc.weight/exp_avg", 1, (size_t[]){10}, buf),
                 SAKD_ERR_FORMAT, fx.path, "/optim/fc.weight/exp_avg", "expected [10]");
    expect_error(sakd_checkpoint_read_optim(ck, "bn1.weight/momentum", 1, (size_t[]){1}, buf),
                 SAKD_ERR_NOT_FOUND, fx.path, "bn1.weight/momentum", NULL);
    free(buf);
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_wrong_dtype)
{
    fixture fx;
    fixture_new(&fx, 108);
    raw_minimal(fx.path, "sakd-checkpoint", 1);
    hid_t f = H5Fopen(fx.path, H5F_ACC_RDWR, H5P_DEFAULT);
    const double b[2] = {0.5, -0.5};
    raw_dataset(f, "/model/fc.bias", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, (hsize_t[]){2}, b);
    const long long n = 5;
    raw_dataset(f, "/model/bn1.num_batches_tracked", H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, NULL, &n);
    H5Fclose(f);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    ck_assert_uint_eq(sakd_checkpoint_model_count(ck), 3);
    float out[2];
    expect_error(sakd_checkpoint_read_model(ck, "fc.bias", 1, (size_t[]){2}, out), SAKD_ERR_FORMAT,
                 fx.path, "/model/fc.bias", "float64, expected float32");
    expect_error(sakd_checkpoint_read_model(ck, "bn1.num_batches_tracked", 0, NULL, out),
                 SAKD_ERR_FORMAT, fx.path, "bn1.num_batches_tracked", "int64");
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_nonfinite_weights)
{
    fixture fx;
    fixture_new(&fx, 109);
    raw_minimal(fx.path, "sakd-checkpoint", 1);
    hid_t f = H5Fopen(fx.path, H5F_ACC_RDWR, H5P_DEFAULT);
    const float w[4] = {1, 2, 3, NAN};
    const float v[3] = {0, -INFINITY, 1};
    raw_dataset(f, "/model/layer1.0.bn1.weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1,
                (hsize_t[]){4}, w);
    raw_dataset(f, "/optim/fc.weight/momentum", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){3},
                v);
    H5Fclose(f);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    float out[4];
    expect_error(sakd_checkpoint_read_model(ck, "layer1.0.bn1.weight", 1, (size_t[]){4}, out),
                 SAKD_ERR_FORMAT, fx.path, "layer1.0.bn1.weight", "element 3 is NaN");
    expect_error(sakd_checkpoint_read_optim(ck, "fc.weight/momentum", 1, (size_t[]){3}, out),
                 SAKD_ERR_FORMAT, fx.path, "fc.weight/momentum", "element 1 is Inf");
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_meta_wrong_type)
{
    fixture fx;
    fixture_new(&fx, 110);
    raw_minimal(fx.path, "sakd-checkpoint", 1);
    hid_t f = H5Fopen(fx.path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    raw_attr_fixed_string(g, "epoch", "three");
    raw_attr_fixed_string(g, "arch", "snn");
    H5Gclose(g);
    H5Fclose(f);
    sakd_checkpoint *ck;
    TEST_OK(sakd_checkpoint_open(&ck, fx.path));
    ck_assert(sakd_checkpoint_has_meta(ck));
    sakd_ckpt_meta m;
    expect_error(sakd_checkpoint_read_meta(ck, &m), SAKD_ERR_FORMAT, fx.path, "epoch",
                 "not an integer");
    ck_assert_ptr_null(m.config);
    sakd_checkpoint_close(ck);
    fixture_free(&fx);
}
END_TEST

/* ---- h5 helpers (trace files) ---------------------------------------------------------- */

START_TEST(test_h5_trace_like)
{
    fixture fx;
    fixture_new(&fx, 111);
    test_rng r = test_rng_new(111);
    char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/trace.h5", fx.dir);
    float logits[3 * 10], feat[2 * 4 * 3 * 3 * 5], ce = 2.302585f;
    test_fill_uniform(&r, logits, 30, -5, 5);
    test_fill_uniform(&r, feat, 360, -1, 1);
    sakd_h5_file f;
    TEST_OK(sakd_h5_create_temp(path, &f, tmp, sizeof tmp));
    TEST_OK(sakd_h5_write_float(f, "/logits", 2, (size_t[]){3, 10}, logits));
    TEST_OK(sakd_h5_write_float(f, "/loss/ce", 0, NULL, &ce));
    TEST_OK(sakd_h5_write_float(f, "/features/2/student", 5, (size_t[]){2, 4, 3, 3, 5}, feat));
    TEST_OK(sakd_h5_write_float(f, "/grad/layer1.0.conv1.weight", 1, (size_t[]){4}, feat));
    TEST_OK(sakd_h5_set_attr_string(f, "/", "note", "step 0"));
    expect_error(sakd_h5_write_float(f, "/loss/ce", 0, NULL, &ce), SAKD_ERR_ARG, "/loss/ce",
                 "already exists", NULL);
    expect_error(sakd_h5_write_float(f, "loss", 0, NULL, &ce), SAKD_ERR_ARG, "loss", NULL, NULL);
    expect_error(sakd_h5_write_float(f, "/a//b", 0, NULL, &ce), SAKD_ERR_ARG, "/a//b", NULL, NULL);
    expect_error(sakd_h5_write_float(f, "/x", 6, (size_t[]){1, 1, 1, 1, 1, 1}, feat), SAKD_ERR_ARG,
                 "rank 6", NULL, NULL);
    TEST_OK(sakd_h5_commit(f, tmp, path));
    ck_assert_int_eq(count_entries(fx.dir), 1);

    TEST_OK(sakd_h5_open(path, &f));
    ck_assert(sakd_h5_exists(f, "/"));
    ck_assert(sakd_h5_exists(f, "/features/2"));
    ck_assert(sakd_h5_exists(f, "/grad/layer1.0.conv1.weight"));
    ck_assert(!sakd_h5_exists(f, "/features/3/student"));
    ck_assert(!sakd_h5_exists(f, "grad"));
    int nd;
    size_t shape[5];
    sakd_h5_dtype dt;
    TEST_OK(sakd_h5_dataset_info(f, "/loss/ce", 5, &nd, shape, &dt));
    ck_assert(nd == 0 && dt == SAKD_H5_FLOAT32);
    TEST_OK(sakd_h5_dataset_info(f, "/features/2/student", 5, &nd, shape, &dt));
    ck_assert(nd == 5 && shape[0] == 2 && shape[4] == 5);
    expect_error(sakd_h5_dataset_info(f, "/features/2/student", 4, &nd, shape, &dt),
                 SAKD_ERR_FORMAT, path, "rank 5", NULL);
    expect_error(sakd_h5_dataset_info(f, "/features", 5, &nd, shape, &dt), SAKD_ERR_FORMAT, path,
                 "/features is not a dataset", NULL);
    expect_error(sakd_h5_dataset_info(f, "/nope", 5, &nd, shape, &dt), SAKD_ERR_NOT_FOUND, path,
                 "/nope", NULL);
    float got[360], got_ce;
    TEST_OK(sakd_h5_read_float(f, "/logits", 2, (size_t[]){3, 10}, got));
    ck_assert(memcmp(got, logits, sizeof logits) == 0);
    TEST_OK(sakd_h5_read_float(f, "/features/2/student", 5, (size_t[]){2, 4, 3, 3, 5}, got));
    ck_assert(memcmp(got, feat, sizeof feat) == 0);
    TEST_OK(sakd_h5_read_float(f, "/loss/ce", 0, NULL, &got_ce));
    ck_assert(got_ce == ce);
    char *s;
    TEST_OK(sakd_h5_get_attr_string(f, "/", "note", &s));
    ck_assert_str_eq(s, "step 0");
    free(s);
    long long i;
    expect_error(sakd_h5_get_attr_int(f, "/", "note", &i), SAKD_ERR_FORMAT, path, "note",
                 "not an integer");
    expect_error(sakd_h5_get_attr_int(f, "/", "missing", &i), SAKD_ERR_NOT_FOUND, path, "missing",
                 NULL);
    expect_error(sakd_h5_get_attr_int(f, "/nogroup", "x", &i), SAKD_ERR_NOT_FOUND, path, "/nogroup",
                 NULL);
    TEST_OK(sakd_h5_close(f));
    fixture_free(&fx);
}
END_TEST

/* ---- batch files ----------------------------------------------------------------------- */

START_TEST(test_batch_roundtrip)
{
    fixture fx;
    fixture_new(&fx, 112);
    test_rng r = test_rng_new(112);
    size_t shape[4] = {test_rand_size(&r, 1, 5), test_rand_size(&r, 1, 3), 7, 5};
    size_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *x = malloc(n * sizeof *x);
    int32_t y[5];
    test_fill_uniform(&r, x, n, -2, 2);
    for (size_t i = 0; i < shape[0]; i++)
        y[i] = (int32_t)test_rand_size(&r, 0, 9);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/batch.h5", fx.dir);
    TEST_OK(sakd_batch_file_write(path, x, shape, y));
    float *gx;
    int32_t *gy;
    size_t gshape[4], gn;
    TEST_OK(sakd_batch_file_read(path, &gx, gshape, &gy, &gn));
    ck_assert_uint_eq(gn, shape[0]);
    ck_assert(memcmp(gshape, shape, sizeof shape) == 0);
    ck_assert(memcmp(gx, x, n * sizeof *x) == 0);
    ck_assert(memcmp(gy, y, gn * sizeof *y) == 0);
    free(gx);
    free(gy);

    /* int64 labels, as numpy writes them by default. */
    snprintf(path, sizeof path, "%s/batch64.h5", fx.dir);
    hid_t f = raw_create(path);
    hsize_t dx[4] = {shape[0], shape[1], shape[2], shape[3]};
    raw_dataset(f, "/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, dx, x);
    long long y64[5];
    for (size_t i = 0; i < shape[0]; i++)
        y64[i] = y[i];
    raw_dataset(f, "/y", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dx, y64);
    H5Fclose(f);
    TEST_OK(sakd_batch_file_read(path, &gx, gshape, &gy, &gn));
    ck_assert(memcmp(gx, x, n * sizeof *x) == 0);
    ck_assert(memcmp(gy, y, gn * sizeof *y) == 0);
    free(gx);
    free(gy);
    free(x);
    fixture_free(&fx);
}
END_TEST

/* Writes a batch file with /x of the given type and rank and /y of the given type, rank and
 * count (0 = none). */
static void raw_batch(const char *path, hid_t xtype, int xrank, hid_t ytype, int yrank,
                      hsize_t ycount, long long yvalue)
{
    hid_t f = raw_create(path);
    static const double xs[2 * 3 * 2 * 2] = {0};
    hsize_t dx[4] = {2, 3, 2, 2};
    if (xrank > 0)
        raw_dataset(f, "/x", xtype, H5T_NATIVE_DOUBLE, xrank, dx, xs);
    long long ys[8] = {1, yvalue, 0, 0, 0, 0, 0, 0};
    hsize_t dy[2] = {ycount, 1};
    if (ycount > 0)
        raw_dataset(f, "/y", ytype, H5T_NATIVE_LLONG, yrank, dy, ys);
    H5Fclose(f);
}

START_TEST(test_batch_bad)
{
    fixture fx;
    fixture_new(&fx, 113);
    char path[PATH_MAX + 32];
    float *x = (float *)&fx; /* must be reset to NULL on failure */
    int32_t *y;
    size_t shape[4], n;
    const hid_t F32 = H5T_IEEE_F32LE, I32 = H5T_STD_I32LE, I64 = H5T_STD_I64LE;
    struct {
        const char *name;
        hid_t xtype;
        int xrank;
        hid_t ytype;
        int yrank;
        hsize_t ycount;
        long long yvalue;
        sakd_status want;
        const char *m1, *m2;
    } cases[] = {
        {"nox", F32, 0, I32, 1, 2, 0, SAKD_ERR_NOT_FOUND, "/x", NULL},
        {"noy", F32, 4, I32, 1, 0, 0, SAKD_ERR_NOT_FOUND, "/y", NULL},
        {"xrank3", F32, 3, I32, 1, 2, 0, SAKD_ERR_FORMAT, "/x has shape [2, 3, 2]", "[B, C, H, W]"},
        {"x64", H5T_IEEE_F64LE, 4, I32, 1, 2, 0, SAKD_ERR_FORMAT, "/x is float64",
         "expected float32"},
        {"yrank2", F32, 4, I32, 2, 2, 0, SAKD_ERR_FORMAT, "/y has shape [2, 1]", "[B]"},
        {"ycount", F32, 4, I64, 1, 3, 0, SAKD_ERR_FORMAT, "/y has 3 labels", "/x has 2"},
        {"yfloat", F32, 4, F32, 1, 2, 0, SAKD_ERR_FORMAT, "/y is float32",
         "expected int32 or int64"},
        {"yu8", F32, 4, H5T_STD_U8LE, 1, 2, 0, SAKD_ERR_FORMAT, "/y is an unsupported type", NULL},
        {"yrange", F32, 4, I64, 1, 2, 1LL << 40, SAKD_ERR_FORMAT, "/y element 1", "outside int32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.h5", fx.dir, cases[i].name);
        raw_batch(path, cases[i].xtype, cases[i].xrank, cases[i].ytype, cases[i].yrank,
                  cases[i].ycount, cases[i].yvalue);
        expect_error(sakd_batch_file_read(path, &x, shape, &y, &n), cases[i].want, path,
                     cases[i].m1, cases[i].m2);
        ck_assert(x == NULL && y == NULL && n == 0);
    }
    snprintf(path, sizeof path, "%s/text.h5", fx.dir);
    TEST_OK(sakd_file_write_atomic(path, "x,y\n1,2\n", 8));
    expect_error(sakd_batch_file_read(path, &x, shape, &y, &n), SAKD_ERR_FORMAT, path,
                 "not an HDF5 file", NULL);
    fixture_free(&fx);
}
END_TEST

Suite *suite_checkpoint(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_meta_roundtrip);
    tcase_add_test(tc, test_minimal_foreign_file);
    tcase_add_test(tc, test_failed_write_keeps_old);
    tcase_add_test(tc, test_overwrite);
    tcase_add_test(tc, test_not_a_checkpoint);
    tcase_add_test(tc, test_missing_and_wrong_shape);
    tcase_add_test(tc, test_wrong_dtype);
    tcase_add_test(tc, test_nonfinite_weights);
    tcase_add_test(tc, test_meta_wrong_type);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("h5");
    tcase_add_test(th, test_h5_trace_like);
    tcase_add_test(th, test_batch_roundtrip);
    tcase_add_test(th, test_batch_bad);
    suite_add_tcase(s, th);
    return s;
}
