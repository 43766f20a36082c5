/* file.c — whole-file reads, atomic writes (temp name, commit) and mkdir -p. */
#include "runtime/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

sakd_status sakd_file_read(const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sakd_error(errno == ENOENT ? SAKD_ERR_NOT_FOUND : SAKD_ERR_IO, "cannot open %s: %s",
                          path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *grown = realloc(buf, 2 * cap + 1);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory reading %s", path);
    if (failed) {
        free(buf);
        return sakd_error(SAKD_ERR_IO, "error reading %s", path);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return SAKD_OK;
}

static void fsync_dir_of(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

sakd_status sakd_file_temp_name(const char *final, char *tmp, size_t size)
{
    if (!final || !*final || !tmp || size == 0)
        return sakd_error(SAKD_ERR_ARG, "sakd_file_temp_name: empty path or buffer");
    if ((size_t)snprintf(tmp, size, "%s.tmp.XXXXXX", final) >= size)
        return sakd_error(SAKD_ERR_ARG, "path too long for a temporary name: %s", final);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return sakd_error(SAKD_ERR_IO, "cannot create a temporary file beside %s: %s", final,
                          strerror(errno));
    close(fd);
    return SAKD_OK;
}

sakd_status sakd_file_commit(const char *tmp, const char *final)
{
    const char *what = "open";
    int fd = open(tmp, O_RDWR);
    int ok = fd >= 0;
    if (ok && !(ok = fchmod(fd, 0644) == 0))
        what = "chmod";
    if (ok && !(ok = fsync(fd) == 0))
        what = "fsync";
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        what = "close";
    }
    if (ok && !(ok = rename(tmp, final) == 0))
        what = "rename";
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return sakd_error(SAKD_ERR_IO, "cannot replace %s (%s of %s: %s); the old file is kept",
                          final, what, tmp, strerror(e));
    }
    fsync_dir_of(final);
    return SAKD_OK;
}

sakd_status sakd_file_fill_and_commit(const char *tmp, const char *final, const void *data,
                                      size_t size)
{
    int fd = open(tmp, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        int e = errno;
        unlink(tmp);
        return sakd_error(SAKD_ERR_IO, "cannot open %s: %s (%s is kept as it was)", tmp,
                          strerror(e), final);
    }
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return sakd_error(SAKD_ERR_IO,
                              "cannot write %s: %s at byte %zu of %zu (the old file is kept)",
                              final, strerror(e), size - left, size);
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return sakd_error(SAKD_ERR_IO, "cannot write %s: %s (the old file is kept)", final,
                          strerror(e));
    }
    return sakd_file_commit(tmp, final);
}

sakd_status sakd_file_write_atomic(const char *path, const void *data, size_t size)
{
    char tmp[PATH_MAX];
    SAKD_TRY(sakd_file_temp_name(path, tmp, sizeof tmp));
    return sakd_file_fill_and_commit(tmp, path, data, size);
}

sakd_status sakd_file_lock(const char *path, const char *what, int *fd)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return sakd_error(SAKD_ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    int rc;
    while ((rc = flock(*fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (rc == 0)
        return SAKD_OK;
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return sakd_error(SAKD_ERR_IO, "%s is in use by another process (it holds %s)", what, path);
    return sakd_error(SAKD_ERR_IO, "cannot lock %s: %s", path, strerror(e));
}

/* "<name>.tmp.XXXXXX" with six characters from mkstemp's alphabet. */
static int is_temp_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 12 || strncmp(name + n - 11, ".tmp.", 5) != 0)
        return 0;
    for (const char *p = name + n - 6; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

sakd_status sakd_file_remove_temps(const char *dir, int *removed)
{
    if (removed)
        *removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return sakd_error(SAKD_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    sakd_status st = SAKD_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temp_name(e->d_name))
            continue;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (unlink(path) != 0 && errno != ENOENT) {
            st = sakd_error(SAKD_ERR_IO, "cannot remove the stale temporary file %s: %s", path,
                            strerror(errno));
            break;
        }
        if (removed)
            (*removed)++;
    }
    closedir(d);
    return st;
}

sakd_status sakd_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return sakd_error(SAKD_ERR_ARG, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return sakd_error(SAKD_ERR_IO, "cannot create directory %s: %s", buf,
                                  strerror(errno));
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sakd_error(SAKD_ERR_IO, "%s exists but is not a directory", buf);
    return SAKD_OK;
}
