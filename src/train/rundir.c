/* rundir.c — one writer per run directory (see rundir.h). */
#include "train/rundir.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "runtime/file.h"
#include "runtime/log.h"

sakd_status sakd_rundir_claim(const char *dir, bool create, int *lock)
{
    *lock = -1;
    if (create)
        SAKD_TRY(sakd_mkdir_p(dir));
    char path[PATH_MAX + 16], what[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.train.lock", dir);
    snprintf(what, sizeof what, "the run directory %s", dir);
    SAKD_TRY(sakd_file_lock(path, what, lock));
    int stale = 0;
    sakd_status st = sakd_file_remove_temps(dir, &stale);
    if (st != SAKD_OK) {
        sakd_rundir_release(lock);
        return st;
    }
    if (stale > 0)
        sakd_log(SAKD_LOG_INFO, "removed %d temporary file%s left in %s by an interrupted run",
                 stale, stale == 1 ? "" : "s", dir);
    return SAKD_OK;
}

void sakd_rundir_release(int *lock)
{
    if (*lock >= 0)
        close(*lock);
    *lock = -1;
}
