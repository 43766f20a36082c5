/* test_data.c — datasets: IDX and CIFAR readers (round trips, limits, every bad input), the
 * synthetic dataset, epoch shuffles, and normalized, augmented batches against references. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "testutil.h"

/* ---- helpers: files with known contents -------------------------------------------------- */

static void write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile g = gzopen(path, "wb");
    ck_assert_msg(g != NULL, "cannot create %s", path);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)size), (int)size);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static void *read_all(const char *dir, const char *name, size_t *size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data;
    TEST_OK(sakd_file_read(path, &data, size));
    return data;
}

static void remove_file(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(remove(path), 0);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One IDX split held in memory: the image and label file bytes. */
typedef struct idx_split {
    size_t n, rows, cols;
    unsigned char *images; /* 16-byte header + n·rows·cols */
    unsigned char *labels; /* 8-byte header + n */
} idx_split;

static idx_split idx_make(test_rng *r, size_t n, size_t rows, size_t cols, size_t classes)
{
    idx_split s = {n, rows, cols, malloc(16 + n * rows * cols), malloc(8 + n)};
    put_be32(s.images, 0x803);
    put_be32(s.images + 4, (uint32_t)n);
    put_be32(s.images + 8, (uint32_t)rows);
    put_be32(s.images + 12, (uint32_t)cols);
    for (size_t i = 0; i < n * rows * cols; i++)
        s.images[16 + i] = (unsigned char)test_rand_size(r, 0, 255);
    put_be32(s.labels, 0x801);
    put_be32(s.labels + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        s.labels[8 + i] = (unsigned char)test_rand_size(r, 0, classes - 1);
    return s;
}

static void idx_free(idx_split *s)
{
    free(s->images);
    free(s->labels);
}

/* Writes <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte, gzipped when gz. */
static void idx_write(const char *dir, const char *prefix, const idx_split *s, int gz)
{
    char img[64], lab[64];
    snprintf(img, sizeof img, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    snprintf(lab, sizeof lab, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    void (*w)(const char *, const char *, const void *, size_t) = gz ? write_gz : write_file;
    w(dir, img, s->images, 16 + s->n * s->rows * s->cols);
    w(dir, lab, s->labels, 8 + s->n);
}

static void check_idx_equal(const sakd_dataset *d, const idx_split *s, size_t n)
{
    ck_assert_uint_eq(d->n, n);
    ck_assert_uint_eq(d->channels, 1);
    ck_assert_uint_eq(d->height, s->rows);
    ck_assert_uint_eq(d->width, s->cols);
    ck_assert_uint_eq(d->classes, 10);
    ck_assert_msg(memcmp(d->images, s->images + 16, n * s->rows * s->cols) == 0, "pixels differ");
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(d->labels[i], s->labels[8 + i]);
}

/* Expects `call` to fail with `status` and a detail containing each of the strings. */
#define EXPECT_ERR(call, status, ...)                                                              \
    do {                                                                                           \
        sakd_status got_ = (call);                                                                 \
        ck_assert_msg(got_ == (status), "%s returned %s (%s), expected %s", #call,                 \
                      sakd_strerror(got_), sakd_error_detail(), sakd_strerror(status));            \
        const char *parts_[] = {__VA_ARGS__};                                                      \
        for (size_t p_ = 0; p_ < sizeof parts_ / sizeof parts_[0]; p_++)                           \
            ck_assert_msg(strstr(sakd_error_detail(), parts_[p_]) != NULL,                         \
                          "detail \"%s\" does not mention \"%s\"", sakd_error_detail(),            \
                          parts_[p_]);                                                             \
    } while (0)

static void check_empty(const sakd_dataset *d)
{
    ck_assert_uint_eq(d->n, 0);
    ck_assert_ptr_null(d->images);
    ck_assert_ptr_null(d->labels);
}

/* ---- IDX --------------------------------------------------------------------------------- */

START_TEST(test_idx_round_trip)
{
    /* Plain and gzipped files give the same exact pixels and labels. */
    for (int gz = 0; gz < 2; gz++) {
        test_rng r = test_rng_new(100 + (uint64_t)gz);
        char dir[512];
        test_tempdir(dir, sizeof dir);
        idx_split tr = idx_make(&r, 7, 5, 3, 10), te = idx_make(&r, 4, 5, 3, 10);
        idx_write(dir, "train", &tr, gz);
        idx_write(dir, "t10k", &te, gz);
        sakd_dataset a, b;
        TEST_OK(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0));
        check_idx_equal(&a, &tr, 7);
        check_idx_equal(&b, &te, 4);
        ck_assert_str_eq(a.name, "mnist");
        ck_assert_str_eq(b.name, "mnist");
        ck_assert_float_eq(a.mean[0], 0.1307f);
        ck_assert_float_eq(a.std[0], 0.3081f);
        sakd_dataset_free(&a);
        sakd_dataset_free(&b);
        check_empty(&a);
        /* Fashion-MNIST reads the same files with its own constants. */
        TEST_OK(sakd_dataset_load(&a, &b, "fashion-mnist", dir, 0, 0));
        check_idx_equal(&a, &tr, 7);
        ck_assert_str_eq(a.name, "fashion-mnist");
        ck_assert_float_eq(a.mean[0], 0.2860f);
        ck_assert_float_eq(b.std[0], 0.3530f);
        sakd_dataset_free(&a);
        sakd_dataset_free(&b);
        idx_free(&tr);
        idx_free(&te);
        test_rmtree(dir);
    }
}
END_TEST

START_TEST(test_idx_prefers_plain)
{
    /* With both the plain file and a different .gz present, the plain one is read; files of
     * the two kinds mix within one split. */
    test_rng r = test_rng_new(102);
    char dir[512];
    test_tempdir(dir, sizeof dir);
    idx_split plain = idx_make(&r, 6, 4, 4, 10), other = idx_make(&r, 6, 4, 4, 10);
    idx_write(dir, "train", &plain, 0);
    idx_write(dir, "train", &other, 1);
    idx_write(dir, "t10k", &other, 1);
    remove_file(dir, "t10k-labels-idx1-ubyte.gz");
    write_file(dir, "t10k-labels-idx1-ubyte", other.labels, 8 + other.n);
    sakd_dataset a, b;
    TEST_OK(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0));
    check_idx_equal(&a, &plain, 6);
    check_idx_equal(&b, &other, 6);
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
    idx_free(&plain);
    idx_free(&other);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_limits)
{
    test_rng r = test_rng_new(103);
    char dir[512];
    test_tempdir(dir, sizeof dir);
    idx_split tr = idx_make(&r, 9, 3, 2, 10), te = idx_make(&r, 5, 3, 2, 10);
    idx_write(dir, "train", &tr, 1);
    idx_write(dir, "t10k", &te, 0);
    sakd_dataset a, b;
    TEST_OK(sakd_dataset_load(&a, &b, "mnist", dir, 4, 1));
    check_idx_equal(&a, &tr, 4);
    check_idx_equal(&b, &te, 1);
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
    /* A limit at or above the split's size keeps everything. */
    TEST_OK(sakd_dataset_load(&a, &b, "mnist", dir, 9, 1000));
    check_idx_equal(&a, &tr, 9);
    check_idx_equal(&b, &te, 5);
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

/* A directory with valid train and t10k splits (plain), for the bad-input tests to spoil. */
static void idx_valid_dir(char *dir, size_t size, idx_split *tr, idx_split *te)
{
    test_rng r = test_rng_new(104);
    test_tempdir(dir, size);
    *tr = idx_make(&r, 7, 4, 3, 10);
    *te = idx_make(&r, 3, 4, 3, 10);
    idx_write(dir, "train", tr, 0);
    idx_write(dir, "t10k", te, 0);
}

START_TEST(test_idx_missing_file)
{
    char dir[512], path[700], gz[720];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    remove_file(dir, "t10k-labels-idx1-ubyte");
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    snprintf(gz, sizeof gz, "%s.gz", path);
    sakd_dataset a, b;
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_NOT_FOUND, path, gz);
    check_empty(&a);
    check_empty(&b);
    /* A directory that does not exist. */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/absent", dir);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "fashion-mnist", nodir, 0, 0), SAKD_ERR_NOT_FOUND,
               "absent/train-images-idx3-ubyte");
    /* The default folders: a missing one says how to get the data. */
    struct stat st;
    if (stat(SAKD_DATASET_MNIST_DIR, &st) != 0)
        EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", NULL, 0, 0), SAKD_ERR_NOT_FOUND,
                   SAKD_DATASET_MNIST_DIR "/train-images-idx3-ubyte", "data.dir");
    if (stat(SAKD_DATASET_FASHION_MNIST_DIR, &st) != 0)
        EXPECT_ERR(sakd_dataset_load(&a, &b, "fashion-mnist", "", 0, 0), SAKD_ERR_NOT_FOUND,
                   SAKD_DATASET_FASHION_MNIST_DIR "/train-images-idx3-ubyte",
                   "dataset-fashion-mnist");
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_wrong_magic)
{
    char dir[512];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    sakd_dataset a, b;
    put_be32(tr.images, 0x804);
    write_file(dir, "train-images-idx3-ubyte", tr.images, 16 + 7 * 12);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "train-images-idx3-ubyte", "0x00000804", "0x00000803");
    check_empty(&a);
    put_be32(tr.images, 0x803);
    write_file(dir, "train-images-idx3-ubyte", tr.images, 16 + 7 * 12);
    /* A label file in place of an image file, and the other way round. */
    write_gz(dir, "t10k-images-idx3-ubyte.gz", te.labels, 8 + 3);
    remove_file(dir, "t10k-images-idx3-ubyte");
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "t10k-images-idx3-ubyte.gz", "0x00000801");
    check_empty(&a);
    check_empty(&b);
    write_gz(dir, "t10k-images-idx3-ubyte.gz", te.images, 16 + 3 * 12);
    write_file(dir, "train-labels-idx1-ubyte", tr.images, 16 + 7 * 12);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "train-labels-idx1-ubyte", "0x00000803", "0x00000801");
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_truncated)
{
    char dir[512];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    sakd_dataset a, b;
    /* Pixels cut short, plain and gzipped: 7 images of 4×3 need 84 bytes after 16. */
    for (int gz = 0; gz < 2; gz++) {
        if (gz) {
            remove_file(dir, "train-images-idx3-ubyte");
            write_gz(dir, "train-images-idx3-ubyte.gz", tr.images, 16 + 50);
        } else {
            write_file(dir, "train-images-idx3-ubyte", tr.images, 16 + 50);
        }
        EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
                   gz ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte", "truncated",
                   "84 bytes", "byte offset 66");
        check_empty(&a);
    }
    remove_file(dir, "train-images-idx3-ubyte.gz");
    write_file(dir, "train-images-idx3-ubyte", tr.images, 16 + 84);
    /* A cut header, and a file too short for the magic. */
    write_file(dir, "t10k-images-idx3-ubyte", te.images, 10);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "t10k-images-idx3-ubyte", "16-byte header", "byte offset 10");
    write_file(dir, "t10k-images-idx3-ubyte", te.images, 2);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "t10k-images-idx3-ubyte", "truncated");
    write_file(dir, "t10k-images-idx3-ubyte", te.images, 16 + 36);
    /* Labels cut short. */
    write_file(dir, "train-labels-idx1-ubyte", tr.labels, 8 + 5);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "train-labels-idx1-ubyte", "7 labels", "byte offset 13");
    write_file(dir, "train-labels-idx1-ubyte", tr.labels, 8 + 7);
    /* Data past the announced end. */
    unsigned char longer[16 + 36 + 3];
    memcpy(longer, te.images, 16 + 36);
    memset(longer + 16 + 36, 0, 3);
    write_file(dir, "t10k-images-idx3-ubyte", longer, sizeof longer);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "t10k-images-idx3-ubyte", "after byte offset 52");
    write_file(dir, "t10k-images-idx3-ubyte", te.images, 16 + 36);
    TEST_OK(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0));
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_count_mismatch)
{
    char dir[512];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    sakd_dataset a, b;
    put_be32(te.labels + 4, 2);
    write_file(dir, "t10k-labels-idx1-ubyte", te.labels, 8 + 2);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "t10k-images-idx3-ubyte", "3 images", "t10k-labels-idx1-ubyte", "2 labels");
    check_empty(&a);
    check_empty(&b);
    /* Test images of another size than the train images. */
    test_rng r = test_rng_new(105);
    idx_split other = idx_make(&r, 3, 5, 3, 10);
    idx_write(dir, "t10k", &other, 0);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT, "5×3", "4×3");
    idx_free(&other);
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_bad_label)
{
    char dir[512];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    sakd_dataset a, b;
    tr.labels[8 + 5] = 10;
    idx_write(dir, "train", &tr, 1);
    remove_file(dir, "train-labels-idx1-ubyte");
    EXPECT_ERR(sakd_dataset_load(&a, &b, "fashion-mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "train-labels-idx1-ubyte.gz", "sample 5", "label 10");
    check_empty(&a);
    /* Checked even beyond the limit: the whole file is validated. */
    EXPECT_ERR(sakd_dataset_load(&a, &b, "fashion-mnist", dir, 2, 0), SAKD_ERR_FORMAT, "sample 5");
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_idx_corrupt_gzip)
{
    char dir[512];
    idx_split tr, te;
    idx_valid_dir(dir, sizeof dir, &tr, &te);
    remove_file(dir, "train-images-idx3-ubyte");
    sakd_dataset a, b;
    /* Not gzip at all, under a .gz name. */
    write_file(dir, "train-images-idx3-ubyte.gz", tr.images, 16 + 84);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT,
               "train-images-idx3-ubyte.gz", "gzip");
    check_empty(&a);
    /* A gzip stream cut in half, and one with its deflate data overwritten. */
    write_gz(dir, "train-images-idx3-ubyte.gz", tr.images, 16 + 84);
    size_t size;
    unsigned char *z = read_all(dir, "train-images-idx3-ubyte.gz", &size);
    ck_assert_uint_gt(size, 30);
    write_file(dir, "train-images-idx3-ubyte.gz", z, size / 2);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT, "corrupt gzip",
               "train-images-idx3-ubyte.gz");
    for (size_t i = 10; i < size - 8; i++)
        z[i] = 0xff;
    write_file(dir, "train-images-idx3-ubyte.gz", z, size);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT, "corrupt gzip",
               "train-images-idx3-ubyte.gz");
    /* An intact stream whose trailer checksum is wrong. */
    write_gz(dir, "train-images-idx3-ubyte.gz", tr.images, 16 + 84);
    free(z);
    z = read_all(dir, "train-images-idx3-ubyte.gz", &size);
    z[size - 8] ^= 0x55;
    write_file(dir, "train-images-idx3-ubyte.gz", z, size);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "mnist", dir, 0, 0), SAKD_ERR_FORMAT, "corrupt gzip",
               "train-images-idx3-ubyte.gz");
    free(z);
    idx_free(&tr);
    idx_free(&te);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_unknown_dataset)
{
    sakd_dataset a, b;
    EXPECT_ERR(sakd_dataset_load(&a, &b, "imagenet", NULL, 0, 0), SAKD_ERR_ARG, "'imagenet'",
               "cifar100");
    check_empty(&a);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", NULL, 0, 0), SAKD_ERR_ARG, "cifar10",
               "data.dir", "data_batch_1.bin");
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar100", "", 0, 0), SAKD_ERR_ARG, "cifar100",
               "train.bin");
    sakd_dataset_free(NULL);
}
END_TEST

/* ---- CIFAR ------------------------------------------------------------------------------- */

/* Records of one CIFAR file: label byte(s) then 3072 pixels. */
static unsigned char *cifar_records(test_rng *r, size_t n, int c100)
{
    size_t rec = (c100 ? 2 : 1) + 3072;
    unsigned char *d = malloc(n * rec);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = d + i * rec;
        if (c100) {
            p[0] = (unsigned char)test_rand_size(r, 0, 19);
            p[1] = (unsigned char)test_rand_size(r, 0, 99);
        } else {
            p[0] = (unsigned char)test_rand_size(r, 0, 9);
        }
        for (size_t k = c100 ? 2 : 1; k < rec; k++)
            p[k] = (unsigned char)test_rand_size(r, 0, 255);
    }
    return d;
}

static void check_cifar_record(const sakd_dataset *d, size_t i, const unsigned char *rec, int c100)
{
    ck_assert_int_eq(d->labels[i], rec[c100 ? 1 : 0]);
    ck_assert_msg(memcmp(d->images + i * 3072, rec + (c100 ? 2 : 1), 3072) == 0,
                  "pixels of sample %zu differ", i);
}

static const char *const c10_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
static const size_t c10_counts[] = {2, 3, 1, 2, 2, 3};

/* Writes a small CIFAR-10 into `dir`; recs[f] receives file f's records. */
static void cifar10_write(const char *dir, unsigned char *recs[6], uint64_t salt)
{
    test_rng r = test_rng_new(salt);
    for (int f = 0; f < 6; f++) {
        recs[f] = cifar_records(&r, c10_counts[f], 0);
        write_file(dir, c10_files[f], recs[f], c10_counts[f] * 3073);
    }
}

START_TEST(test_cifar10_round_trip)
{
    for (int sub = 0; sub < 2; sub++) {
        char dir[512], folder[600];
        test_tempdir(dir, sizeof dir);
        snprintf(folder, sizeof folder, "%s%s", dir, sub ? "/cifar-10-batches-bin" : "");
        if (sub)
            ck_assert_int_eq(mkdir(folder, 0755), 0);
        unsigned char *recs[6];
        cifar10_write(folder, recs, 200 + (uint64_t)sub);
        sakd_dataset a, b;
        TEST_OK(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0));
        ck_assert_uint_eq(a.n, 10);
        ck_assert_uint_eq(b.n, 3);
        ck_assert_uint_eq(a.channels, 3);
        ck_assert_uint_eq(a.height, 32);
        ck_assert_uint_eq(b.width, 32);
        ck_assert_uint_eq(a.classes, 10);
        ck_assert_str_eq(a.name, "cifar10");
        const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
        for (int c = 0; c < 3; c++) {
            ck_assert_float_eq(a.mean[c], mean[c]);
            ck_assert_float_eq(b.std[c], std[c]);
        }
        /* The train files are concatenated in order 1..5. */
        size_t i = 0;
        for (int f = 0; f < 5; f++)
            for (size_t k = 0; k < c10_counts[f]; k++)
                check_cifar_record(&a, i++, recs[f] + k * 3073, 0);
        for (size_t k = 0; k < 3; k++)
            check_cifar_record(&b, k, recs[5] + k * 3073, 0);
        sakd_dataset_free(&a);
        sakd_dataset_free(&b);
        /* Limits take the first samples across files. */
        TEST_OK(sakd_dataset_load(&a, &b, "cifar10", folder, 6, 2));
        ck_assert_uint_eq(a.n, 6);
        ck_assert_uint_eq(b.n, 2);
        check_cifar_record(&a, 5, recs[2], 0);
        check_cifar_record(&b, 1, recs[5] + 3073, 0);
        sakd_dataset_free(&a);
        sakd_dataset_free(&b);
        for (int f = 0; f < 6; f++)
            free(recs[f]);
        test_rmtree(dir);
    }
}
END_TEST

START_TEST(test_cifar100_round_trip)
{
    for (int sub = 0; sub < 2; sub++) {
        test_rng r = test_rng_new(210 + (uint64_t)sub);
        char dir[512], folder[600];
        test_tempdir(dir, sizeof dir);
        snprintf(folder, sizeof folder, "%s%s", dir, sub ? "/cifar-100-binary" : "");
        if (sub)
            ck_assert_int_eq(mkdir(folder, 0755), 0);
        unsigned char *tr = cifar_records(&r, 5, 1), *te = cifar_records(&r, 2, 1);
        tr[3 * 3074 + 1] = 99; /* the largest fine label */
        write_file(folder, "train.bin", tr, 5 * 3074);
        write_file(folder, "test.bin", te, 2 * 3074);
        sakd_dataset a, b;
        TEST_OK(sakd_dataset_load(&a, &b, "cifar100", dir, 0, 0));
        ck_assert_uint_eq(a.n, 5);
        ck_assert_uint_eq(b.n, 2);
        ck_assert_uint_eq(a.classes, 100);
        ck_assert_uint_eq(a.channels, 3);
        ck_assert_str_eq(b.name, "cifar100");
        ck_assert_float_eq(a.mean[2], 0.4408f);
        ck_assert_float_eq(b.std[1], 0.2565f);
        for (size_t i = 0; i < 5; i++)
            check_cifar_record(&a, i, tr + i * 3074, 1);
        for (size_t i = 0; i < 2; i++)
            check_cifar_record(&b, i, te + i * 3074, 1);
        sakd_dataset_free(&a);
        sakd_dataset_free(&b);
        free(tr);
        free(te);
        test_rmtree(dir);
    }
}
END_TEST

START_TEST(test_cifar_bad_inputs)
{
    char dir[512], path[700];
    test_tempdir(dir, sizeof dir);
    sakd_dataset a, b;
    /* An empty folder: names the file looked for in both places. */
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_NOT_FOUND,
               "data_batch_1.bin", "cifar-10-batches-bin/data_batch_1.bin");
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar100", dir, 0, 0), SAKD_ERR_NOT_FOUND, "train.bin",
               "cifar-100-binary/train.bin");
    unsigned char *recs[6];
    cifar10_write(dir, recs, 220);
    /* A missing later file. */
    remove_file(dir, "data_batch_4.bin");
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_NOT_FOUND, path);
    check_empty(&a);
    write_file(dir, "data_batch_4.bin", recs[3], 2 * 3073);
    remove_file(dir, "test_batch.bin");
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_NOT_FOUND,
               "test_batch.bin");
    check_empty(&a);
    check_empty(&b);
    /* A size that is not whole records, and an empty file. */
    write_file(dir, "test_batch.bin", recs[5], 3 * 3073 - 7);
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_FORMAT, path, "9212 bytes",
               "record size 3073");
    write_file(dir, "test_batch.bin", recs[5], 0);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_FORMAT, path, "0 bytes");
    write_file(dir, "test_batch.bin", recs[5], 3 * 3073);
    /* A label out of range: file and record index. */
    recs[1][2 * 3073] = 10;
    write_file(dir, "data_batch_2.bin", recs[1], 3 * 3073);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0), SAKD_ERR_FORMAT, "data_batch_2.bin",
               "record 2", "label 10");
    check_empty(&a);
    recs[1][2 * 3073] = 9;
    write_file(dir, "data_batch_2.bin", recs[1], 3 * 3073);
    TEST_OK(sakd_dataset_load(&a, &b, "cifar10", dir, 0, 0));
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
    /* CIFAR-100: record size 3074, fine label < 100, coarse label < 20. */
    test_rng r = test_rng_new(221);
    unsigned char *tr = cifar_records(&r, 4, 1);
    write_file(dir, "train.bin", tr, 3 * 3073);
    write_file(dir, "test.bin", tr, 3074);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar100", dir, 0, 0), SAKD_ERR_FORMAT, "train.bin",
               "9219 bytes", "record size 3074");
    tr[3 * 3074 + 1] = 100;
    write_file(dir, "train.bin", tr, 4 * 3074);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar100", dir, 0, 0), SAKD_ERR_FORMAT, "train.bin",
               "record 3", "label 100");
    tr[3 * 3074 + 1] = 7;
    tr[1 * 3074] = 20;
    write_file(dir, "train.bin", tr, 4 * 3074);
    EXPECT_ERR(sakd_dataset_load(&a, &b, "cifar100", dir, 0, 0), SAKD_ERR_FORMAT, "train.bin",
               "record 1", "coarse label 20");
    free(tr);
    for (int f = 0; f < 6; f++)
        free(recs[f]);
    test_rmtree(dir);
}
END_TEST

/* ---- the real Fashion-MNIST -------------------------------------------------------------- */

START_TEST(test_fashion_mnist_installed)
{
    struct stat st;
    if (stat(SAKD_DATASET_FASHION_MNIST_DIR, &st) != 0) {
        printf("SKIP test_fashion_mnist_installed: %s is absent (apt-get install "
               "dataset-fashion-mnist)\n",
               SAKD_DATASET_FASHION_MNIST_DIR);
        return;
    }
    sakd_dataset a, b;
    TEST_OK(sakd_dataset_load(&a, &b, "fashion-mnist", NULL, 0, 0));
    ck_assert_uint_eq(a.n, 60000);
    ck_assert_uint_eq(b.n, 10000);
    ck_assert_uint_eq(a.height, 28);
    ck_assert_uint_eq(a.width, 28);
    ck_assert_uint_eq(a.channels, 1);
    size_t count[2][10] = {{0}};
    double sum = 0.0, sumsq = 0.0;
    for (size_t i = 0; i < a.n; i++)
        count[0][a.labels[i]]++;
    for (size_t i = 0; i < b.n; i++)
        count[1][b.labels[i]]++;
    for (int k = 0; k < 10; k++) {
        ck_assert_uint_eq(count[0][k], 6000);
        ck_assert_uint_eq(count[1][k], 1000);
    }
    /* The normalization constants are the train set's pixel mean and std. */
    for (size_t i = 0; i < a.n * 784; i++) {
        double v = a.images[i] / 255.0;
        sum += v;
        sumsq += v * v;
    }
    double mean = sum / (a.n * 784.0), sd = sqrt(sumsq / (a.n * 784.0) - mean * mean);
    ck_assert_msg(fabs(mean - a.mean[0]) < 5e-4 && fabs(sd - a.std[0]) < 5e-4,
                  "pixel mean %.4f std %.4f", mean, sd);
    sakd_dataset_free(&a);
    sakd_dataset_free(&b);
}
END_TEST

/* ---- synthetic --------------------------------------------------------------------------- */

START_TEST(test_synthetic)
{
    uint64_t seed = test_seed() ^ 0x5e;
    sakd_dataset d, e, tr, te;
    TEST_OK(sakd_dataset_synthetic(&d, 50, 3, 6, 5, 7, seed));
    TEST_OK(sakd_dataset_synthetic(&e, 50, 3, 6, 5, 7, seed));
    ck_assert_str_eq(d.name, "synthetic");
    ck_assert_uint_eq(d.n, 50);
    ck_assert_uint_eq(d.channels, 3);
    ck_assert_uint_eq(d.height, 6);
    ck_assert_uint_eq(d.width, 5);
    ck_assert_uint_eq(d.classes, 7);
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq(d.mean[c], 0.5f);
        ck_assert_float_eq(d.std[c], 0.25f);
    }
    for (size_t i = 0; i < 50; i++)
        ck_assert_int_eq(d.labels[i], (int32_t)(i % 7));
    ck_assert(memcmp(d.images, e.images, 50 * 90) == 0);
    sakd_dataset_free(&e);
    TEST_OK(sakd_dataset_synthetic(&e, 50, 3, 6, 5, 7, seed + 1));
    ck_assert(memcmp(d.images, e.images, 50 * 90) != 0);
    sakd_dataset_free(&e);
    /* The split is the same stream cut in two. */
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 30, 20, 3, 6, 5, 7, seed));
    ck_assert_uint_eq(tr.n, 30);
    ck_assert_uint_eq(te.n, 20);
    ck_assert(memcmp(tr.images, d.images, 30 * 90) == 0);
    ck_assert(memcmp(te.images, d.images + 30 * 90, 20 * 90) == 0);
    ck_assert(memcmp(te.labels, d.labels + 30, 20 * sizeof(int32_t)) == 0);
    sakd_dataset_free(&tr);
    sakd_dataset_free(&te);
    sakd_dataset_free(&d);
    EXPECT_ERR(sakd_dataset_synthetic(&d, 10, 4, 6, 5, 7, seed), SAKD_ERR_ARG, "channels");
    check_empty(&d);
    EXPECT_ERR(sakd_dataset_synthetic(&d, 0, 1, 6, 5, 7, seed), SAKD_ERR_ARG, "synthetic");
    EXPECT_ERR(sakd_dataset_synthetic(&d, 10, 1, 6, 5, 1, seed), SAKD_ERR_ARG, "classes");
}
END_TEST

START_TEST(test_synthetic_learnable)
{
    /* A nearest-class-mean classifier fit on the train split does well on the test split,
     * and no class is a constant image. */
    const size_t C = 1, H = 10, W = 10, K = 10, per = C * H * W;
    sakd_dataset tr, te;
    TEST_OK(sakd_dataset_synthetic_split(&tr, &te, 500, 200, C, H, W, K, test_seed()));
    double *centroid = calloc(K * per, sizeof *centroid);
    size_t count[10] = {0};
    for (size_t i = 0; i < tr.n; i++) {
        count[tr.labels[i]]++;
        for (size_t p = 0; p < per; p++)
            centroid[tr.labels[i] * per + p] += tr.images[i * per + p];
    }
    for (size_t k = 0; k < K; k++)
        for (size_t p = 0; p < per; p++)
            centroid[k * per + p] /= (double)count[k];
    size_t correct = 0;
    for (size_t i = 0; i < te.n; i++) {
        size_t best = 0;
        double best_d = INFINITY;
        for (size_t k = 0; k < K; k++) {
            double dist = 0.0;
            for (size_t p = 0; p < per; p++) {
                double diff = te.images[i * per + p] - centroid[k * per + p];
                dist += diff * diff;
            }
            if (dist < best_d) {
                best_d = dist;
                best = k;
            }
        }
        correct += (int32_t)best == te.labels[i];
    }
    ck_assert_msg(correct >= 180, "nearest class mean: %zu of 200 correct", correct);
    free(centroid);
    sakd_dataset_free(&tr);
    sakd_dataset_free(&te);
}
END_TEST

/* ---- shuffles ---------------------------------------------------------------------------- */

static int is_permutation(const size_t *perm, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        ok = perm[i] < n && !seen[perm[i]];
        if (ok)
            seen[perm[i]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(test_shuffle_permutation)
{
    test_rng r = test_rng_new(300);
    const size_t sizes[] = {0, 1, 2, 3, 17, 1000, 60000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        size_t *p = malloc((n + 1) * sizeof *p), *q = malloc((n + 1) * sizeof *q);
        uint64_t seed = test_rand_u64(&r), epoch = test_rand_size(&r, 0, 1000);
        sakd_dataset_shuffle(p, n, seed, epoch);
        ck_assert_msg(is_permutation(p, n), "n %zu: not a permutation", n);
        sakd_dataset_shuffle(q, n, seed, epoch);
        ck_assert(n == 0 || memcmp(p, q, n * sizeof *p) == 0);
        if (n >= 17) {
            sakd_dataset_shuffle(q, n, seed, epoch + 1);
            ck_assert_msg(memcmp(p, q, n * sizeof *p) != 0, "epochs give the same order");
            sakd_dataset_shuffle(q, n, seed ^ 1, epoch);
            ck_assert_msg(memcmp(p, q, n * sizeof *p) != 0, "seeds give the same order");
            /* A shuffle moves most elements. */
            size_t fixed = 0;
            for (size_t i = 0; i < n; i++)
                fixed += p[i] == i;
            ck_assert_msg(fixed < 8 + n / 100, "n %zu: %zu fixed points", n, fixed);
        }
        free(p);
        free(q);
    }
}
END_TEST

START_TEST(test_shuffle_uniform)
{
    /* Over many epochs every one of the 5! orders of 5 items is about equally likely:
     * chi-square with 119 degrees of freedom (mean 119, sd 15.4) below 119 + 7 sd; and each
     * item lands at each position with probability 1/5 (within 6 binomial sd). */
    enum { N = 5, PERMS = 120, DRAWS = 36000 };
    uint64_t seed = test_seed() * 0x9e3779b97f4a7c15ull + 301;
    size_t hist[PERMS] = {0}, pos[N][N] = {{0}};
    for (uint64_t e = 0; e < DRAWS; e++) {
        size_t p[N];
        sakd_dataset_shuffle(p, N, seed, e);
        /* Lehmer code of the permutation. */
        size_t code = 0;
        for (int i = 0; i < N; i++) {
            size_t smaller = 0;
            for (int j = i + 1; j < N; j++)
                smaller += p[j] < p[i];
            code = code * (size_t)(N - i) + smaller;
            pos[p[i]][i]++;
        }
        hist[code]++;
    }
    double expect = (double)DRAWS / PERMS, chi2 = 0.0;
    for (int k = 0; k < PERMS; k++)
        chi2 += (hist[k] - expect) * (hist[k] - expect) / expect;
    ck_assert_msg(chi2 < 119 + 7 * 15.4, "chi-square %.1f over %d orders (seed %llu)", chi2, PERMS,
                  (unsigned long long)seed);
    double pe = DRAWS / (double)N, sd = sqrt(DRAWS * 0.2 * 0.8);
    for (int a = 0; a < N; a++)
        for (int i = 0; i < N; i++)
            ck_assert_msg(fabs(pos[a][i] - pe) < 6 * sd, "item %d at position %d: %zu times", a, i,
                          pos[a][i]);
}
END_TEST

/* ---- batches ----------------------------------------------------------------------------- */

/* A dataset with random pixels and labels (not normalized for any real data). */
static void random_dataset(sakd_dataset *d, test_rng *r, size_t n, size_t C, size_t H, size_t W)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "random");
    d->n = n;
    d->channels = C;
    d->height = H;
    d->width = W;
    d->classes = 13;
    d->images = malloc(n * C * H * W);
    d->labels = malloc(n * sizeof *d->labels);
    for (size_t i = 0; i < n * C * H * W; i++)
        d->images[i] = (uint8_t)test_rand_size(r, 0, 255);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (int32_t)test_rand_size(r, 0, 12);
    for (int c = 0; c < 3; c++) {
        d->mean[c] = (float)test_rand_uniform(r, 0.1, 0.9);
        d->std[c] = (float)test_rand_uniform(r, 0.1, 0.5);
    }
}

/* The double reference of one normalized pixel, rounded once to float. */
static float ref_norm(const sakd_dataset *d, size_t c, unsigned p)
{
    return (float)((p / 255.0 - (double)d->mean[c]) / (double)d->std[c]);
}

/* Reference of an augmented row: pad with raw 0, crop at (oy, ox), then mirror. */
static float ref_pixel(const sakd_dataset *d, size_t sample, size_t c, size_t i, size_t j, int pad,
                       int oy, int ox, int flipped)
{
    long H = (long)d->height, W = (long)d->width;
    long jj = flipped ? W - 1 - (long)j : (long)j;
    long sy = (long)i + oy - pad, sx = jj + ox - pad;
    unsigned p = 0;
    if (sy >= 0 && sy < H && sx >= 0 && sx < W)
        p = d->images[((sample * d->channels + c) * (size_t)H + (size_t)sy) * (size_t)W +
                      (size_t)sx];
    return ref_norm(d, c, p);
}

static int row_matches(const sakd_dataset *d, size_t sample, const float *x, int pad, int oy,
                       int ox, int flipped)
{
    for (size_t c = 0; c < d->channels; c++)
        for (size_t i = 0; i < d->height; i++)
            for (size_t j = 0; j < d->width; j++)
                if (x[(c * d->height + i) * d->width + j] !=
                    ref_pixel(d, sample, c, i, j, pad, oy, ox, flipped))
                    return 0;
    return 1;
}

START_TEST(test_batch_normalize)
{
    /* No augmentation: every value is the double reference rounded to float, exactly, and
     * the labels are copied, for 1 and 3 channels and odd sizes. */
    test_rng r = test_rng_new(400);
    const size_t shapes[][3] = {{1, 7, 5}, {3, 4, 9}, {2, 1, 1}};
    for (size_t s = 0; s < 3; s++) {
        sakd_dataset d;
        random_dataset(&d, &r, 11, shapes[s][0], shapes[s][1], shapes[s][2]);
        const size_t B = 6, per = d.channels * d.height * d.width, idx[6] = {3, 0, 10, 3, 7, 1};
        float *x = malloc(B * per * sizeof *x);
        int32_t y[6];
        test_poison(x, B * per);
        sakd_dataset_batch(&d, idx, B, 0, 0, test_rand_u64(&r), 5, x, y);
        for (size_t b = 0; b < B; b++) {
            ck_assert_int_eq(y[b], d.labels[idx[b]]);
            for (size_t c = 0; c < d.channels; c++)
                for (size_t p = 0; p < d.height * d.width; p++) {
                    float want = ref_norm(
                        &d, c, d.images[(idx[b] * d.channels + c) * d.height * d.width + p]);
                    ck_assert_msg(x[b * per + c * d.height * d.width + p] == want,
                                  "row %zu channel %zu pixel %zu: %.9g != %.9g", b, c, p,
                                  x[b * per + c * d.height * d.width + p], want);
                }
        }
        free(x);
        sakd_dataset_free(&d);
    }
    /* The real constants: pixel 0 and 255 of Fashion-MNIST. */
    sakd_dataset d;
    random_dataset(&d, &r, 1, 1, 1, 2);
    d.images[0] = 0;
    d.images[1] = 255;
    d.mean[0] = 0.2860f;
    d.std[0] = 0.3530f;
    float x[2];
    int32_t y;
    size_t idx = 0;
    sakd_dataset_batch(&d, &idx, 1, 0, 0, 1, 0, x, &y);
    ck_assert_float_eq_tol(x[0], -0.2860 / 0.3530, 1e-6);
    ck_assert_float_eq_tol(x[1], (1 - 0.2860) / 0.3530, 1e-6);
    sakd_dataset_free(&d);
}
END_TEST

START_TEST(test_batch_augment)
{
    /* Crop and flip: each row is the padded image shifted by an offset in [0, 2·pad] and maybe
     * mirrored — found by searching all candidates, independently of the draw — and it is the
     * one sakd_dataset_augment_draw reports. Over many rows every offset and both flips
     * occur; the same call gives the same bytes; another counter another batch. */
    test_rng r = test_rng_new(401);
    const int pad = 2;
    sakd_dataset d;
    random_dataset(&d, &r, 9, 3, 6, 5);
    const size_t B = 40, per = d.channels * d.height * d.width;
    size_t idx[40];
    for (size_t b = 0; b < B; b++)
        idx[b] = test_rand_size(&r, 0, d.n - 1);
    float *x = malloc(B * per * sizeof *x), *x2 = malloc(B * per * sizeof *x);
    int32_t y[40], y2[40];
    uint64_t seed = test_rand_u64(&r);
    size_t seen_oy[5] = {0}, seen_ox[5] = {0}, flips = 0, rows = 0;
    for (uint64_t counter = 0; counter < 5; counter++) {
        test_poison(x, B * per);
        sakd_dataset_batch(&d, idx, B, pad, 1, seed, counter, x, y);
        for (size_t b = 0; b < B; b++) {
            ck_assert_int_eq(y[b], d.labels[idx[b]]);
            int oy, ox, fl;
            sakd_dataset_augment_draw(seed, counter, b, pad, 1, &oy, &ox, &fl);
            ck_assert(oy >= 0 && oy <= 2 * pad && ox >= 0 && ox <= 2 * pad);
            ck_assert_msg(row_matches(&d, idx[b], x + b * per, pad, oy, ox, fl),
                          "counter %llu row %zu is not the drawn crop (%d, %d, flip %d)",
                          (unsigned long long)counter, b, oy, ox, fl);
            int found = 0;
            for (int cy = 0; cy <= 2 * pad; cy++)
                for (int cx = 0; cx <= 2 * pad; cx++)
                    for (int cf = 0; cf < 2; cf++)
                        found += row_matches(&d, idx[b], x + b * per, pad, cy, cx, cf);
            ck_assert_msg(found >= 1, "row %zu is no shifted copy of the padded image", b);
            seen_oy[oy]++;
            seen_ox[ox]++;
            flips += (size_t)fl;
            rows++;
        }
        sakd_dataset_batch(&d, idx, B, pad, 1, seed, counter, x2, y2);
        ck_assert(memcmp(x, x2, B * per * sizeof *x) == 0);
        sakd_dataset_batch(&d, idx, B, pad, 1, seed, counter + 100, x2, y2);
        ck_assert(memcmp(x, x2, B * per * sizeof *x) != 0);
    }
    for (int o = 0; o <= 2 * pad; o++)
        ck_assert_msg(seen_oy[o] > 0 && seen_ox[o] > 0, "offset %d never drawn", o);
    /* 200 fair coin flips: within 6 sd (sd = 7.1) of 100. */
    ck_assert_msg(flips > 57 && flips < 143, "%zu flips of %zu rows", flips, rows);
    /* Flip only: a row is the image or its mirror image, and mirroring twice is identity. */
    sakd_dataset_batch(&d, idx, B, 0, 1, seed, 9, x, y);
    size_t mirrored = 0;
    for (size_t b = 0; b < B; b++) {
        int plain = row_matches(&d, idx[b], x + b * per, 0, 0, 0, 0);
        int mirror = row_matches(&d, idx[b], x + b * per, 0, 0, 0, 1);
        ck_assert(plain || mirror);
        mirrored += (size_t)(mirror && !plain);
        float back[90];
        for (size_t c = 0; c < d.channels; c++)
            for (size_t i = 0; i < d.height; i++)
                for (size_t j = 0; j < d.width; j++)
                    back[(c * d.height + i) * d.width + j] =
                        x[b * per + (c * d.height + i) * d.width +
                          (mirror && !plain ? d.width - 1 - j : j)];
        ck_assert(row_matches(&d, idx[b], back, 0, 0, 0, 0));
    }
    ck_assert_msg(mirrored > 0 && mirrored < B, "%zu of %zu rows mirrored", mirrored, B);
    /* Crop only never mirrors; no augmentation ignores the seed and counter. */
    sakd_dataset_batch(&d, idx, B, pad, 0, seed, 3, x, y);
    for (size_t b = 0; b < B; b++) {
        int oy, ox, fl;
        sakd_dataset_augment_draw(seed, 3, b, pad, 0, &oy, &ox, &fl);
        ck_assert_int_eq(fl, 0);
        ck_assert(row_matches(&d, idx[b], x + b * per, pad, oy, ox, 0));
    }
    sakd_dataset_batch(&d, idx, B, 0, 0, seed, 3, x, y);
    sakd_dataset_batch(&d, idx, B, 0, 0, seed + 7, 11, x2, y2);
    ck_assert(memcmp(x, x2, B * per * sizeof *x) == 0);
    for (size_t b = 0; b < B; b++)
        ck_assert(row_matches(&d, idx[b], x + b * per, 0, 0, 0, 0));
    free(x);
    free(x2);
    sakd_dataset_free(&d);
}
END_TEST

START_TEST(test_batch_real_shape)
{
    /* 32×32 CIFAR-style rows with the design's 4 px padding: the crop at offset (4, 4)
     * without a flip is the identity, and a border strip of an extreme offset is padding. */
    test_rng r = test_rng_new(402);
    sakd_dataset d;
    random_dataset(&d, &r, 4, 3, 32, 32);
    const size_t B = 64, per = 3 * 32 * 32;
    size_t idx[64];
    for (size_t b = 0; b < B; b++)
        idx[b] = b % 4;
    float *x = malloc(B * per * sizeof *x);
    int32_t y[64];
    uint64_t seed = test_rand_u64(&r);
    sakd_dataset_batch(&d, idx, B, 4, 1, seed, 77, x, y);
    for (size_t b = 0; b < B; b++) {
        int oy, ox, fl;
        sakd_dataset_augment_draw(seed, 77, b, 4, 1, &oy, &ox, &fl);
        ck_assert(row_matches(&d, idx[b], x + b * per, 4, oy, ox, fl));
        if (oy == 0) /* the top four rows come from the padding */
            for (size_t c = 0; c < 3; c++)
                for (size_t j = 0; j < 4 * 32; j++)
                    ck_assert(x[b * per + c * 1024 + j] == ref_norm(&d, c, 0));
    }
    free(x);
    sakd_dataset_free(&d);
}
END_TEST

Suite *suite_data(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("readers");
    tcase_add_test(tc, test_idx_round_trip);
    tcase_add_test(tc, test_idx_prefers_plain);
    tcase_add_test(tc, test_idx_limits);
    tcase_add_test(tc, test_idx_missing_file);
    tcase_add_test(tc, test_idx_wrong_magic);
    tcase_add_test(tc, test_idx_truncated);
    tcase_add_test(tc, test_idx_count_mismatch);
    tcase_add_test(tc, test_idx_bad_label);
    tcase_add_test(tc, test_idx_corrupt_gzip);
    tcase_add_test(tc, test_unknown_dataset);
    tcase_add_test(tc, test_cifar10_round_trip);
    tcase_add_test(tc, test_cifar100_round_trip);
    tcase_add_test(tc, test_cifar_bad_inputs);
    tcase_add_test(tc, test_fashion_mnist_installed);
    suite_add_tcase(s, tc);
    tc = tcase_create("synthetic");
    tcase_add_test(tc, test_synthetic);
    tcase_add_test(tc, test_synthetic_learnable);
    suite_add_tcase(s, tc);
    tc = tcase_create("batches");
    tcase_add_test(tc, test_shuffle_permutation);
    tcase_add_test(tc, test_shuffle_uniform);
    tcase_add_test(tc, test_batch_normalize);
    tcase_add_test(tc, test_batch_augment);
    tcase_add_test(tc, test_batch_real_shape);
    suite_add_tcase(s, tc);
    return s;
}
