/* csv_file.h — CSV files that grow by whole rows: the run log (log.csv) and the benchmark tables
 * (results/bench/<device>.csv) share one writer, fields quoted by libcsv, the file rewritten
 * atomically so that a crash leaves the old file or the new one, never half a row. */
#ifndef SAKD_IO_CSV_FILE_H
#define SAKD_IO_CSV_FILE_H

#include <stddef.h>

#include "runtime/status.h"

/* Appends `nrows` rows of `ncols` cells (cells[r·ncols + c]) to `path` under `header`.
 * keep_rows < 0 keeps every row the file has; keep_rows >= 0 keeps only its first keep_rows
 * rows (a resumed run rewrites the rows of what it does again). A file that is new, or keeps
 * no rows, gets the header; a file whose rows are kept must have this very header, else
 * SAKD_ERR_FORMAT naming the file (nothing is written). */
sakd_status sakd_csv_append(const char *path, const char *const *header, size_t ncols,
                            const char *const *cells, size_t nrows, long keep_rows);

#endif
