/* meta.h — the key = value files of a run directory: meta.ini (provenance and status) and
 * report.ini (the metrics `sakd train` reports), read and written atomically. */
#ifndef SAKD_HARNESS_META_H
#define SAKD_HARNESS_META_H

#include <stddef.h>

#include "runtime/status.h"
#include "train/train.h"

/* An ordered list of key = value pairs. Values are single lines (line breaks become spaces). */
typedef struct sakd_meta {
    char **keys;   /* [count] */
    char **values; /* [count] */
    size_t count, cap;
} sakd_meta;

void sakd_meta_init(sakd_meta *m);
void sakd_meta_free(sakd_meta *m);
/* Sets `key` (replacing an earlier value, keeping its place). */
sakd_status sakd_meta_set(sakd_meta *m, const char *key, const char *value);
sakd_status sakd_meta_setf(sakd_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The value of `key`, NULL when absent. */
const char *sakd_meta_get(const sakd_meta *m, const char *key);
/* The value of `key` as a number; NAN when absent or not a number. */
double sakd_meta_number(const sakd_meta *m, const char *key);

/* Reads a file of "key = value" lines ('#' starts a comment line). A line of another shape is
 * SAKD_ERR_FORMAT naming path:line; a missing file SAKD_ERR_NOT_FOUND. */
sakd_status sakd_meta_read(sakd_meta *m, const char *path);
/* Writes the pairs atomically (temp file, fsync, rename), `title` as a comment on top. */
sakd_status sakd_meta_write(const sakd_meta *m, const char *path, const char *title);

/* `git describe --always --dirty` of the source tree, taken when the library was built ("" when
 * it was not built from a git checkout). */
void sakd_meta_git_describe(char *buf, size_t size);

/* The time now, UTC, ISO 8601 ("2024-05-01T12:00:00Z"). */
void sakd_meta_now(char *buf, size_t size);

/* Provenance of a run on the device `device_spec` selects (NULL: the default): sakd version,
 * git describe --dirty of the source tree the binary was built from, compiler, CLBlast and
 * HDF5 versions, host, OpenCL platform, device and driver. A missing OpenCL platform is
 * recorded, not an error. */
sakd_status sakd_meta_provenance(sakd_meta *m, const char *device_spec);

/* The metrics of a finished run (report.ini): accuracies, loss terms, firing rates (mean and
 * per layer as layer.<name>), SOPs, energy, images/s, wall time. */
sakd_status sakd_meta_from_report(sakd_meta *m, const sakd_report *r);

#endif
