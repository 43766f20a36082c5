/* h5.c — small HDF5 helpers: datasets at paths, scalar attributes, checked reads, batch files.
 * HDF5's own error printing is switched off around every call; our messages name the file and
 * the object instead, with HDF5's most specific reason appended where it helps. */
#include "io/h5.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "runtime/file.h"

_Static_assert(sizeof(hid_t) == sizeof(sakd_h5_file), "sakd_h5_file must hold a hid_t");

#define H5_MAX_NDIM 32 /* the largest rank HDF5 allows */

/* ---- quiet error stack ----------------------------------------------------------------- */

typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static h5_quiet quiet_begin(void)
{
    h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
    return q;
}

static void quiet_end(h5_quiet q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
}

/* Runs `expr` (a sakd_status) with HDF5's error printing off and returns its status. */
#define QUIETLY(expr)                                                                              \
    do {                                                                                           \
        h5_quiet q_ = quiet_begin();                                                               \
        sakd_status st_ = (expr);                                                                  \
        quiet_end(q_);                                                                             \
        return st_;                                                                                \
    } while (0)

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0)
        H5Eget_msg(e->min_num, NULL, data, 128);
    return 0;
}

/* HDF5's most specific reason for the last failure, e.g. "object not found". */
static const char *h5_reason(char buf[128])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, buf);
    if (!buf[0])
        snprintf(buf, 128, "unknown HDF5 error");
    return buf;
}

/* The file's name for messages. */
typedef struct fname {
    char s[PATH_MAX];
} fname;

static fname file_name(hid_t f)
{
    fname n;
    if (H5Fget_name(f, n.s, sizeof n.s) < 0)
        snprintf(n.s, sizeof n.s, "(HDF5 file)");
    return n;
}

#define FNAME(f) (file_name(f).s)

/* ---- shapes and types ------------------------------------------------------------------ */

const char *sakd_h5_shape_str(int ndim, const size_t *shape, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %zu" : "%zu", shape[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
    return buf;
}

const char *sakd_h5_dtype_name(sakd_h5_dtype dtype)
{
    switch (dtype) {
    case SAKD_H5_FLOAT32: return "float32";
    case SAKD_H5_FLOAT64: return "float64";
    case SAKD_H5_INT32: return "int32";
    case SAKD_H5_INT64: return "int64";
    default: return "an unsupported type";
    }
}

static sakd_h5_dtype classify(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT)
        return size == 4 ? SAKD_H5_FLOAT32 : size == 8 ? SAKD_H5_FLOAT64 : SAKD_H5_OTHER;
    if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2)
        return size == 4 ? SAKD_H5_INT32 : size == 8 ? SAKD_H5_INT64 : SAKD_H5_OTHER;
    return SAKD_H5_OTHER;
}

/* ---- files ----------------------------------------------------------------------------- */

static sakd_status open_impl(const char *path, sakd_h5_file *file)
{
    *file = -1;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sakd_error(errno == ENOENT ? SAKD_ERR_NOT_FOUND : SAKD_ERR_IO, "cannot open %s: %s",
                          path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sakd_error(SAKD_ERR_IO, "cannot open %s: not a regular file", path);
    if (access(path, R_OK) != 0)
        return sakd_error(SAKD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    if (is == 0)
        return sakd_error(SAKD_ERR_FORMAT, "%s is not an HDF5 file", path);
    char why[128];
    hid_t f = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (f < 0)
        return sakd_error(SAKD_ERR_FORMAT, "cannot open %s as HDF5: %s", path, h5_reason(why));
    *file = f;
    return SAKD_OK;
}

sakd_status sakd_h5_open(const char *path, sakd_h5_file *file)
{
    if (!path || !file)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_open: NULL argument");
    QUIETLY(open_impl(path, file));
}

static sakd_status create_temp_impl(const char *final, sakd_h5_file *file, char *tmp,
                                    size_t tmp_size)
{
    *file = -1;
    SAKD_TRY(sakd_file_temp_name(final, tmp, tmp_size));
    /* The file is built in memory (HDF5's core driver, no backing store) and written out by
     * sakd_h5_commit in one go: HDF5 itself never writes to disk, so a full disk is one failed
     * write() of ours, not a half-flushed HDF5 file that HDF5 cannot close again (HDF5 1.10
     * then crashes at exit). A strong close degree: closing the file closes every object still
     * open in it. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) {
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    }
    hid_t f = fapl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0) {
        char why[128];
        sakd_status st = sakd_error(SAKD_ERR_IO, "cannot create HDF5 file %s (for %s): %s", tmp,
                                    final, h5_reason(why));
        unlink(tmp);
        return st;
    }
    *file = f;
    return SAKD_OK;
}

sakd_status sakd_h5_create_temp(const char *final, sakd_h5_file *file, char *tmp, size_t tmp_size)
{
    if (!final || !file || !tmp)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_create_temp: NULL argument");
    QUIETLY(create_temp_impl(final, file, tmp, tmp_size));
}

static sakd_status close_impl(hid_t f)
{
    char why[128];
    fname n = file_name(f);
    if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0) {
        sakd_status st = sakd_error(SAKD_ERR_IO, "cannot flush %s: %s", n.s, h5_reason(why));
        H5Fclose(f);
        return st;
    }
    if (H5Fclose(f) < 0)
        return sakd_error(SAKD_ERR_IO, "cannot close %s: %s", n.s, h5_reason(why));
    return SAKD_OK;
}

sakd_status sakd_h5_close(sakd_h5_file file)
{
    if (file < 0)
        return SAKD_OK;
    QUIETLY(close_impl(file));
}

/* The in-memory image of `f` (malloc'ed), then closes `f`. */
static sakd_status image_impl(hid_t f, void **image, size_t *size)
{
    char why[128];
    fname n = file_name(f);
    *image = NULL;
    ssize_t len = H5Fflush(f, H5F_SCOPE_LOCAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    if (len > 0 && !(*image = malloc((size_t)len))) {
        H5Fclose(f);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the %zd bytes of %s", len, n.s);
    }
    if (len <= 0 || H5Fget_file_image(f, *image, (size_t)len) != len) {
        sakd_status st = sakd_error(SAKD_ERR_IO, "cannot build %s: %s", n.s, h5_reason(why));
        free(*image);
        *image = NULL;
        H5Fclose(f);
        return st;
    }
    *size = (size_t)len;
    if (H5Fclose(f) < 0) {
        free(*image);
        *image = NULL;
        return sakd_error(SAKD_ERR_IO, "cannot close %s: %s", n.s, h5_reason(why));
    }
    return SAKD_OK;
}

static sakd_status image_quietly(hid_t f, void **image, size_t *size)
{
    QUIETLY(image_impl(f, image, size));
}

sakd_status sakd_h5_commit(sakd_h5_file file, const char *tmp, const char *final)
{
    void *image;
    size_t size = 0;
    sakd_status st = image_quietly(file, &image, &size);
    if (st != SAKD_OK) {
        unlink(tmp);
        return sakd_error(st, "%s; %s is kept as it was", sakd_error_detail(), final);
    }
    st = sakd_file_fill_and_commit(tmp, final, image, size);
    free(image);
    return st;
}

void sakd_h5_abort(sakd_h5_file file, const char *tmp)
{
    if (file >= 0) {
        h5_quiet q = quiet_begin();
        H5Fclose(file);
        quiet_end(q);
    }
    if (tmp && *tmp)
        unlink(tmp);
}

/* ---- paths ----------------------------------------------------------------------------- */

static int exists_impl(hid_t f, const char *path)
{
    if (!path || path[0] != '/')
        return 0;
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (i == 1 && buf[i] == '\0')
            break; /* "/" */
        char saved = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(f, buf, H5P_DEFAULT);
        buf[i] = saved;
        if (e <= 0)
            return 0;
    }
    return H5Oexists_by_name(f, path, H5P_DEFAULT) > 0;
}

int sakd_h5_exists(sakd_h5_file file, const char *path)
{
    h5_quiet q = quiet_begin();
    int e = exists_impl(file, path);
    quiet_end(q);
    return e;
}

static sakd_status check_path(const char *fn, const char *path)
{
    if (!path || path[0] != '/' || strstr(path, "//") || (path[1] && path[strlen(path) - 1] == '/'))
        return sakd_error(SAKD_ERR_ARG, "%s: bad HDF5 path '%s' (absolute, no empty parts)", fn,
                          path ? path : "(null)");
    return SAKD_OK;
}

/* ---- datasets -------------------------------------------------------------------------- */

static sakd_status write_impl(hid_t f, const char *path, int ndim, const size_t *shape,
                              hid_t filetype, hid_t memtype, const void *data)
{
    hsize_t dims[5] = {0};
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        numel *= shape[i];
    }
    if (numel > 0 && !data)
        return sakd_error(SAKD_ERR_ARG, "%s: dataset %s: no data", FNAME(f), path);
    char why[128];
    if (exists_impl(f, path))
        return sakd_error(SAKD_ERR_ARG, "%s: %s already exists", FNAME(f), path);
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dset = -1;
    if (space >= 0 && lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        dset = H5Dcreate2(f, path, filetype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    sakd_status st = SAKD_OK;
    if (dset < 0)
        st = sakd_error(SAKD_ERR_IO, "%s: cannot create dataset %s: %s", FNAME(f), path,
                        h5_reason(why));
    else if (numel > 0 && H5Dwrite(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = sakd_error(SAKD_ERR_IO, "%s: cannot write dataset %s: %s", FNAME(f), path,
                        h5_reason(why));
    if (dset >= 0)
        H5Dclose(dset);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static sakd_status check_write_args(const char *fn, sakd_h5_file file, const char *path, int ndim,
                                    const size_t *shape)
{
    if (file < 0)
        return sakd_error(SAKD_ERR_ARG, "%s: no open file", fn);
    SAKD_TRY(check_path(fn, path));
    if (ndim < 0 || ndim > 5 || (ndim > 0 && !shape))
        return sakd_error(SAKD_ERR_ARG, "%s: dataset %s: rank %d (0 to 5 with a shape)", fn, path,
                          ndim);
    return SAKD_OK;
}

sakd_status sakd_h5_write_float(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                                const float *data)
{
    SAKD_TRY(check_write_args("sakd_h5_write_float", file, path, ndim, shape));
    QUIETLY(write_impl(file, path, ndim, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data));
}

sakd_status sakd_h5_write_int(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                              const int32_t *data)
{
    SAKD_TRY(check_write_args("sakd_h5_write_int", file, path, ndim, shape));
    QUIETLY(write_impl(file, path, ndim, shape, H5T_STD_I32LE, H5T_NATIVE_INT32, data));
}

sakd_status sakd_h5_write_int64(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                                const int64_t *data)
{
    SAKD_TRY(check_write_args("sakd_h5_write_int64", file, path, ndim, shape));
    QUIETLY(write_impl(file, path, ndim, shape, H5T_STD_I64LE, H5T_NATIVE_INT64, data));
}

static sakd_status write_strings_impl(hid_t f, const char *path, int ndim, const size_t *shape,
                                      const char *const *strings)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        if (type >= 0)
            H5Tclose(type);
        char why[128];
        return sakd_error(SAKD_ERR_IO, "%s: cannot make a string type for %s: %s", FNAME(f), path,
                          h5_reason(why));
    }
    sakd_status st = write_impl(f, path, ndim, shape, type, type, strings);
    H5Tclose(type);
    return st;
}

sakd_status sakd_h5_write_strings(sakd_h5_file file, const char *path, int ndim,
                                  const size_t *shape, const char *const *strings)
{
    SAKD_TRY(check_write_args("sakd_h5_write_strings", file, path, ndim, shape));
    QUIETLY(write_strings_impl(file, path, ndim, shape, strings));
}

/* Opens the dataset at path: NOT_FOUND when missing, FORMAT when it is not a dataset. */
static sakd_status open_dataset(hid_t f, const char *path, hid_t *dset)
{
    *dset = -1;
    if (!exists_impl(f, path))
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s: no dataset %s", FNAME(f), path);
    char why[128];
    hid_t obj = H5Oopen(f, path, H5P_DEFAULT);
    if (obj < 0)
        return sakd_error(SAKD_ERR_FORMAT, "%s: cannot open %s: %s", FNAME(f), path,
                          h5_reason(why));
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return sakd_error(SAKD_ERR_FORMAT, "%s: %s is not a dataset", FNAME(f), path);
    }
    *dset = obj;
    return SAKD_OK;
}

static sakd_status info_of(hid_t f, hid_t dset, const char *path, int max_ndim, int *ndim,
                           size_t *shape, sakd_h5_dtype *dtype)
{
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
    sakd_status st = SAKD_OK;
    if (type < 0 || space < 0) {
        char why[128];
        st = sakd_error(SAKD_ERR_FORMAT, "%s: cannot read the type of %s: %s", FNAME(f), path,
                        h5_reason(why));
    } else if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        st = sakd_error(SAKD_ERR_FORMAT, "%s: dataset %s has no dataspace", FNAME(f), path);
    } else {
        hsize_t dims[H5_MAX_NDIM];
        int r = H5Sget_simple_extent_dims(space, dims, NULL);
        if (r < 0 || r > max_ndim) {
            st = sakd_error(SAKD_ERR_FORMAT, "%s: dataset %s has rank %d, at most %d is read",
                            FNAME(f), path, r, max_ndim);
        } else {
            *ndim = r;
            for (int i = 0; i < r; i++)
                shape[i] = (size_t)dims[i];
            *dtype = classify(type);
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static sakd_status dataset_info_impl(hid_t f, const char *path, int max_ndim, int *ndim,
                                     size_t *shape, sakd_h5_dtype *dtype)
{
    hid_t dset;
    SAKD_TRY(open_dataset(f, path, &dset));
    sakd_status st = info_of(f, dset, path, max_ndim, ndim, shape, dtype);
    H5Dclose(dset);
    return st;
}

sakd_status sakd_h5_dataset_info(sakd_h5_file file, const char *path, int max_ndim, int *ndim,
                                 size_t *shape, sakd_h5_dtype *dtype)
{
    if (file < 0 || !path || !ndim || !shape || !dtype)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_dataset_info: NULL argument");
    QUIETLY(dataset_info_impl(file, path, max_ndim, ndim, shape, dtype));
}

/* Reads the whole dataset converted to memtype, after checking rank, shape and element type
 * (one of `ok1`, `ok2`). */
static sakd_status read_checked(hid_t f, const char *path, int ndim, const size_t *shape,
                                sakd_h5_dtype ok1, sakd_h5_dtype ok2, hid_t memtype, void *out)
{
    hid_t dset;
    SAKD_TRY(open_dataset(f, path, &dset));
    int found_ndim = 0;
    size_t found[H5_MAX_NDIM];
    sakd_h5_dtype dtype = SAKD_H5_OTHER;
    sakd_status st = info_of(f, dset, path, H5_MAX_NDIM, &found_ndim, found, &dtype);
    char a[160], b[160];
    if (st == SAKD_OK && dtype != ok1 && dtype != ok2) {
        st = sakd_error(SAKD_ERR_FORMAT, "%s: dataset %s is %s, expected %s%s%s", FNAME(f), path,
                        sakd_h5_dtype_name(dtype), sakd_h5_dtype_name(ok1),
                        ok2 != ok1 ? " or " : "", ok2 != ok1 ? sakd_h5_dtype_name(ok2) : "");
    }
    if (st == SAKD_OK) {
        int same = found_ndim == ndim;
        for (int i = 0; same && i < ndim; i++)
            same = found[i] == shape[i];
        if (!same)
            st = sakd_error(SAKD_ERR_FORMAT, "%s: dataset %s has shape %s, expected %s", FNAME(f),
                            path, sakd_h5_shape_str(found_ndim, found, a, sizeof a),
                            sakd_h5_shape_str(ndim, shape, b, sizeof b));
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    if (st == SAKD_OK && numel > 0 &&
        H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        char why[128];
        st = sakd_error(SAKD_ERR_IO, "%s: cannot read dataset %s: %s", FNAME(f), path,
                        h5_reason(why));
    }
    H5Dclose(dset);
    return st;
}

sakd_status sakd_h5_read_float(sakd_h5_file file, const char *path, int ndim, const size_t *shape,
                               float *out)
{
    if (file < 0 || !path || ndim < 0 || (ndim > 0 && !shape) || !out)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_read_float: NULL argument or negative rank");
    QUIETLY(read_checked(file, path, ndim, shape, SAKD_H5_FLOAT32, SAKD_H5_FLOAT32,
                         H5T_NATIVE_FLOAT, out));
}

/* ---- attributes ------------------------------------------------------------------------ */

/* Opens the object at `obj`, creating a group there (and above) when `create` and missing. */
static sakd_status open_object(hid_t f, const char *obj, int create, hid_t *id)
{
    *id = -1;
    char why[128];
    if (!exists_impl(f, obj)) {
        if (!create)
            return sakd_error(SAKD_ERR_NOT_FOUND, "%s: no object %s", FNAME(f), obj);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0)
            *id = H5Gcreate2(f, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (lcpl >= 0)
            H5Pclose(lcpl);
        if (*id < 0)
            return sakd_error(SAKD_ERR_IO, "%s: cannot create group %s: %s", FNAME(f), obj,
                              h5_reason(why));
        return SAKD_OK;
    }
    *id = H5Oopen(f, obj, H5P_DEFAULT);
    if (*id < 0)
        return sakd_error(SAKD_ERR_FORMAT, "%s: cannot open %s: %s", FNAME(f), obj, h5_reason(why));
    return SAKD_OK;
}

static sakd_status set_attr_impl(hid_t f, const char *obj, const char *name, hid_t filetype,
                                 hid_t memtype, const void *value)
{
    hid_t o;
    SAKD_TRY(open_object(f, obj, 1, &o));
    char why[128];
    sakd_status st = SAKD_OK;
    if (H5Aexists(o, name) > 0 && H5Adelete(o, name) < 0)
        st = sakd_error(SAKD_ERR_IO, "%s: cannot replace attribute %s of %s: %s", FNAME(f), name,
                        obj, h5_reason(why));
    hid_t space = st == SAKD_OK ? H5Screate(H5S_SCALAR) : -1;
    hid_t a = space >= 0 ? H5Acreate2(o, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (st == SAKD_OK && (a < 0 || H5Awrite(a, memtype, value) < 0))
        st = sakd_error(SAKD_ERR_IO, "%s: cannot write attribute %s of %s: %s", FNAME(f), name, obj,
                        h5_reason(why));
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    H5Oclose(o);
    return st;
}

static sakd_status check_attr_args(const char *fn, sakd_h5_file file, const char *obj,
                                   const char *name)
{
    if (file < 0 || !name || !*name)
        return sakd_error(SAKD_ERR_ARG, "%s: no file or no attribute name", fn);
    return check_path(fn, obj);
}

static sakd_status set_attr_string_impl(hid_t f, const char *obj, const char *name,
                                        const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        if (t >= 0)
            H5Tclose(t);
        char why[128];
        return sakd_error(SAKD_ERR_IO, "%s: cannot make a string type: %s", FNAME(f),
                          h5_reason(why));
    }
    sakd_status st = set_attr_impl(f, obj, name, t, t, &value);
    H5Tclose(t);
    return st;
}

sakd_status sakd_h5_set_attr_string(sakd_h5_file file, const char *obj, const char *name,
                                    const char *value)
{
    SAKD_TRY(check_attr_args("sakd_h5_set_attr_string", file, obj, name));
    if (!value)
        value = "";
    QUIETLY(set_attr_string_impl(file, obj, name, value));
}

sakd_status sakd_h5_set_attr_int(sakd_h5_file file, const char *obj, const char *name,
                                 long long value)
{
    SAKD_TRY(check_attr_args("sakd_h5_set_attr_int", file, obj, name));
    int64_t v = value;
    QUIETLY(set_attr_impl(file, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v));
}

sakd_status sakd_h5_set_attr_double(sakd_h5_file file, const char *obj, const char *name,
                                    double value)
{
    SAKD_TRY(check_attr_args("sakd_h5_set_attr_double", file, obj, name));
    QUIETLY(set_attr_impl(file, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value));
}

static int has_attr_impl(hid_t f, const char *obj, const char *name)
{
    if (!exists_impl(f, obj))
        return 0;
    return H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0;
}

int sakd_h5_has_attr(sakd_h5_file file, const char *obj, const char *name)
{
    if (file < 0 || !obj || !name)
        return 0;
    h5_quiet q = quiet_begin();
    int r = has_attr_impl(file, obj, name);
    quiet_end(q);
    return r;
}

/* Opens attribute `name` of `obj`, checking it holds one element; *type is its file type. */
static sakd_status open_attr(hid_t f, const char *obj, const char *name, hid_t *o, hid_t *a,
                             hid_t *type)
{
    *a = *type = -1;
    SAKD_TRY(open_object(f, obj, 0, o));
    if (H5Aexists(*o, name) <= 0) {
        H5Oclose(*o);
        return sakd_error(SAKD_ERR_NOT_FOUND, "%s: %s has no attribute %s", FNAME(f), obj, name);
    }
    *a = H5Aopen(*o, name, H5P_DEFAULT);
    hid_t space = *a >= 0 ? H5Aget_space(*a) : -1;
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0)
        H5Sclose(space);
    *type = *a >= 0 ? H5Aget_type(*a) : -1;
    sakd_status st = SAKD_OK;
    if (*type < 0) {
        char why[128];
        st = sakd_error(SAKD_ERR_FORMAT, "%s: cannot read attribute %s of %s: %s", FNAME(f), name,
                        obj, h5_reason(why));
    } else if (npoints != 1) {
        st = sakd_error(SAKD_ERR_FORMAT, "%s: attribute %s of %s has %lld elements, expected 1",
                        FNAME(f), name, obj, (long long)npoints);
    }
    if (st != SAKD_OK) {
        if (*type >= 0)
            H5Tclose(*type);
        if (*a >= 0)
            H5Aclose(*a);
        H5Oclose(*o);
        *a = *type = -1;
    }
    return st;
}

static void close_attr(hid_t o, hid_t a, hid_t type)
{
    H5Tclose(type);
    H5Aclose(a);
    H5Oclose(o);
}

static sakd_status get_attr_string_impl(hid_t f, const char *obj, const char *name, char **value)
{
    hid_t o, a, type;
    SAKD_TRY(open_attr(f, obj, name, &o, &a, &type));
    sakd_status st = SAKD_OK;
    char why[128];
    if (H5Tget_class(type) != H5T_STRING) {
        st = sakd_error(SAKD_ERR_FORMAT, "%s: attribute %s of %s is not a string", FNAME(f), name,
                        obj);
    } else if (H5Tis_variable_str(type) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        char *s = NULL;
        if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(type)) < 0 ||
            H5Aread(a, mt, &s) < 0)
            st = sakd_error(SAKD_ERR_FORMAT, "%s: cannot read attribute %s of %s: %s", FNAME(f),
                            name, obj, h5_reason(why));
        else if (!(*value = strdup(s ? s : "")))
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
        if (s)
            H5free_memory(s);
        if (mt >= 0)
            H5Tclose(mt);
    } else {
        size_t size = H5Tget_size(type);
        hid_t mt = H5Tcopy(H5T_C_S1);
        char *s = malloc(size + 1);
        if (!s)
            st = sakd_error(SAKD_ERR_NOMEM, "out of memory");
        else if (mt < 0 || H5Tset_size(mt, size + 1) < 0 ||
                 H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
                 H5Tset_cset(mt, H5Tget_cset(type)) < 0 || H5Aread(a, mt, s) < 0)
            st = sakd_error(SAKD_ERR_FORMAT, "%s: cannot read attribute %s of %s: %s", FNAME(f),
                            name, obj, h5_reason(why));
        if (st == SAKD_OK) {
            s[size] = '\0';
            *value = s;
        } else {
            free(s);
        }
        if (mt >= 0)
            H5Tclose(mt);
    }
    close_attr(o, a, type);
    return st;
}

sakd_status sakd_h5_get_attr_string(sakd_h5_file file, const char *obj, const char *name,
                                    char **value)
{
    if (!value)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_get_attr_string: NULL value");
    *value = NULL;
    SAKD_TRY(check_attr_args("sakd_h5_get_attr_string", file, obj, name));
    QUIETLY(get_attr_string_impl(file, obj, name, value));
}

static sakd_status get_attr_num_impl(hid_t f, const char *obj, const char *name, int want_int,
                                     void *value)
{
    hid_t o, a, type;
    SAKD_TRY(open_attr(f, obj, name, &o, &a, &type));
    H5T_class_t cls = H5Tget_class(type);
    sakd_status st = SAKD_OK;
    char why[128];
    if (cls != H5T_INTEGER && (want_int || cls != H5T_FLOAT))
        st = sakd_error(SAKD_ERR_FORMAT, "%s: attribute %s of %s is not %s", FNAME(f), name, obj,
                        want_int ? "an integer" : "a number");
    else if (H5Aread(a, want_int ? H5T_NATIVE_LLONG : H5T_NATIVE_DOUBLE, value) < 0)
        st = sakd_error(SAKD_ERR_FORMAT, "%s: cannot read attribute %s of %s: %s", FNAME(f), name,
                        obj, h5_reason(why));
    close_attr(o, a, type);
    return st;
}

sakd_status sakd_h5_get_attr_int(sakd_h5_file file, const char *obj, const char *name,
                                 long long *value)
{
    if (!value)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_get_attr_int: NULL value");
    SAKD_TRY(check_attr_args("sakd_h5_get_attr_int", file, obj, name));
    QUIETLY(get_attr_num_impl(file, obj, name, 1, value));
}

sakd_status sakd_h5_get_attr_double(sakd_h5_file file, const char *obj, const char *name,
                                    double *value)
{
    if (!value)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_get_attr_double: NULL value");
    SAKD_TRY(check_attr_args("sakd_h5_get_attr_double", file, obj, name));
    QUIETLY(get_attr_num_impl(file, obj, name, 0, value));
}

/* ---- visiting datasets ----------------------------------------------------------------- */

typedef struct visit_ctx {
    sakd_h5_visit_fn fn;
    void *user;
    sakd_status st;
} visit_ctx;

static herr_t visit_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    visit_ctx *v = data;
    if (info->type != H5L_TYPE_HARD)
        return 0;
    hid_t o = H5Oopen(group, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    int is_dataset = H5Iget_type(o) == H5I_DATASET;
    H5Oclose(o);
    if (!is_dataset)
        return 0;
    v->st = v->fn(name, v->user);
    return v->st == SAKD_OK ? 0 : -1;
}

static sakd_status visit_impl(hid_t f, const char *group, sakd_h5_visit_fn fn, void *user)
{
    hid_t g;
    SAKD_TRY(open_object(f, group, 0, &g));
    visit_ctx v = {fn, user, SAKD_OK};
    char why[128];
    sakd_status st = SAKD_OK;
    if (H5Iget_type(g) != H5I_GROUP)
        st = sakd_error(SAKD_ERR_FORMAT, "%s: %s is not a group", FNAME(f), group);
    else if (H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v) < 0)
        st = v.st != SAKD_OK ? v.st
                             : sakd_error(SAKD_ERR_FORMAT, "%s: cannot list %s: %s", FNAME(f),
                                          group, h5_reason(why));
    H5Oclose(g);
    return st;
}

sakd_status sakd_h5_visit_datasets(sakd_h5_file file, const char *group, sakd_h5_visit_fn fn,
                                   void *user)
{
    if (file < 0 || !fn)
        return sakd_error(SAKD_ERR_ARG, "sakd_h5_visit_datasets: no file or no callback");
    SAKD_TRY(check_path("sakd_h5_visit_datasets", group));
    QUIETLY(visit_impl(file, group, fn, user));
}

/* ---- batch files ----------------------------------------------------------------------- */

/* The most elements a batch file's /x may hold (8 GiB of float32): one batch for `sakd trace`. */
#define BATCH_MAX_NUMEL ((size_t)1 << 31)

static sakd_status batch_read_impl(hid_t f, float **x, size_t shape[4], int32_t **y, size_t *n)
{
    int nd;
    size_t sx[H5_MAX_NDIM], sy[H5_MAX_NDIM];
    sakd_h5_dtype tx, ty;
    char a[160];
    SAKD_TRY(dataset_info_impl(f, "/x", H5_MAX_NDIM, &nd, sx, &tx));
    if (nd != 4)
        return sakd_error(SAKD_ERR_FORMAT, "%s: dataset /x has shape %s, expected [B, C, H, W]",
                          FNAME(f), sakd_h5_shape_str(nd, sx, a, sizeof a));
    if (sx[0] == 0)
        return sakd_error(SAKD_ERR_FORMAT, "%s: dataset /x holds no samples", FNAME(f));
    SAKD_TRY(dataset_info_impl(f, "/y", H5_MAX_NDIM, &nd, sy, &ty));
    if (nd != 1)
        return sakd_error(SAKD_ERR_FORMAT, "%s: dataset /y has shape %s, expected [B]", FNAME(f),
                          sakd_h5_shape_str(nd, sy, a, sizeof a));
    if (sy[0] != sx[0])
        return sakd_error(SAKD_ERR_FORMAT, "%s: dataset /y has %zu labels but /x has %zu samples",
                          FNAME(f), sy[0], sx[0]);
    /* The shape comes from the file: its product is checked for overflow and bounded before
     * anything is allocated from it (a corrupt header can claim any size). */
    size_t numel = 1, b = sx[0];
    for (int i = 0; i < 4; i++) {
        if (sx[i] != 0 && numel > BATCH_MAX_NUMEL / sx[i])
            return sakd_error(SAKD_ERR_FORMAT,
                              "%s: dataset /x has shape %s, more than %llu elements: not a batch "
                              "(corrupt file?)",
                              FNAME(f), sakd_h5_shape_str(4, sx, a, sizeof a),
                              (unsigned long long)BATCH_MAX_NUMEL);
        numel *= sx[i];
    }
    float *xd = malloc((numel ? numel : 1) * sizeof *xd);
    long long *y64 = malloc(b * sizeof *y64);
    int32_t *yd = malloc(b * sizeof *yd);
    sakd_status st = SAKD_OK;
    if (!xd || !y64 || !yd)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory reading %s", FNAME(f));
    if (st == SAKD_OK)
        st = read_checked(f, "/x", 4, sx, SAKD_H5_FLOAT32, SAKD_H5_FLOAT32, H5T_NATIVE_FLOAT, xd);
    if (st == SAKD_OK)
        st = read_checked(f, "/y", 1, sy, SAKD_H5_INT32, SAKD_H5_INT64, H5T_NATIVE_LLONG, y64);
    for (size_t i = 0; st == SAKD_OK && i < b; i++) {
        if (y64[i] < INT32_MIN || y64[i] > INT32_MAX)
            st = sakd_error(SAKD_ERR_FORMAT, "%s: dataset /y element %zu is %lld, outside int32",
                            FNAME(f), i, y64[i]);
        yd[i] = (int32_t)y64[i];
    }
    free(y64);
    if (st != SAKD_OK) {
        free(xd);
        free(yd);
        return st;
    }
    for (int i = 0; i < 4; i++)
        shape[i] = sx[i];
    *x = xd;
    *y = yd;
    *n = b;
    return SAKD_OK;
}

sakd_status sakd_batch_file_read(const char *path, float **x, size_t shape[4], int32_t **y,
                                 size_t *n)
{
    if (!path || !x || !shape || !y || !n)
        return sakd_error(SAKD_ERR_ARG, "sakd_batch_file_read: NULL argument");
    *x = NULL;
    *y = NULL;
    *n = 0;
    sakd_h5_file f;
    SAKD_TRY(sakd_h5_open(path, &f));
    h5_quiet q = quiet_begin();
    sakd_status st = batch_read_impl(f, x, shape, y, n);
    H5Fclose(f);
    quiet_end(q);
    return st;
}

sakd_status sakd_batch_file_write(const char *path, const float *x, const size_t shape[4],
                                  const int32_t *y)
{
    if (!path || !x || !shape || !y)
        return sakd_error(SAKD_ERR_ARG, "sakd_batch_file_write: NULL argument");
    char tmp[PATH_MAX];
    sakd_h5_file f;
    SAKD_TRY(sakd_h5_create_temp(path, &f, tmp, sizeof tmp));
    sakd_status st = sakd_h5_write_float(f, "/x", 4, shape, x);
    if (st == SAKD_OK)
        st = sakd_h5_write_int(f, "/y", 1, shape, y);
    if (st != SAKD_OK) {
        sakd_h5_abort(f, tmp);
        return sakd_error(st, "%s (writing %s)", sakd_error_detail(), path);
    }
    return sakd_h5_commit(f, tmp, path);
}
