/* sweep.h — a sweep file (a training config plus [sweep]): its axes, seeds and teachers, and
 * the expansion into runs, each with its resolved config and a stable id. */
#ifndef SAKD_HARNESS_SWEEP_H
#define SAKD_HARNESS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/status.h"
#include "train/config.h"

/* One axis: `section.key = v1, v2, ...` (a student key), or `teacher.section.key = ...` (a key of
 * the teacher config: one teacher per value). */
typedef struct sakd_sweep_axis {
    char *key;     /* as written, e.g. "distill.transform" or "teacher.model.name" */
    char **values; /* [n_values], trimmed, as written */
    size_t n_values;
    char *origin; /* "file:line" */
} sakd_sweep_axis;

/* A teacher a sweep needs: its config and where it is trained. */
typedef struct sakd_sweep_teacher {
    sakd_config cfg; /* resolved; run.out = dir */
    char id[13];
    char *dir; /* <teachers>/<id> */
} sakd_sweep_teacher;

typedef struct sakd_sweep_run {
    size_t index; /* position in the expansion: --only INDEX, SLURM_ARRAY_TASK_ID */
    char id[13];  /* sakd_config_id of the run, the teacher named by its id */
    unsigned long long seed;
    char **values;   /* [n_axes] this run's value of each axis */
    sakd_config cfg; /* resolved; run.out = <out>/runs/<id>; distill.teacher = a teacher's
                        weights.h5 or "" */
    int teacher;     /* index into teachers, -1 = no distillation */
} sakd_sweep_run;

typedef struct sakd_sweep {
    char *path; /* the sweep file */
    char *name; /* [sweep] name, else the file's base name without .ini */
    char *out;  /* results directory of the sweep */
    char *plot; /* [sweep] plot: "bars", "lines" or "" (lines when the x axis is numeric) */
    char *x;    /* [sweep] x: the axis on the figures' x axis (default: the first) */
    sakd_sweep_axis *axes;
    size_t n_axes;
    unsigned long long *seeds;
    size_t n_seeds;
    sakd_sweep_teacher *teachers;
    size_t n_teachers;
    sakd_sweep_run *runs;
    size_t n_runs;
} sakd_sweep;

/* What to load: the sweep file, overrides of its base config ("section.key=value"), whether to
 * apply its smoke variant ([sweep] smoke = key=value ...: applied to the base config and the
 * teacher, only the first seed kept, out defaulting to results/<name>-smoke), the results
 * directory (NULL: the file's sweep.out, else results/<name>) and the teachers' directory (NULL:
 * <out>/../teachers). */
typedef struct sakd_sweep_options {
    const char *path;
    const char *const *overrides;
    size_t n_overrides;
    bool smoke;
    const char *out;
    const char *teachers;
} sakd_sweep_options;

/* Loads, validates and expands a sweep: the grid product of the axes (first axis slowest)
 * times the seeds (innermost). Errors name the file, the line and the key: an unknown axis key
 * (with the closest valid key), a bad value, a run whose config does not validate (with its
 * axis values), two runs with the same config. */
sakd_status sakd_sweep_load(sakd_sweep *s, const sakd_sweep_options *o);
void sakd_sweep_free(sakd_sweep *s);

/* The run named by `which`: a 12-hex id (or a unique prefix of at least 4 digits), or an
 * index; SAKD_ERR_NOT_FOUND names what was asked and the valid range. */
sakd_status sakd_sweep_find(const sakd_sweep *s, const char *which, size_t *index);

/* "distill.transform=proj model.T=4 seed=1": a run's axis values, for listings. */
void sakd_sweep_run_label(const sakd_sweep *s, const sakd_sweep_run *r, char *buf, size_t size);

#endif
