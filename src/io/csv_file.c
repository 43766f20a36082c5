/* csv_file.c — whole-row CSV appends, rewritten atomically (csv_file.h). */
#include "io/csv_file.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/file.h"

static void write_row(FILE *f, const char *const *cells, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++) {
        csv_fwrite(f, cells[c], strlen(cells[c]));
        fputc(c + 1 < ncols ? ',' : '\n', f);
    }
}

sakd_status sakd_csv_append(const char *path, const char *const *header, size_t ncols,
                            const char *const *cells, size_t nrows, long keep_rows)
{
    char *old = NULL, *hdr = NULL, *buf = NULL;
    size_t old_size = 0, hsize = 0, size = 0;
    if (keep_rows != 0 && sakd_file_read(path, &old, &old_size) != SAKD_OK) {
        sakd_error_clear();
        old = NULL;
        old_size = 0;
    }
    FILE *h = open_memstream(&hdr, &hsize);
    if (h) {
        write_row(h, header, ncols);
        fclose(h);
    }
    /* The kept part: the header line and keep_rows rows after it (all of them when < 0). */
    size_t keep = old_size;
    if (keep_rows >= 0) {
        size_t line = 0;
        keep = 0;
        for (size_t i = 0; i < old_size; i++)
            if (old[i] == '\n' && line++ <= (size_t)keep_rows)
                keep = i + 1;
    }
    sakd_status st = hdr ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory writing %s", path);
    if (st == SAKD_OK && keep && (keep < hsize || memcmp(old, hdr, hsize) != 0))
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s has other columns than this version of sakd writes; move it aside "
                        "(or write to another file)",
                        path);
    FILE *m = st == SAKD_OK ? open_memstream(&buf, &size) : NULL;
    if (st == SAKD_OK && !m)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory writing %s", path);
    if (m) {
        if (keep)
            fwrite(old, 1, keep, m);
        else
            fwrite(hdr, 1, hsize, m);
        for (size_t r = 0; r < nrows; r++)
            write_row(m, cells + r * ncols, ncols);
        fclose(m);
        st = sakd_file_write_atomic(path, buf, size);
    }
    free(buf);
    free(hdr);
    free(old);
    return st;
}
