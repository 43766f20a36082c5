/* file.h — whole-file reads, atomic writes (temp, fsync, rename) and directory creation. */
#ifndef SAKD_IO_FILE_H
#define SAKD_IO_FILE_H

#include <stddef.h>

#include "runtime/status.h"

/* Reads all of `path` into a malloc'ed buffer (NUL-terminated, the NUL not
 * counted in *size). */
sakd_status sakd_file_read(const char *path, char **data, size_t *size);

/* Writes `size` bytes to `path` so that a crash leaves either the old file
 * or the complete new one: temp file in the same directory, fsync, rename,
 * fsync of the directory. */
sakd_status sakd_file_write_atomic(const char *path, const void *data, size_t size);

/* mkdir -p with mode 0755; an existing directory is fine. */
sakd_status sakd_mkdir_p(const char *path);

#endif
