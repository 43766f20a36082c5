/* idx.c — reader of IDX image and label files (MNIST, Fashion-MNIST), plain or gzipped. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "data/readers.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

/* An open IDX file: exactly one of f (plain) or gz is set. */
typedef struct idx_stream {
    char path[PATH_MAX];
    FILE *f;
    gzFile gz;
} idx_stream;

static void stream_close(idx_stream *s)
{
    if (s->f)
        fclose(s->f);
    if (s->gz)
        gzclose(s->gz);
    s->f = NULL;
    s->gz = NULL;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Opens <dir>/<base>, or <dir>/<base>.gz when the plain file does not exist. */
static sakd_status stream_open(idx_stream *s, const char *dir, const char *base, const char *hint)
{
    memset(s, 0, sizeof *s);
    char gz_path[PATH_MAX];
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/%s", dir, base) >= sizeof s->path ||
        (size_t)snprintf(gz_path, sizeof gz_path, "%s.gz", s->path) >= sizeof gz_path)
        return sakd_error(SAKD_ERR_ARG, "dataset path too long: %s/%s", dir, base);
    if (file_exists(s->path)) {
        s->f = fopen(s->path, "rb");
        if (!s->f)
            return sakd_error(SAKD_ERR_IO, "cannot open %s: %s", s->path, strerror(errno));
        return SAKD_OK;
    }
    if (!file_exists(gz_path))
        return sakd_error(SAKD_ERR_NOT_FOUND, "missing dataset file %s (nor %s exists)%s%s",
                          s->path, gz_path, hint ? "; " : "", hint ? hint : "");
    memcpy(s->path, gz_path, sizeof s->path);
    errno = 0;
    s->gz = gzopen(s->path, "rb");
    if (!s->gz)
        return sakd_error(errno ? SAKD_ERR_IO : SAKD_ERR_NOMEM, "cannot open %s: %s", s->path,
                          errno ? strerror(errno) : "out of memory");
    gzbuffer(s->gz, 1u << 17);
    return SAKD_OK;
}

/* Reads up to n bytes; *got receives how many came (fewer only at the end of the data). A
 * gzip error (corrupt or cut-off stream, or a .gz file that is not gzip) is an error naming
 * the file. */
static sakd_status stream_read(idx_stream *s, void *buf, size_t n, size_t *got)
{
    *got = 0;
    unsigned char *p = buf;
    if (s->f) {
        *got = fread(p, 1, n, s->f);
        if (*got < n && ferror(s->f))
            return sakd_error(SAKD_ERR_IO, "error reading %s: %s", s->path, strerror(errno));
        return SAKD_OK;
    }
    while (*got < n) {
        size_t want = n - *got;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int r = gzread(s->gz, p + *got, chunk);
        int errnum;
        const char *msg = gzerror(s->gz, &errnum);
        if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            if (errnum == Z_BUF_ERROR)
                return sakd_error(SAKD_ERR_FORMAT,
                                  "corrupt gzip file %s: the compressed stream is cut off (%s)",
                                  s->path, msg);
            if (errnum == Z_ERRNO)
                return sakd_error(SAKD_ERR_IO, "error reading %s: %s", s->path, strerror(errno));
            return sakd_error(SAKD_ERR_FORMAT, "corrupt gzip file %s: %s", s->path, msg);
        }
        if (gzdirect(s->gz))
            return sakd_error(SAKD_ERR_FORMAT,
                              "corrupt gzip file %s: it does not start with a gzip header",
                              s->path);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return SAKD_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads an IDX header of `ndims` dimensions after checking the magic; dims receives them. */
static sakd_status read_header(idx_stream *s, uint32_t magic, int ndims, uint32_t *dims)
{
    unsigned char h[16];
    size_t want = 4 + 4 * (size_t)ndims, got;
    SAKD_TRY(stream_read(s, h, want, &got));
    if (got < 4)
        return sakd_error(SAKD_ERR_FORMAT,
                          "truncated IDX file %s: %zu bytes, too short for the 4-byte magic",
                          s->path, got);
    uint32_t found = be32(h);
    if (found != magic)
        return sakd_error(SAKD_ERR_FORMAT,
                          "%s is not an IDX %s file: wrong magic 0x%08x (expected 0x%08x)", s->path,
                          magic == IDX_IMAGES_MAGIC ? "image" : "label", found, magic);
    if (got < want)
        return sakd_error(SAKD_ERR_FORMAT,
                          "truncated IDX file %s: expected a %zu-byte header, the file ends at "
                          "byte offset %zu",
                          s->path, want, got);
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(h + 4 + 4 * i);
    return SAKD_OK;
}

/* Reads exactly `n` payload bytes after a header of `header` bytes into a malloc'ed *buf,
 * then requires the end of the data. The buffer grows as the data arrives, so that a header
 * announcing gigabytes in a short (or gzipped) file costs no more memory than the file holds. */
static sakd_status read_payload(idx_stream *s, unsigned char **buf, size_t n, size_t header,
                                const char *what)
{
    const size_t chunk = (size_t)1 << 24;
    size_t have = 0, cap = 0;
    *buf = NULL;
    while (have < n) {
        if (have == cap) {
            size_t grow = cap > chunk ? cap : chunk; /* doubling, 16 MiB at first */
            if (grow > n - cap)
                grow = n - cap;
            unsigned char *p = realloc(*buf, cap + grow);
            if (!p)
                return sakd_error(SAKD_ERR_NOMEM, "out of memory for the %zu bytes of %s", n,
                                  s->path);
            *buf = p;
            cap += grow;
        }
        size_t got;
        SAKD_TRY(stream_read(s, *buf + have, cap - have, &got));
        have += got;
        if (have < cap)
            break;
    }
    if (have < n)
        return sakd_error(SAKD_ERR_FORMAT,
                          "truncated IDX file %s: the header announces %s, %zu bytes after the "
                          "%zu-byte header (%zu in all), but the data ends at byte offset %zu",
                          s->path, what, n, header, header + n, header + have);
    unsigned char extra;
    size_t got;
    SAKD_TRY(stream_read(s, &extra, 1, &got));
    if (got)
        return sakd_error(SAKD_ERR_FORMAT,
                          "IDX file %s has data after byte offset %zu, the end of %s", s->path,
                          header + n, what);
    if (!*buf) /* n == 0 */
        *buf = malloc(1);
    return *buf ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory reading %s", s->path);
}

static sakd_status read_images(sakd_dataset *d, const char *dir, const char *base, const char *hint,
                               char *path, size_t path_size)
{
    idx_stream s;
    sakd_status st = stream_open(&s, dir, base, hint);
    snprintf(path, path_size, "%s", s.path);
    uint32_t dims[3];
    if (st == SAKD_OK)
        st = read_header(&s, IDX_IMAGES_MAGIC, 3, dims);
    if (st == SAKD_OK && (dims[1] == 0 || dims[2] == 0))
        st = sakd_error(SAKD_ERR_FORMAT, "IDX file %s has images of %u×%u pixels", s.path, dims[1],
                        dims[2]);
    if (st == SAKD_OK) {
        uint64_t pixels = (uint64_t)dims[1] * dims[2];
        if ((uint64_t)dims[0] > SIZE_MAX / pixels)
            st = sakd_error(SAKD_ERR_FORMAT, "IDX file %s announces too many images (%u of %u×%u)",
                            s.path, dims[0], dims[1], dims[2]);
    }
    if (st == SAKD_OK) {
        size_t bytes = (size_t)dims[0] * dims[1] * dims[2];
        char what[96];
        snprintf(what, sizeof what, "%u images of %u×%u", dims[0], dims[1], dims[2]);
        st = read_payload(&s, &d->images, bytes, 16, what);
    }
    stream_close(&s);
    if (st != SAKD_OK)
        return st;
    d->n = dims[0];
    d->channels = 1;
    d->height = dims[1];
    d->width = dims[2];
    return SAKD_OK;
}

static sakd_status read_labels(sakd_dataset *d, const char *dir, const char *base, const char *hint,
                               const char *images_path, size_t classes)
{
    idx_stream s;
    sakd_status st = stream_open(&s, dir, base, hint);
    uint32_t n = 0;
    if (st == SAKD_OK)
        st = read_header(&s, IDX_LABELS_MAGIC, 1, &n);
    if (st == SAKD_OK && n != d->n)
        st = sakd_error(SAKD_ERR_FORMAT, "%s holds %zu images but %s holds %u labels", images_path,
                        d->n, s.path, n);
    unsigned char *raw = NULL;
    if (st == SAKD_OK) {
        char what[64];
        snprintf(what, sizeof what, "%u labels", n);
        st = read_payload(&s, &raw, n, 8, what);
    }
    if (st == SAKD_OK) {
        d->labels = malloc(sizeof *d->labels * (n ? n : 1));
        if (!d->labels)
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory for the labels of %s", s.path);
    }
    for (size_t i = 0; st == SAKD_OK && i < n; i++) {
        if (raw[i] >= classes)
            st = sakd_error(SAKD_ERR_FORMAT,
                            "IDX label file %s: sample %zu (byte offset %zu) has label %u, not "
                            "below the %zu classes",
                            s.path, i, 8 + i, raw[i], classes);
        else
            d->labels[i] = raw[i];
    }
    free(raw);
    stream_close(&s);
    return st;
}

sakd_status sakd_data_idx_read(sakd_dataset *d, const char *dir, const char *prefix, size_t classes,
                               const char *hint)
{
    char images[64], labels[64], images_path[PATH_MAX];
    snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
    SAKD_TRY(read_images(d, dir, images, hint, images_path, sizeof images_path));
    return read_labels(d, dir, labels, hint, images_path, classes);
}
