/* cifar.c — reader of the CIFAR-10 and CIFAR-100 binary versions (label bytes + 3072 CHW
 * pixels per record). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/readers.h"

#define CIFAR_PIXELS 3072 /* 3 × 32 × 32, channel-major */

/* Pass 1: every file exists and holds whole records of `record` bytes; their number into
 * *total. */
static sakd_status count_records(const char *dir, const char *const *files, size_t nfiles,
                                 size_t record, size_t label_bytes, size_t *total)
{
    char path[PATH_MAX];
    *total = 0;
    for (size_t f = 0; f < nfiles; f++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, files[f]) >= sizeof path)
            return sakd_error(SAKD_ERR_ARG, "dataset path too long: %s/%s", dir, files[f]);
        struct stat st;
        if (stat(path, &st) != 0)
            return sakd_error(errno == ENOENT ? SAKD_ERR_NOT_FOUND : SAKD_ERR_IO,
                              "missing dataset file %s: %s", path, strerror(errno));
        size_t size = (size_t)st.st_size;
        if (size == 0 || size % record != 0)
            return sakd_error(SAKD_ERR_FORMAT,
                              "CIFAR file %s: size %zu bytes is not a positive multiple of the "
                              "record size %zu (%zu label byte%s + %d pixels)",
                              path, size, record, label_bytes, label_bytes > 1 ? "s" : "",
                              CIFAR_PIXELS);
        *total += size / record;
    }
    return SAKD_OK;
}

/* Checks record r of `path` (at rec) and stores it as image *n of d (of `total` at most). */
static sakd_status take_record(sakd_dataset *d, const char *path, const unsigned char *rec,
                               size_t r, int cifar100, size_t total, size_t *n)
{
    const size_t label_bytes = cifar100 ? 2 : 1, record = label_bytes + CIFAR_PIXELS;
    const size_t classes = cifar100 ? 100 : 10;
    if (*n == total)
        return sakd_error(SAKD_ERR_IO, "%s grew while it was read", path);
    if (cifar100 && rec[0] >= 20)
        return sakd_error(SAKD_ERR_FORMAT,
                          "CIFAR-100 file %s: record %zu (byte offset %zu) has coarse "
                          "label %u, not below 20",
                          path, r, r * record, rec[0]);
    unsigned label = rec[label_bytes - 1];
    if (label >= classes)
        return sakd_error(SAKD_ERR_FORMAT,
                          "CIFAR file %s: record %zu (byte offset %zu) has label %u, "
                          "not below the %zu classes",
                          path, r, r * record + label_bytes - 1, label, classes);
    d->labels[*n] = (int32_t)label;
    memcpy(d->images + *n * CIFAR_PIXELS, rec + label_bytes, CIFAR_PIXELS);
    (*n)++;
    return SAKD_OK;
}

/* Pass 2 for one file: reads its records in chunks through buf (1024 records) into d from
 * image *n on, checking each label. */
static sakd_status read_records(sakd_dataset *d, const char *path, int cifar100, unsigned char *buf,
                                size_t total, size_t *n)
{
    const size_t record = (cifar100 ? 2 : 1) + CIFAR_PIXELS;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sakd_error(SAKD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    sakd_status st = SAKD_OK;
    size_t r = 0; /* record index within this file */
    for (;;) {
        size_t got = fread(buf, 1, record * 1024, fp);
        if (got % record != 0 || (got == 0 && ferror(fp))) {
            st = sakd_error(SAKD_ERR_IO, "error reading %s at byte offset %zu%s%s", path,
                            r * record + got, ferror(fp) ? ": " : " (file changed?)",
                            ferror(fp) ? strerror(errno) : "");
            break;
        }
        if (got == 0)
            break;
        for (size_t k = 0; k < got / record && st == SAKD_OK; k++, r++)
            st = take_record(d, path, buf + k * record, r, cifar100, total, n);
        if (st != SAKD_OK)
            break;
    }
    fclose(fp);
    return st;
}

sakd_status sakd_data_cifar_read(sakd_dataset *d, const char *dir, const char *const *files,
                                 size_t nfiles, int cifar100)
{
    const size_t label_bytes = cifar100 ? 2 : 1, record = label_bytes + CIFAR_PIXELS;
    char path[PATH_MAX];
    size_t total;
    SAKD_TRY(count_records(dir, files, nfiles, record, label_bytes, &total));
    d->images = malloc(total * CIFAR_PIXELS);
    d->labels = malloc(total * sizeof *d->labels);
    unsigned char *buf = malloc(record * 1024);
    sakd_status st = SAKD_OK;
    if (!d->images || !d->labels || !buf)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory for %zu CIFAR records in %s", total, dir);
    size_t n = 0;
    for (size_t f = 0; st == SAKD_OK && f < nfiles; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        st = read_records(d, path, cifar100, buf, total, &n);
    }
    free(buf);
    if (st == SAKD_OK && n != total)
        st = sakd_error(SAKD_ERR_IO, "CIFAR files in %s shrank while they were read", dir);
    if (st != SAKD_OK)
        return st;
    d->n = n;
    d->channels = 3;
    d->height = 32;
    d->width = 32;
    return SAKD_OK;
}
