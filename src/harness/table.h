/* table.h — the results of a sweep directory: summary.csv (one row per run), table.csv and
 * table.md (mean and std over seeds per cell), layers.csv (per-layer firing rates), all with
 * libcsv, rebuilt from the run directories alone. */
#ifndef SAKD_HARNESS_TABLE_H
#define SAKD_HARNESS_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "runtime/status.h"

/* The metrics of summary.csv, in column order. */
#define SAKD_N_METRICS 13
extern const char *const sakd_metric_names[SAKD_N_METRICS];

/* A cell: one combination of axis values, aggregated over its done runs (seeds). */
typedef struct sakd_cell {
    char **values;                                    /* [n_axes] */
    size_t n;                                         /* done runs */
    double mean[SAKD_N_METRICS], std[SAKD_N_METRICS]; /* sample std (n - 1); 0 for n = 1 */
    size_t n_layers;
    char **layer_names; /* [n_layers] */
    double *layer_mean, *layer_std;
} sakd_cell;

typedef struct sakd_results {
    char **axes; /* [n_axes] axis keys */
    size_t n_axes;
    char *plot, *x; /* figure hints from sweep.ini ("" when absent) */
    sakd_cell *cells;
    size_t n_cells;
    size_t runs, done, failed, unfinished, unreadable;
    const char *who; /* the command its warnings name (NULL: "collect") */
} sakd_results;

/* Writes one CSV line of `n` fields to f, each quoted by libcsv (commas, quotes and line
 * breaks survive a libcsv parse). */
void sakd_table_write_row(FILE *f, const char *const *fields, size_t n);

/* Reads <dir>/runs/<id>/{meta,report}.ini and writes <dir>/summary.csv, table.csv, table.md and
 * layers.csv (atomically). A run directory without a readable meta.ini, or a done run without
 * a readable report.ini, is listed in summary.csv as `unreadable` with the reason and
 * described on `log`; it is not an error. Fails only when nothing can be written, or when
 * <dir>/runs does not exist. */
sakd_status sakd_results_collect(const char *dir, FILE *log, sakd_results *res);
void sakd_results_free(sakd_results *res);

/* One done run of a sweep directory, as `sakd compare` reads it. */
typedef struct sakd_run_sample {
    char id[64];
    char *seed;
    char **values;                 /* [n_axes] of its selection: the run's value of each axis */
    double metric[SAKD_N_METRICS]; /* NAN where the run lacks one */
} sakd_run_sample;

/* Done runs of a sweep directory selected by axis values. */
typedef struct sakd_selection {
    char **axes;   /* the filter's keys, then the directory's other axes */
    size_t n_axes; /* of which the first n_filter are the filter's */
    size_t n_filter;
    sakd_run_sample *runs; /* in the sweep's run order */
    size_t n;
} sakd_selection;

/* The done runs of <dir>/runs whose meta.ini has axis.<keys[i]> = values[i] for each of the
 * n_filter pairs (none: every done run), with their values of every axis of the directory (its
 * sweep.ini, else the runs' meta.ini), into *sel (free with sakd_selection_free, also after an
 * error). Unreadable runs are described on `log` and left out. SAKD_ERR_NOT_FOUND when
 * <dir>/runs does not exist. */
sakd_status sakd_results_select(const char *dir, const char *const *keys, const char *const *values,
                                size_t n_filter, FILE *log, sakd_selection *sel);
void sakd_selection_free(sakd_selection *sel);

#endif
