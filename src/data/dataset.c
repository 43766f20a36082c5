/* dataset.c — dataset loading by name, the synthetic dataset, epoch shuffles and batches. */
#include "data/dataset.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/readers.h"
#include "runtime/log.h"
#include "runtime/rng.h"

/* Fourth Philox counter word of each use, so that the streams never overlap. */
#define TAG_SHUFFLE 0x53485546u   /* "SHUF" */
#define TAG_AUGMENT 0x4155474du   /* "AUGM" */
#define TAG_SYN_CLASS 0x53594e43u /* "SYNC" */
#define TAG_SYN_PIXEL 0x53594e50u /* "SYNP" */

typedef struct dataset_kind {
    const char *name;
    int cifar; /* 0 = IDX, 10 or 100 = CIFAR */
    size_t classes;
    const char *default_dir; /* NULL: a dir is required */
    const char *default_hint;
    float mean[3], std[3];
} dataset_kind;

static const dataset_kind kinds[] = {
    {"fashion-mnist",
     0,
     10,
     SAKD_DATASET_FASHION_MNIST_DIR,
     "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) "
     "or set data.dir",
     {0.2860f},
     {0.3530f}},
    {"mnist",
     0,
     10,
     SAKD_DATASET_MNIST_DIR,
     "set data.dir to the folder holding the MNIST IDX files",
     {0.1307f},
     {0.3081f}},
    {"cifar10", 10, 10, NULL, NULL, {0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}},
    {"cifar100", 100, 100, NULL, NULL, {0.5071f, 0.4867f, 0.4408f}, {0.2675f, 0.2565f, 0.2761f}},
};

void sakd_dataset_free(sakd_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

static int exists(const char *dir, const char *file)
{
    char path[PATH_MAX];
    struct stat st;
    return (size_t)snprintf(path, sizeof path, "%s/%s", dir, file) < sizeof path &&
           stat(path, &st) == 0;
}

static sakd_status load_cifar(sakd_dataset *train, sakd_dataset *test, const dataset_kind *k,
                              const char *dir)
{
    static const char *const c10_train[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin"};
    static const char *const c10_test[] = {"test_batch.bin"};
    static const char *const c100_train[] = {"train.bin"};
    static const char *const c100_test[] = {"test.bin"};
    const int c100 = k->cifar == 100;
    const char *const *tr = c100 ? c100_train : c10_train, *const *te = c100 ? c100_test : c10_test;
    const size_t ntr = c100 ? 1 : 5;
    const char *sub = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
    if (!dir || !*dir)
        return sakd_error(SAKD_ERR_ARG,
                          "dataset %s needs a data directory (data.dir): the folder with the "
                          "binary version's %s and %s",
                          k->name, tr[0], te[0]);
    char folder[PATH_MAX];
    if ((size_t)snprintf(folder, sizeof folder, "%s/%s", dir, sub) >= sizeof folder)
        return sakd_error(SAKD_ERR_ARG, "dataset path too long: %s", dir);
    if (!exists(folder, tr[0]) || exists(dir, tr[0]))
        snprintf(folder, sizeof folder, "%s", dir);
    if (!exists(folder, tr[0]))
        return sakd_error(SAKD_ERR_NOT_FOUND,
                          "missing dataset file %s/%s (nor %s/%s/%s exists): data.dir must hold "
                          "the %s binary version",
                          dir, tr[0], dir, sub, tr[0], c100 ? "CIFAR-100" : "CIFAR-10");
    SAKD_TRY(sakd_data_cifar_read(train, folder, tr, ntr, c100));
    return sakd_data_cifar_read(test, folder, te, 1, c100);
}

static sakd_status load_idx(sakd_dataset *train, sakd_dataset *test, const dataset_kind *k,
                            const char *dir)
{
    const char *hint = NULL;
    if (!dir || !*dir) {
        dir = k->default_dir;
        hint = k->default_hint;
    }
    SAKD_TRY(sakd_data_idx_read(train, dir, "train", k->classes, hint));
    SAKD_TRY(sakd_data_idx_read(test, dir, "t10k", k->classes, hint));
    if (test->height != train->height || test->width != train->width)
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s: the test images (t10k-images-idx3-ubyte) are %zu×%zu but the train "
                          "images are %zu×%zu",
                          dir, test->height, test->width, train->height, train->width);
    return SAKD_OK;
}

/* Keeps the first `limit` samples (0 = all). */
static void apply_limit(sakd_dataset *d, size_t limit, const char *split)
{
    if (limit == 0 || limit >= d->n) {
        if (limit > d->n)
            sakd_log(SAKD_LOG_INFO, "%s %s split has %zu samples, fewer than the limit %zu",
                     d->name, split, d->n, limit);
        return;
    }
    size_t per = d->channels * d->height * d->width;
    d->n = limit;
    uint8_t *images = realloc(d->images, limit * per);
    int32_t *labels = realloc(d->labels, limit * sizeof *labels);
    if (images)
        d->images = images; /* a failed shrink keeps the larger block */
    if (labels)
        d->labels = labels;
}

static void set_meta(sakd_dataset *d, const char *name, size_t classes, const float *mean,
                     const float *std)
{
    snprintf(d->name, sizeof d->name, "%s", name);
    d->classes = classes;
    for (int c = 0; c < 3; c++) {
        d->mean[c] = mean[c < (int)d->channels ? c : 0];
        d->std[c] = std[c < (int)d->channels ? c : 0];
    }
}

sakd_status sakd_dataset_load(sakd_dataset *train, sakd_dataset *test, const char *name,
                              const char *dir, size_t train_limit, size_t test_limit)
{
    if (!train || !test || !name)
        return sakd_error(SAKD_ERR_ARG, "sakd_dataset_load: train, test and name must be given");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const dataset_kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, kinds[i].name) == 0)
            k = &kinds[i];
    if (!k)
        return sakd_error(SAKD_ERR_ARG,
                          "unknown dataset '%s' (valid: fashion-mnist, mnist, cifar10, cifar100)",
                          name);
    sakd_status st = k->cifar ? load_cifar(train, test, k, dir) : load_idx(train, test, k, dir);
    if (st != SAKD_OK) {
        sakd_dataset_free(train);
        sakd_dataset_free(test);
        return st;
    }
    set_meta(train, k->name, k->classes, k->mean, k->std);
    set_meta(test, k->name, k->classes, k->mean, k->std);
    apply_limit(train, train_limit, "train");
    apply_limit(test, test_limit, "test");
    return SAKD_OK;
}

/* ---- synthetic ------------------------------------------------------------------------------ */

static void philox(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t tag,
                   uint32_t out[4])
{
    const uint32_t ctr[4] = {c0, c1, c2, tag};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    sakd_philox4x32_10(ctr, key, out);
}

/* Uniform in [0, 1) from a 32-bit word. */
static double unit(uint32_t w)
{
    return ldexp((double)w, -32);
}

/* Samples [first, first + d->n) of the synthetic stream of `seed`. */
static sakd_status synthetic_range(sakd_dataset *d, size_t first, size_t n, size_t channels,
                                   size_t height, size_t width, size_t classes, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    if (n == 0 || channels == 0 || channels > 3 || height == 0 || width == 0 || classes < 2 ||
        classes > 65536)
        return sakd_error(SAKD_ERR_ARG,
                          "synthetic dataset: need n > 0, 1 ≤ channels ≤ 3, height, width > 0 "
                          "and 2 ≤ classes ≤ 65536 (got n %zu, %zu×%zu×%zu, %zu classes)",
                          n, channels, height, width, classes);
    size_t per = channels * height * width;
    if (per > UINT32_MAX / 2 || n > SIZE_MAX / per)
        return sakd_error(SAKD_ERR_ARG, "synthetic dataset: %zu images of %zu×%zu×%zu is too large",
                          n, channels, height, width);
    d->images = malloc(n * per);
    d->labels = malloc(n * sizeof *d->labels);
    double *freq = malloc(classes * 2 * sizeof *freq), *phase = malloc(classes * 3 * sizeof *phase);
    if (!d->images || !d->labels || !freq || !phase) {
        free(freq);
        free(phase);
        sakd_dataset_free(d);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for a synthetic dataset of %zu images", n);
    }
    /* Class k: a sinusoid with distinct frequencies from a grid of m × m in [0.5, 3] cycles per
     * image, and random phases per channel. */
    size_t m = 1;
    while (m * m < classes)
        m++;
    for (size_t k = 0; k < classes; k++) {
        freq[2 * k] = 0.5 + 2.5 * (double)(k % m) / (double)(m - 1);
        freq[2 * k + 1] = 0.5 + 2.5 * (double)(k / m) / (double)(m - 1);
        uint32_t w[4];
        philox(seed, (uint32_t)k, 0, 0, TAG_SYN_CLASS, w);
        for (int c = 0; c < 3; c++)
            phase[3 * k + c] = 6.283185307179586 * unit(w[c]);
    }
    for (size_t s = 0; s < n; s++) {
        uint64_t i = first + s;
        size_t k = (size_t)(i % classes);
        uint32_t w[4];
        philox(seed, (uint32_t)i, (uint32_t)(i >> 32), UINT32_MAX, TAG_SYN_PIXEL, w);
        double contrast = 70.0 * (0.7 + 0.6 * unit(w[0])), bright = 40.0 * unit(w[1]) - 20.0;
        uint8_t *img = d->images + s * per;
        for (size_t p = 0; p < per; p++) {
            if (p % 4 == 0)
                philox(seed, (uint32_t)i, (uint32_t)(i >> 32), (uint32_t)(p / 4), TAG_SYN_PIXEL, w);
            size_t c = p / (height * width), y = p / width % height, x = p % width;
            double v =
                128.0 + bright +
                contrast * sin(6.283185307179586 * (freq[2 * k] * (double)x / (double)width +
                                                    freq[2 * k + 1] * (double)y / (double)height) +
                               phase[3 * k + c]) +
                80.0 * unit(w[p % 4]) - 40.0;
            v = floor(v + 0.5);
            img[p] = (uint8_t)(v < 0.0 ? 0.0 : v > 255.0 ? 255.0 : v);
        }
        d->labels[s] = (int32_t)k;
    }
    free(freq);
    free(phase);
    d->n = n;
    d->channels = channels;
    d->height = height;
    d->width = width;
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    set_meta(d, "synthetic", classes, mean, std);
    return SAKD_OK;
}

sakd_status sakd_dataset_synthetic(sakd_dataset *d, size_t n, size_t channels, size_t height,
                                   size_t width, size_t classes, uint64_t seed)
{
    if (!d)
        return sakd_error(SAKD_ERR_ARG, "sakd_dataset_synthetic: no dataset given");
    return synthetic_range(d, 0, n, channels, height, width, classes, seed);
}

sakd_status sakd_dataset_synthetic_split(sakd_dataset *train, sakd_dataset *test, size_t n_train,
                                         size_t n_test, size_t channels, size_t height,
                                         size_t width, size_t classes, uint64_t seed)
{
    if (!train || !test)
        return sakd_error(SAKD_ERR_ARG, "sakd_dataset_synthetic_split: no dataset given");
    SAKD_TRY(synthetic_range(train, 0, n_train, channels, height, width, classes, seed));
    sakd_status st = synthetic_range(test, n_train, n_test, channels, height, width, classes, seed);
    if (st != SAKD_OK)
        sakd_dataset_free(train);
    return st;
}

/* ---- shuffles and batches ------------------------------------------------------------------- */

void sakd_dataset_shuffle(size_t *perm, size_t n, uint64_t seed, uint64_t epoch)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i-- > 1;) {
        uint32_t w[4];
        philox(seed, (uint32_t)i, (uint32_t)epoch, (uint32_t)(epoch >> 32), TAG_SHUFFLE, w);
        uint64_t r = (uint64_t)w[0] << 32 | w[1];
        size_t j = (size_t)(r % ((uint64_t)i + 1));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void sakd_dataset_augment_draw(uint64_t seed, uint64_t counter, size_t b, int crop_pad, int flip,
                               int *oy, int *ox, int *flipped)
{
    uint32_t w[4];
    philox(seed, (uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)b, TAG_AUGMENT, w);
    uint32_t range = crop_pad > 0 ? 2u * (uint32_t)crop_pad + 1u : 1u;
    *oy = (int)(w[0] % range);
    *ox = (int)(w[1] % range);
    *flipped = flip ? (int)(w[2] >> 31) : 0;
}

void sakd_dataset_batch(const sakd_dataset *d, const size_t *idx, size_t B, int crop_pad, int flip,
                        uint64_t seed, uint64_t counter, float *x, int32_t *y)
{
    sakd_dataset_batch_at(d, idx, B, 0, crop_pad, flip, seed, counter, x, y);
}

void sakd_dataset_batch_at(const sakd_dataset *d, const size_t *idx, size_t B, size_t first,
                           int crop_pad, int flip, uint64_t seed, uint64_t counter, float *x,
                           int32_t *y)
{
    const size_t C = d->channels, H = d->height, W = d->width, per = C * H * W;
    const long pad = crop_pad > 0 ? crop_pad : 0;
    float lut[3][256]; /* norm_c(p) for every pixel value */
    for (size_t c = 0; c < C && c < 3; c++)
        for (int p = 0; p < 256; p++)
            lut[c][p] = (float)(((double)p / 255.0 - (double)d->mean[c]) / (double)d->std[c]);
    for (size_t b = 0; b < B; b++) {
        const uint8_t *img = d->images + idx[b] * per;
        float *out = x + b * per;
        y[b] = d->labels[idx[b]];
        int oy, ox, flipped;
        sakd_dataset_augment_draw(seed, counter, first + b, crop_pad, flip, &oy, &ox, &flipped);
        for (size_t c = 0; c < C; c++) {
            const float *norm = lut[c < 3 ? c : 2];
            for (size_t i = 0; i < H; i++) {
                long sy = (long)i + oy - pad;
                float *row = out + (c * H + i) * W;
                if (sy < 0 || sy >= (long)H) {
                    for (size_t j = 0; j < W; j++)
                        row[j] = norm[0];
                    continue;
                }
                const uint8_t *src = img + (c * H + (size_t)sy) * W;
                for (size_t j = 0; j < W; j++) {
                    long sx = (long)(flipped ? W - 1 - j : j) + ox - pad;
                    row[j] = sx < 0 || sx >= (long)W ? norm[0] : norm[src[sx]];
                }
            }
        }
    }
}
