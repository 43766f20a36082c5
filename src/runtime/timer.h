/* timer.h — monotonic wall-clock time and the median of repeated measurements, for benchmarks. */
#ifndef SAKD_RUNTIME_TIMER_H
#define SAKD_RUNTIME_TIMER_H

#include <stddef.h>

/* Seconds on a monotonic clock. */
double sakd_time_now(void);

/* Median of `n` values (sorts them in place). */
double sakd_median(double *values, size_t n);

#endif
