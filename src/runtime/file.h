/* file.h — whole-file reads, atomic writes (temp, fsync, rename) and directory creation. */
#ifndef SAKD_RUNTIME_FILE_H
#define SAKD_RUNTIME_FILE_H

#include <stddef.h>

#include "runtime/status.h"

/* Reads all of `path` into a malloc'ed buffer (NUL-terminated, the NUL not
 * counted in *size). */
sakd_status sakd_file_read(const char *path, char **data, size_t *size);

/* Writes `size` bytes to `path` so that a crash leaves either the old file
 * or the complete new one: temp file in the same directory, fsync, rename,
 * fsync of the directory. */
sakd_status sakd_file_write_atomic(const char *path, const void *data, size_t size);

/* A fresh, unique temporary name beside `final` ("<final>.tmp.XXXXXX"), created empty
 * with mode 0600 so that no one else takes it. For files written by another library (HDF5):
 * write to `tmp`, close it, then sakd_file_commit(tmp, final); remove `tmp` on failure.
 * `size` must hold the name (PATH_MAX is always enough). */
sakd_status sakd_file_temp_name(const char *final, char *tmp, size_t size);

/* Moves a completely written `tmp` over `final` durably: chmod 0644, fsync of `tmp`, rename,
 * fsync of the directory. A crash leaves the old `final` or the new one. On failure `tmp` is
 * removed and `final` is left as it was. */
sakd_status sakd_file_commit(const char *tmp, const char *final);

/* Writes `size` bytes into the temporary file `tmp` (from sakd_file_temp_name), then commits
 * it over `final`. On failure (a full disk, a file-size limit) `tmp` is removed and `final` is
 * left as it was. */
sakd_status sakd_file_fill_and_commit(const char *tmp, const char *final, const void *data,
                                      size_t size);

/* Takes an exclusive advisory lock (flock) on `path`, creating it, without waiting: *fd is the
 * open descriptor holding it (close it to release). A lock held by another process is an
 * SAKD_ERR_IO error naming `what` and `path`. */
sakd_status sakd_file_lock(const char *path, const char *what, int *fd);

/* Removes the temporary files ("<name>.tmp.XXXXXX", from sakd_file_temp_name) that a process
 * killed between creating and committing them left in `dir`; *removed (may be NULL) counts
 * them. Call it only while holding the lock that guards the directory's writers. */
sakd_status sakd_file_remove_temps(const char *dir, int *removed);

/* mkdir -p with mode 0755; an existing directory is fine. */
sakd_status sakd_mkdir_p(const char *path);

#endif
