/* readers.h — the file readers behind sakd_dataset_load (internal to src/data). */
#ifndef SAKD_DATA_READERS_H
#define SAKD_DATA_READERS_H

#include "data/dataset.h"

/* Reads one IDX split, `<dir>/<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`
 * (each plain or `.gz`), into d's n, channels (1), height, width, images and labels; labels
 * must be < classes. `hint` (may be NULL) is appended to a missing-file message. */
sakd_status sakd_data_idx_read(sakd_dataset *d, const char *dir, const char *prefix, size_t classes,
                               const char *hint);

/* Reads the CIFAR binary files `files[0..nfiles)` in `dir` into d's n, channels (3), height,
 * width (32), images and labels. cifar100: records carry a coarse and a fine label byte, the
 * fine one is used; classes is 10 or 100. */
sakd_status sakd_data_cifar_read(sakd_dataset *d, const char *dir, const char *const *files,
                                 size_t nfiles, int cifar100);

#endif
