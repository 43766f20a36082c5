/* h5.h — small HDF5 helpers: float32 datasets at paths, scalar attributes, checked reads, atomic
 * file creation, and the batch file of `sakd trace`. Errors name the file and the object. */
#ifndef SAKD_IO_H5_H
#define SAKD_IO_H5_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/status.h"

/* An open HDF5 file: the hid_t of the HDF5 C API (kept out of this header so that users of
 * libsakd need not see <hdf5.h>). Negative means none. */
typedef int64_t sakd_h5_file;

/* Opens an existing HDF5 file read-only. A missing file is SAKD_ERR_NOT_FOUND, a file that is
 * not HDF5 SAKD_ERR_FORMAT. */
sakd_status sakd_h5_open(const char *path, sakd_h5_file *file);

/* Creates a new HDF5 file, built in memory, and reserves a fresh temporary name beside `final`
 * (its name goes to `tmp`, `tmp_size` bytes; PATH_MAX is enough). Finish with sakd_h5_commit
 * (writes the image to `tmp`, fsyncs and moves it over `final`; a full disk leaves `final` as
 * it was) or sakd_h5_abort (discards it and removes `tmp`). */
sakd_status sakd_h5_create_temp(const char *final, sakd_h5_file *file, char *tmp, size_t tmp_size);
sakd_status sakd_h5_commit(sakd_h5_file file, const char *tmp, const char *final);
void sakd_h5_abort(sakd_h5_file file, const char *tmp);

/* Flushes and closes; the status reports a failed close (data not written). */
sakd_status sakd_h5_close(sakd_h5_file file);

/* Writes a float32 dataset at `path` (e.g. "/model/layer1.0.conv1.weight" or "/loss/ce"),
 * creating the groups above it. ndim 0 is a scalar dataset (shape may be NULL); ndim ≤ 5.
 * data: numel floats, row-major. */
sakd_status sakd_h5_write_float(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                                const float *data);
/* The same for an int32 dataset (labels). */
sakd_status sakd_h5_write_int(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                              const int32_t *data);

/* The same for an int64 dataset. */
sakd_status sakd_h5_write_int64(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                                const int64_t *data);
/* A dataset of variable-length UTF-8 strings (h5py reads them as bytes): numel strings,
 * row-major; ndim 0 is one string. */
sakd_status sakd_h5_write_strings(sakd_h5_file file, const char *path, int ndim,
                                  const size_t *shape, const char *const *strings);

/* 1 if `path` names an existing object (every link on the way exists), else 0. */
int sakd_h5_exists(sakd_h5_file file, const char *path);

/* Scalar attributes on the object at `obj` ("/" for the root; the group is created when
 * missing). Strings are written as variable-length UTF-8 (h5py reads them as str). */
sakd_status sakd_h5_set_attr_string(sakd_h5_file file, const char *obj, const char *name,
                                    const char *value);
sakd_status sakd_h5_set_attr_int(sakd_h5_file file, const char *obj, const char *name,
                                 long long value);
sakd_status sakd_h5_set_attr_double(sakd_h5_file file, const char *obj, const char *name,
                                    double value);

/* 1 if the object `obj` exists and has attribute `name`, else 0. */
int sakd_h5_has_attr(sakd_h5_file file, const char *obj, const char *name);

/* Reads a scalar (or one-element) attribute; a missing one is SAKD_ERR_NOT_FOUND, one of the
 * wrong kind SAKD_ERR_FORMAT. Strings may be variable- or fixed-length; *value is malloc'ed.
 * Integers convert from any integer type; doubles from any float or integer type. */
sakd_status sakd_h5_get_attr_string(sakd_h5_file file, const char *obj, const char *name,
                                    char **value);
sakd_status sakd_h5_get_attr_int(sakd_h5_file file, const char *obj, const char *name,
                                 long long *value);
sakd_status sakd_h5_get_attr_double(sakd_h5_file file, const char *obj, const char *name,
                                    double *value);

/* Element type of a dataset, as read by sakd. */
typedef enum sakd_h5_dtype {
    SAKD_H5_OTHER = 0, /* anything else (strings, compounds, unsigned, float16, ...) */
    SAKD_H5_FLOAT32,
    SAKD_H5_FLOAT64,
    SAKD_H5_INT32,
    SAKD_H5_INT64,
} sakd_h5_dtype;
const char *sakd_h5_dtype_name(sakd_h5_dtype dtype);

/* Rank, shape (up to `max_ndim` extents; a larger rank is SAKD_ERR_FORMAT) and element type of
 * the dataset at `path`; a missing one is SAKD_ERR_NOT_FOUND. */
sakd_status sakd_h5_dataset_info(sakd_h5_file file, const char *path, int max_ndim, int *ndim,
                                 size_t *shape, sakd_h5_dtype *dtype);

/* Reads the float32 dataset at `path` into `out` (numel floats), requiring exactly this rank
 * and shape; the error names the file, the dataset, and the expected and found shape or
 * element type. */
sakd_status sakd_h5_read_float(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                               float *out);

/* Calls fn(name, user) for every dataset below the group `group`, in name order, with `name`
 * relative to the group ("fc.weight", "layer1.0.conv1.weight/momentum"); stops at the first
 * status that is not SAKD_OK and returns it. */
typedef sakd_status (*sakd_h5_visit_fn)(const char *name, void *user);
sakd_status sakd_h5_visit_datasets(sakd_h5_file file, const char *group, sakd_h5_visit_fn fn,
                                   void *user);

/* Formats a shape as "[2, 3, 4]" (or "[]" for a scalar) into buf. */
const char *sakd_h5_shape_str(int ndim, const size_t *shape, char *buf, size_t size);

/* The batch file of `sakd trace`: /x float32 [B, C, H, W] and /y int32 or int64 [B].
 * *x (B·C·H·W floats) and *y (B labels) are malloc'ed; shape[4] receives B, C, H, W and *n = B.
 * Errors name the file and the dataset (missing, wrong rank, wrong type, count mismatch, a
 * label outside the int32 range). */
sakd_status sakd_batch_file_read(const char *path, float **x, size_t shape[4], int32_t **y,
                                 size_t *n);
/* Writes such a batch file atomically (y as int32). */
sakd_status sakd_batch_file_write(const char *path, const float *x, const size_t shape[4],
                                  const int32_t *y);

#endif
