/* test_badinput.c — the sakd command rejects every kind of bad input (configs, datasets,
 * checkpoints, batch files) with a non-zero exit, a message naming the file and the key, line,
 * tensor or byte offset, and no partial output in the run directory. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "testutil.h"

static char dir[PATH_MAX / 2], data[PATH_MAX], run[PATH_MAX], cfg[PATH_MAX];
static char out[1 << 16];

#define RUN(...) test_run_sakd(NULL, (const char *const[]){__VA_ARGS__, NULL}, out, sizeof out)
#define EXPECT_IN_OUTPUT(text)                                                                     \
    ck_assert_msg(strstr(out, text) != NULL, "output lacks '%s':\n%s", text, out)

/* Tiny images keep every run short: 8x8 goes through resnet18's three stride-2 stages. */
enum { HW = 8, N_TRAIN = 16, N_TEST = 8, CLASSES = 10 };

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX image file of n images of HW x HW (magic 0x803), or label file (0x801), in `buf`;
 * returns its size. */
static size_t idx_images(unsigned char *buf, uint32_t magic, uint32_t n)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, HW);
    put_be32(buf + 12, HW);
    for (size_t i = 0; i < (size_t)n * HW * HW; i++)
        buf[16 + i] = (unsigned char)(i * 37u);
    return 16 + (size_t)n * HW * HW;
}

static size_t idx_labels(unsigned char *buf, uint32_t n)
{
    put_be32(buf, 0x801);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (unsigned char)(i % CLASSES);
    return 8 + n;
}

static void data_file(const char *name, const void *bytes, size_t n)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data, name);
    write_bytes(path, bytes, n);
}

/* A valid Fashion-MNIST-shaped IDX dataset in `data`. */
static void good_dataset(void)
{
    static unsigned char buf[16 + N_TRAIN * HW * HW];
    data_file("train-images-idx3-ubyte", buf, idx_images(buf, 0x803, N_TRAIN));
    data_file("train-labels-idx1-ubyte", buf, idx_labels(buf, N_TRAIN));
    data_file("t10k-images-idx3-ubyte", buf, idx_images(buf, 0x803, N_TEST));
    data_file("t10k-labels-idx1-ubyte", buf, idx_labels(buf, N_TEST));
}

static void setup(void)
{
    test_tempdir(dir, sizeof dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", dir);
    ck_assert_int_eq(mkdir(data, 0755), 0);
    good_dataset();
    char text[3 * PATH_MAX];
    snprintf(text, sizeof text,
             "[model]\nname = resnet18\nwidth = 0.0625\nT = 1\n[data]\ndir = %s\n"
             "crop_padding = 0\nflip = false\n[train]\nepochs = 1\nbatch = 8\n[run]\nout = %s\n",
             data, run);
    write_bytes(cfg, text, strlen(text));
}

static void teardown(void)
{
    test_rmtree(dir);
}

/* The last command failed with exit status `rc` (non-zero) and wrote nothing to the run
 * directory. */
static void expect_rejected(int rc, int want)
{
    ck_assert_msg(rc != 0 && rc != -1, "exit %d for a bad input:\n%s", rc, out);
    if (want)
        ck_assert_msg(rc == want, "exit %d, expected %d:\n%s", rc, want, out);
    ck_assert_msg(access(run, F_OK) != 0, "the rejected run left %s behind:\n%s", run, out);
}

/* ---- configs ----------------------------------------------------------------------------- */

static void write_config(const char *text)
{
    write_bytes(cfg, text, strlen(text));
}

START_TEST(test_config_rejected)
{
    static const struct {
        const char *text, *line, *key;
    } cases[] = {
        {"[model]\nname = resnet18\n[modle]\nT = 2\n", ":3", "[model]"},
        {"[model]\nwidht = 0.5\n", ":2", "model.width"},
        {"[train]\n\nlr = fast\n", ":3", "train.lr"},
        {"[train]\nepochs = 2.5\n", ":2", "train.epochs"},
        {"[model]\nwidth = -1\n", ":2", "model.width"},
        {"[model]\nT = 0\n", ":2", "model.T"},
        {"[model]\nT = -3\n", ":2", "model.T"},
        {"[model]\nreset = medium\n", ":2", "model.reset"},
        {"[distill]\ntransform = projection\n", ":2", "distill.transform"},
        {"[model]\ndetach_reset = maybe\n", ":2", "model.detach_reset"},
        {"[model]\nT = 2\nT = 3\n", ":3", "model.T"},
        {"[model\nT = 2\n", ":1", "tiny.ini"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(cases[i].text);
        char assign[PATH_MAX + 16];
        snprintf(assign, sizeof assign, "run.out=%s", run);
        expect_rejected(RUN("train", cfg, assign), 2);
        EXPECT_IN_OUTPUT("tiny.ini");
        EXPECT_IN_OUTPUT(cases[i].line);
        EXPECT_IN_OUTPUT(cases[i].key);
    }
    /* Overrides on the command line name the key and where it came from. */
    write_config("[model]\nT = 2\n");
    expect_rejected(RUN("train", cfg, "model.T=0"), 2);
    EXPECT_IN_OUTPUT("model.T");
    EXPECT_IN_OUTPUT("command line");
    expect_rejected(RUN("train", cfg, "train.optimiser=adamw"), 2);
    EXPECT_IN_OUTPUT("train.optimizer");
    expect_rejected(RUN("train", cfg, "nosection"), 2);
    EXPECT_IN_OUTPUT("nosection");
    /* A missing or unreadable config names the file. */
    char missing[2 * PATH_MAX];
    snprintf(missing, sizeof missing, "%s/absent.ini", dir);
    expect_rejected(RUN("train", missing), 0);
    EXPECT_IN_OUTPUT(missing);
}
END_TEST

START_TEST(test_config_conflict_warns)
{
    /* transform = proj with beta = 0 is a warning, not an error; the run then stops at the
     * missing teacher, which is named. */
    write_config("[distill]\nteacher = /nonexistent/teacher.h5\ntransform = proj\nbeta = 0\n");
    char assign[PATH_MAX + 16];
    snprintf(assign, sizeof assign, "run.out=%s", run);
    char ddir[PATH_MAX + 16];
    snprintf(ddir, sizeof ddir, "data.dir=%s", data);
    expect_rejected(RUN("train", cfg, assign, ddir, "train.batch=8"), 0);
    EXPECT_IN_OUTPUT("warning");
    EXPECT_IN_OUTPUT("distill.transform = proj");
    EXPECT_IN_OUTPUT("distill.beta = 0");
    EXPECT_IN_OUTPUT("/nonexistent/teacher.h5");
    /* once: the config is checked in several places, the warning printed by one */
    const char *first = strstr(out, "distill.beta = 0");
    ck_assert_msg(strstr(first + 1, "distill.beta = 0") == NULL, "warning printed twice:\n%s", out);
}
END_TEST

/* ---- datasets ------------------------------------------------------------------------------ */

static void gzip_file(const char *name, const unsigned char *bytes, size_t n, int corrupt)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data, name);
    gzFile gz = gzopen(path, "wb");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
    if (!corrupt)
        return;
    /* Flip bytes inside the deflate stream (after the 10-byte header). */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    unsigned char junk[8] = {0xff, 0x00, 0xff, 0x00, 0xde, 0xad, 0xbe, 0xef};
    ck_assert_int_eq(fseek(f, 12, SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);
}

/* A missing file exits 1, a malformed one 2 (bad input). */
static void expect_data_rejected(const char *file, const char *detail)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data, file);
    expect_rejected(RUN("train", cfg), strstr(detail, "missing") ? 1 : 2);
    EXPECT_IN_OUTPUT(path);
    EXPECT_IN_OUTPUT(detail);
    good_dataset();
}

START_TEST(test_dataset_rejected)
{
    static unsigned char buf[16 + N_TRAIN * HW * HW];
    char path[2 * PATH_MAX];

    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", data);
    ck_assert_int_eq(unlink(path), 0);
    expect_data_rejected("train-labels-idx1-ubyte", "missing dataset file");

    size_t n = idx_images(buf, 0x803, N_TRAIN);
    buf[3] = 0x01; /* a label file's magic on an image file */
    data_file("train-images-idx3-ubyte", buf, n);
    expect_data_rejected("train-images-idx3-ubyte", "wrong magic 0x00000801");

    n = idx_images(buf, 0x803, N_TRAIN);
    data_file("train-images-idx3-ubyte", buf, n - 100);
    char offset[64];
    snprintf(offset, sizeof offset, "byte offset %zu", n - 100);
    expect_data_rejected("train-images-idx3-ubyte", offset);

    data_file("t10k-images-idx3-ubyte", buf, 10);
    expect_data_rejected("t10k-images-idx3-ubyte", "byte offset 10");

    n = idx_labels(buf, N_TRAIN - 1);
    data_file("train-labels-idx1-ubyte", buf, n);
    expect_data_rejected("train-labels-idx1-ubyte", "15 labels");

    n = idx_labels(buf, N_TEST);
    buf[8 + 5] = CLASSES; /* sample 5 at byte offset 13 */
    data_file("t10k-labels-idx1-ubyte", buf, n);
    expect_data_rejected("t10k-labels-idx1-ubyte", "byte offset 13");

    /* A gzipped file stands in for a missing plain one; a corrupt one is named. */
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", data);
    ck_assert_int_eq(unlink(path), 0);
    n = idx_images(buf, 0x803, N_TRAIN);
    gzip_file("train-images-idx3-ubyte.gz", buf, n, 1);
    expect_rejected(RUN("train", cfg), 0);
    EXPECT_IN_OUTPUT("corrupt gzip file");
    EXPECT_IN_OUTPUT("train-images-idx3-ubyte.gz");
    good_dataset();
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", data);
    ck_assert_int_eq(unlink(path), 0);
    gzip_file("train-images-idx3-ubyte.gz", buf, n - 30, 0); /* complete gzip, short IDX */
    expect_rejected(RUN("train", cfg), 0);
    EXPECT_IN_OUTPUT("train-images-idx3-ubyte.gz");
    EXPECT_IN_OUTPUT("byte offset");

    /* A header announcing 2^32-1 images in a 16-byte file is truncation, not a 4 GB
     * allocation. */
    good_dataset();
    put_be32(buf, 0x803);
    put_be32(buf + 4, 0xffffffffu);
    put_be32(buf + 8, 1);
    put_be32(buf + 12, 1);
    data_file("train-images-idx3-ubyte", buf, 16);
    expect_data_rejected("train-images-idx3-ubyte", "byte offset 16");
}
END_TEST

START_TEST(test_cifar_rejected)
{
    /* CIFAR-10 files of the wrong size, and a label outside 0..9. */
    enum { REC = 1 + 3 * 32 * 32 };
    static unsigned char rec[2 * REC];
    memset(rec, 7, sizeof rec);
    rec[0] = 1;
    rec[REC] = 2;
    const char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++)
        data_file(names[i], rec, sizeof rec);
    data_file("data_batch_3.bin", rec, sizeof rec - 1);
    expect_rejected(RUN("train", cfg, "data.dataset=cifar10"), 0);
    EXPECT_IN_OUTPUT("data_batch_3.bin");
    char size[32];
    snprintf(size, sizeof size, "%d", 2 * REC - 1);
    EXPECT_IN_OUTPUT(size);
    data_file("data_batch_3.bin", rec, sizeof rec);
    rec[REC] = 10;
    data_file("test_batch.bin", rec, sizeof rec);
    expect_rejected(RUN("train", cfg, "data.dataset=cifar10"), 0);
    EXPECT_IN_OUTPUT("test_batch.bin");
    snprintf(size, sizeof size, "byte offset %d", REC);
    EXPECT_IN_OUTPUT(size);
}
END_TEST

/* ---- checkpoints --------------------------------------------------------------------------- */

/* Trains the tiny config once (an ANN, as a teacher) into `run` and moves its checkpoint to
 * dir/good.h5; the run directory is removed so that later rejections can be checked. */
static void good_checkpoint(char *path, size_t size)
{
    int rc = RUN("train", cfg, "model.arch=ann");
    ck_assert_msg(rc == 0, "training the tiny model failed:\n%s", out);
    snprintf(path, size, "%s/good.h5", dir);
    char w[2 * PATH_MAX];
    snprintf(w, sizeof w, "%s/weights.h5", run);
    ck_assert_int_eq(rename(w, path), 0);
    test_rmtree(run);
}

static void copy_file(const char *from, const char *to)
{
    char *bytes;
    size_t n;
    TEST_OK(sakd_file_read(from, &bytes, &n));
    write_bytes(to, bytes, n);
    free(bytes);
}

/* A copy of good.h5 as dir/<name>, opened read-write with HDF5 for tampering. */
static hid_t tamper(const char *good, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    copy_file(good, path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

static void set_root_attr(hid_t f, const char *name, hid_t type, const void *value)
{
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (H5Aexists(root, name) > 0)
        H5Adelete(root, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(root, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, type, value), 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Gclose(root);
}

/* Replaces dataset `name` by one of `type` and shape [n]. */
static void replace_dataset(hid_t f, const char *name, hid_t type, hsize_t n)
{
    ck_assert_int_ge(H5Ldelete(f, name, H5P_DEFAULT), 0);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    double *zeros = calloc(n, sizeof *zeros);
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros), 0);
    free(zeros);
    H5Dclose(d);
    H5Sclose(space);
}

static void expect_eval_rejected(const char *path, const char *a, const char *b)
{
    expect_rejected(RUN("eval", "--weights", path), 0);
    EXPECT_IN_OUTPUT(path);
    if (a)
        EXPECT_IN_OUTPUT(a);
    if (b)
        EXPECT_IN_OUTPUT(b);
}

START_TEST(test_checkpoint_rejected)
{
    char good[PATH_MAX], path[2 * PATH_MAX];
    good_checkpoint(good, sizeof good);
    ck_assert_int_eq(RUN("eval", "--weights", good), 0);

    snprintf(path, sizeof path, "%s/text.h5", dir);
    write_bytes(path, "[model]\nT = 4\n", 14);
    expect_eval_rejected(path, "not an HDF5 file", NULL);

    snprintf(path, sizeof path, "%s/cut.h5", dir);
    char *bytes;
    size_t n;
    TEST_OK(sakd_file_read(good, &bytes, &n));
    write_bytes(path, bytes, n / 2);
    free(bytes);
    expect_eval_rejected(path, NULL, NULL);

    hid_t f = tamper(good, "format.h5", path, sizeof path);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 12);
    set_root_attr(f, "format", str, "pytorch-dict");
    H5Tclose(str);
    H5Fclose(f);
    expect_eval_rejected(path, "pytorch-dict", "sakd-checkpoint");

    f = tamper(good, "version.h5", path, sizeof path);
    const int v = 7;
    set_root_attr(f, "format_version", H5T_NATIVE_INT, &v);
    H5Fclose(f);
    expect_eval_rejected(path, "format_version 7", NULL);

    f = tamper(good, "missing.h5", path, sizeof path);
    ck_assert_int_ge(H5Ldelete(f, "/model/fc.bias", H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_eval_rejected(path, "fc.bias", NULL);

    f = tamper(good, "shape.h5", path, sizeof path);
    replace_dataset(f, "/model/fc.bias", H5T_IEEE_F32LE, 11);
    H5Fclose(f);
    expect_eval_rejected(path, "/model/fc.bias", "[11]");

    f = tamper(good, "dtype.h5", path, sizeof path);
    replace_dataset(f, "/model/fc.bias", H5T_IEEE_F64LE, 10);
    H5Fclose(f);
    expect_eval_rejected(path, "/model/fc.bias", "float64");

    f = tamper(good, "nan.h5", path, sizeof path);
    hid_t d = H5Dopen2(f, "/model/fc.bias", H5P_DEFAULT);
    float bias[10];
    for (int i = 0; i < 10; i++)
        bias[i] = i == 4 ? NAN : 0.0f;
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, bias), 0);
    H5Dclose(d);
    H5Fclose(f);
    expect_eval_rejected(path, "fc.bias", "element 4 is NaN");

    /* A teacher whose feature taps do not pair with the student's (resnet18's four stages
     * against resnet19's three), or whose channels differ under a transform that needs them
     * equal; a teacher that is not a checkpoint. (Other depths and widths whose taps pair are
     * distilled: tests/test_loading.c.) */
    char assign[3 * PATH_MAX];
    snprintf(assign, sizeof assign, "distill.teacher=%s", good);
    expect_rejected(RUN("train", cfg, assign, "model.name=resnet19"), 0);
    EXPECT_IN_OUTPUT(good);
    EXPECT_IN_OUTPUT("resnet18");
    EXPECT_IN_OUTPUT("resnet19");
    EXPECT_IN_OUTPUT("taps");
    expect_rejected(RUN("train", cfg, assign, "model.width=0.125", "distill.transform=none"), 0);
    EXPECT_IN_OUTPUT("width 0.0625");
    EXPECT_IN_OUTPUT("differ in channels");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    snprintf(assign, sizeof assign, "distill.teacher=%s", path);
    expect_rejected(RUN("train", cfg, assign), 0);
    EXPECT_IN_OUTPUT("distill.teacher");
    EXPECT_IN_OUTPUT(path);
    /* A bad checkpoint to resume from. */
    snprintf(path, sizeof path, "%s/nan.h5", dir);
    snprintf(assign, sizeof assign, "train.resume=%s", path);
    expect_rejected(RUN("train", cfg, assign, "model.arch=ann"), 0);
    EXPECT_IN_OUTPUT("element 4 is NaN");
}
END_TEST

/* ---- batch files for trace ----------------------------------------------------------------- */

START_TEST(test_batch_rejected)
{
    char batch[2 * PATH_MAX], trace[2 * PATH_MAX];
    snprintf(batch, sizeof batch, "%s/batch.h5", dir);
    snprintf(trace, sizeof trace, "%s/trace.h5", dir);
    enum { B = 2 };
    float x[B * HW * HW];
    for (int i = 0; i < B * HW * HW; i++)
        x[i] = (float)(i % 7) / 7.0f;

    write_bytes(batch, "not hdf5", 8);
    ck_assert_int_ne(RUN("trace", cfg, "--batch", batch, "--out", trace), 0);
    EXPECT_IN_OUTPUT(batch);
    EXPECT_IN_OUTPUT("not an HDF5 file");

    int32_t y[B] = {1, 10};
    TEST_OK(sakd_batch_file_write(batch, x, (size_t[]){B, 1, HW, HW}, y));
    ck_assert_int_ne(RUN("trace", cfg, "--batch", batch, "--out", trace), 0);
    EXPECT_IN_OUTPUT(batch);
    EXPECT_IN_OUTPUT("/y[1] = 10");

    /* /y missing; /x of the wrong rank. */
    hid_t f = H5Fopen(batch, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(H5Ldelete(f, "/y", H5P_DEFAULT), 0);
    H5Fclose(f);
    ck_assert_int_ne(RUN("trace", cfg, "--batch", batch, "--out", trace), 0);
    EXPECT_IN_OUTPUT(batch);
    EXPECT_IN_OUTPUT("/y");
    f = H5Fopen(batch, H5F_ACC_RDWR, H5P_DEFAULT);
    replace_dataset(f, "/x", H5T_IEEE_F32LE, B * HW * HW);
    H5Fclose(f);
    ck_assert_int_ne(RUN("trace", cfg, "--batch", batch, "--out", trace), 0);
    EXPECT_IN_OUTPUT(batch);
    EXPECT_IN_OUTPUT("/x");

    /* A header claiming 2^35 elements (a chunked dataset never written: the file stays small):
     * rejected before anything is allocated from the claim (the batch fuzzer's finding). */
    TEST_OK(sakd_batch_file_write(batch, x, (size_t[]){B, 1, HW, HW}, (int32_t[]){1, 2}));
    f = H5Fopen(batch, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(H5Ldelete(f, "/x", H5P_DEFAULT), 0);
    hsize_t dims[4] = {B, (hsize_t)1 << 30, 4, 4}, chunk[4] = {1, 1, 4, 4};
    hid_t space = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ck_assert_int_ge(H5Pset_chunk(dcpl, 4, chunk), 0);
    hid_t d = H5Dcreate2(f, "/x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
    ck_assert_int_eq(RUN("trace", cfg, "--batch", batch, "--out", trace), 2);
    EXPECT_IN_OUTPUT(batch);
    EXPECT_IN_OUTPUT("dataset /x has shape [2, 1073741824, 4, 4]");
    EXPECT_IN_OUTPUT("corrupt file?");
    ck_assert_msg(access(trace, F_OK) != 0, "a failed trace left %s", trace);
}
END_TEST

Suite *suite_badinput(void)
{
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_config_rejected);
    tcase_add_test(tc, test_config_conflict_warns);
    tcase_add_test(tc, test_dataset_rejected);
    tcase_add_test(tc, test_cifar_rejected);
    tcase_add_test(tc, test_checkpoint_rejected);
    tcase_add_test(tc, test_batch_rejected);
    suite_add_tcase(s, tc);
    return s;
}
