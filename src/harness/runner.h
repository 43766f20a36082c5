/* runner.h — running a sweep's runs (and the teachers they need) as child processes of the
 * sakd binary, with per-run locks, status in meta.ini, resume and failure isolation. */
#ifndef SAKD_HARNESS_RUNNER_H
#define SAKD_HARNESS_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "harness/sweep.h"

typedef struct sakd_runner {
    const char *exe;                  /* the sakd binary the children run */
    int jobs;                         /* runs at once, >= 1 */
    const char *const *devices;       /* [n_devices] --device of each child slot (slot % n) */
    size_t n_devices;                 /* 0: the children choose as `sakd train` does */
    const char *command_line;         /* the sweep command, recorded in meta.ini */
    FILE *log;                        /* one line per event (NULL: silent) */
    volatile sig_atomic_t *interrupt; /* non-zero: stop launching, stop the children */
    bool dry_run;                     /* print what would run; write nothing */
    /* Where to look for a done run of the same id made by another sweep, as
     * <reuse_root>/<sweep>/runs/<id>, or trained as a teacher, <reuse_root>/teachers/<id> (the
     * same resolved config, so the same result): it is copied instead of trained again. NULL:
     * every run is trained here. */
    const char *reuse_root;
    /* A command put before every child's, split at spaces: `mpirun -np 4` or `srun` runs each
     * run over several ranks (README.md, "Several devices or nodes in one run"). NULL: none. */
    const char *launcher;
    /* A teacher another process is training is not waited for: the runs that distill from it
     * are skipped as running elsewhere (`sakd sweep --no-wait`), for several sweeps or copies
     * of one sharing a machine, each of which has other runs to go on with. */
    bool no_wait;
    /* Checkpoints of finished teachers (`sakd sweep --teacher-weights FILE`): a teacher done
     * without its weights.h5 (its results kept or committed without weights) takes the one of
     * these whose stored config resolves to its id and which was written after its last epoch,
     * instead of being trained again; meta.ini records where it came from (weights_from). */
    const char *const *teacher_weights;
    size_t n_teacher_weights;
} sakd_runner;

typedef struct sakd_sweep_tally {
    size_t done;        /* finished now */
    size_t skipped;     /* already done */
    size_t busy;        /* locked by another process */
    size_t failed;      /* marked failed */
    size_t interrupted; /* stopped by a signal; the next sweep resumes them */
    size_t reused;      /* copied from another sweep's done run of the same id */
} sakd_sweep_tally;

/* Runs the runs `which` ([n_which] indices into s->runs; NULL = all), first training the
 * teachers they need that are not done (one process trains a teacher; others wait on its
 * lock). Each run: lock <out>/runs/<id>/.lock (busy: skipped), skip when meta.ini says done,
 * write config.ini and meta.ini (status running), run `exe [--device D] train config.ini` with
 * stdout and stderr appended to stdout.log, then set meta.ini's status: done (exit 0 and a
 * report.ini), interrupted (exit 130 or a signal) or failed (with the error). A failed run
 * does not stop the others. A run never started here whose id (and config.ini) matches a done
 * run of another sweep under r->reuse_root is copied from it: its files, and meta.ini with this
 * sweep's name, index and axis values, the source's provenance and `reused_from`. Returns
 * SAKD_ERR_INTERRUPTED when *interrupt was raised, an error when a teacher failed or a file could
 * not be written, else SAKD_OK (see the tally). */
sakd_status sakd_sweep_execute(const sakd_sweep *s, const sakd_runner *r, const size_t *which,
                               size_t n_which, sakd_sweep_tally *tally);

#endif
