/* fuzz_targets.h — the entry points fed by the libFuzzer harnesses (make fuzz, clang) and by
 * the regression runner under make check (gcc): one per file format sakd reads. */
#ifndef SAKD_TESTS_FUZZ_FUZZ_TARGETS_H
#define SAKD_TESTS_FUZZ_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Parses `data` as input of one format; returns 0 whether the input was accepted or rejected.
 * A crash, a sanitizer report or abort() (an internal check failed) is a finding. */
typedef int (*sakd_fuzz_fn)(const uint8_t *data, size_t size);

typedef struct sakd_fuzz_target {
    const char *name; /* also the corpus directory: tests/fuzz/corpus/<name>/ */
    sakd_fuzz_fn run;
} sakd_fuzz_target;

/* config: an INI config (src/train/config.c); accepted ones must round-trip through the
 *   resolved INI text. (A sweep-file target goes here once the sweep parser exists.)
 * idx: byte 0 selects plain (even) or gzip (odd) files, bytes 1..4 (little-endian) the length
 *   of the image file, then the image file, then the label file.
 * cifar: byte 0 selects CIFAR-10 (even) or CIFAR-100 (odd), the rest is one binary file.
 * checkpoint: an HDF5 checkpoint, every tensor and the meta read back.
 * batch: an HDF5 batch file for `sakd trace`.
 * sweep: a sweep file (src/harness/sweep.c) beside a valid teacher.ini, plain and smoke; an
 *   accepted sweep must expand consistently (run count, indices, ids found again). */
extern const sakd_fuzz_target sakd_fuzz_targets[];
extern const size_t sakd_fuzz_n_targets;

const sakd_fuzz_target *sakd_fuzz_find(const char *name);

/* A private scratch directory for the file-based readers (created on first use). */
const char *sakd_fuzz_scratch(void);

#endif
