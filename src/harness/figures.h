/* figures.h — gnuplot figures of a sweep's results: accuracy and firing rate against the x
 * axis (bars with std error bars for categories, lines for numbers) and per-layer firing rates. */
#ifndef SAKD_HARNESS_FIGURES_H
#define SAKD_HARNESS_FIGURES_H

#include <stdbool.h>
#include <stdio.h>

#include "harness/table.h"

/* Writes <dir>/figures/<name>.dat and .gp and runs gnuplot ($SAKD_GNUPLOT, else `gnuplot` on
 * PATH) on them for SVG and PNG. *drawn tells whether gnuplot ran; without gnuplot the data and
 * scripts are still written, a warning goes to `log`, and the status is SAKD_OK. */
sakd_status sakd_figures_draw(const char *dir, const sakd_results *res, FILE *log, bool *drawn);

#endif
