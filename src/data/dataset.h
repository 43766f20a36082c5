/* dataset.h — image datasets in host memory (IDX, CIFAR binary, synthetic), epoch shuffles and
 * normalized, augmented float batches. */
#ifndef SAKD_DATA_DATASET_H
#define SAKD_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/status.h"

/* The default folders of the IDX datasets (Debian's dataset-fashion-mnist package installs the
 * first). */
#define SAKD_DATASET_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SAKD_DATASET_MNIST_DIR "/usr/share/datasets/mnist"

typedef struct sakd_dataset {
    char name[32]; /* "fashion-mnist", "mnist", "cifar10", "cifar100", or "synthetic" */
    size_t n, channels, height, width, classes;
    uint8_t *images;       /* [n, C, H, W] raw pixels 0..255 (CIFAR is already CHW) */
    int32_t *labels;       /* [n] in [0, classes) */
    float mean[3], std[3]; /* per-channel normalization: x/255 then (x - mean)/std */
} sakd_dataset;

/* Loads the train and test splits of dataset `name` ("fashion-mnist", "mnist", "cifar10",
 * "cifar100") from `dir`. NULL or "" = the default folder for the IDX datasets
 * (SAKD_DATASET_*_DIR); CIFAR needs a dir: the folder holding data_batch_1..5.bin and
 * test_batch.bin (CIFAR-10) or train.bin and test.bin (CIFAR-100), or a folder with the
 * subfolder cifar-10-batches-bin / cifar-100-binary. IDX files may be gzipped (`.gz`); the
 * plain file is read when both exist. CIFAR-100 uses the fine labels (100 classes).
 * Every file is validated whole; a limit of 0 keeps all samples, else the first N (N larger
 * than the split keeps all). On error both splits are left empty (zeroed) and the detail
 * names the file (and byte offset or sample index where it applies). */
sakd_status sakd_dataset_load(sakd_dataset *train, sakd_dataset *test, const char *name,
                              const char *dir, size_t train_limit, size_t test_limit);

/* Frees the pixels and labels and zeroes *d; NULL or an empty dataset is fine. */
void sakd_dataset_free(sakd_dataset *d);

/* A learnable synthetic dataset: n images of C×H×W (C ≤ 3) with `classes` classes. Sample i
 * has label i % classes and is its class's smooth pattern (a 2-D sinusoid whose frequencies
 * and per-channel phases come from `seed`) with a per-sample contrast and brightness jitter
 * and per-pixel noise, all a pure function of (seed, i). mean 0.5, std 0.25 per channel. */
sakd_status sakd_dataset_synthetic(sakd_dataset *d, size_t n, size_t channels, size_t height,
                                   size_t width, size_t classes, uint64_t seed);

/* Train and test splits of the same synthetic task: train = samples [0, n_train), test =
 * samples [n_train, n_train + n_test) of the stream sakd_dataset_synthetic draws from, so
 * both share the class patterns and no sample. */
sakd_status sakd_dataset_synthetic_split(sakd_dataset *train, sakd_dataset *test, size_t n_train,
                                         size_t n_test, size_t channels, size_t height,
                                         size_t width, size_t classes, uint64_t seed);

/* Epoch permutation: perm[0..n) a uniform shuffle of 0..n-1 (Fisher–Yates; step i draws
 * j = w % (i + 1) from a 64-bit Philox word w with key = seed and counter = (i, epoch,
 * "SHUF")), a pure function of (seed, epoch). */
void sakd_dataset_shuffle(size_t *perm, size_t n, uint64_t seed, uint64_t epoch);

/* The augmentation of batch row b: crop offsets oy, ox in [0, 2·crop_pad] and the flip flag,
 * from the Philox block with key = seed and counter = (counter, b, "AUGM"):
 * oy = w0 % (2·pad + 1), ox = w1 % (2·pad + 1), flipped = flip && (w2 >> 31).
 * crop_pad ≤ 0 gives oy = ox = 0. */
void sakd_dataset_augment_draw(uint64_t seed, uint64_t counter, size_t b, int crop_pad, int flip,
                               int *oy, int *ox, int *flipped);

/* Builds a normalized float batch x [B, C, H, W] and labels y [B] from samples idx[0..B)
 * (each < d->n). Row b is image idx[b] padded with `crop_pad` px of raw pixel 0 (black, as
 * torchvision pads before ToTensor/Normalize), cropped back to H×W at the offset from
 * sakd_dataset_augment_draw, then mirrored left-right when flipped:
 *   x[b, c, i, j] = norm_c(P[c, i + oy, j' + ox]),  j' = flipped ? W - 1 - j : j,
 * P the padded image, norm_c(p) = (float)((p / 255.0 - mean[c]) / std[c]) computed in double.
 * crop_pad = 0 and flip = 0: no augmentation (test set). The same call gives the same batch. */
void sakd_dataset_batch(const sakd_dataset *d, const size_t *idx, size_t B, int crop_pad, int flip,
                        uint64_t seed, uint64_t counter, float *x, int32_t *y);

/* The same for rows first … first + B − 1 of a larger batch (one rank's share of a global
 * batch): row b is drawn as row first + b (sakd_dataset_augment_draw), so the shares of all ranks
 * together equal the whole batch of one call. */
void sakd_dataset_batch_at(const sakd_dataset *d, const size_t *idx, size_t B, size_t first,
                           int crop_pad, int flip, uint64_t seed, uint64_t counter, float *x,
                           int32_t *y);

#endif
