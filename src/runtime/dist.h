/* dist.h — the ranks of a data-parallel run: one process alone, or the processes of an MPI job
 * (mpirun, srun) when sakd is built with MPI (./configure --with-mpi). Every sum is taken in
 * rank order on fixed pieces of the data, so that every rank gets the same bits and the same
 * number of ranks gives the same result run after run; an MPI library's own reductions promise
 * neither. */
#ifndef SAKD_RUNTIME_DIST_H
#define SAKD_RUNTIME_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/status.h"

typedef struct sakd_dist sakd_dist;

/* The group of this process alone (rank 0 of 1): every operation below is then the identity. */
sakd_dist *sakd_dist_self(void);

/* The processes of the job that started this one: when built with MPI and started by an MPI
 * launcher (its environment says so), initializes MPI and returns the world of its ranks;
 * otherwise sakd_dist_self(). `argc`/`argv` go to MPI_Init. */
sakd_status sakd_dist_world(sakd_dist **d, int *argc, char ***argv);

/* A group of `n` ranks that all hold this process's data, without MPI (tests and checks of the
 * code that runs over ranks): a gather returns n copies of this rank's values, a sum adds n
 * copies in rank order, as n ranks with equal data would. Free it with sakd_dist_free. */
sakd_status sakd_dist_replicas(sakd_dist **d, int n);
void sakd_dist_free(sakd_dist *d);

/* Whether this process was started by an MPI launcher (mpirun, srun), built with MPI or not. */
bool sakd_dist_launched(void);

/* Whether this build can run several ranks. */
bool sakd_dist_available(void);

int sakd_dist_rank(const sakd_dist *d);
int sakd_dist_size(const sakd_dist *d);
/* The rank among the ranks on this node (the launcher's local rank; the rank without one). */
int sakd_dist_local_rank(const sakd_dist *d);

/* v[0..n) = Σ over ranks of v, summed in rank order ((v₀ + v₁) + v₂ …) in float: each rank
 * sums 1/size of the elements (a reduce-scatter) and the sums are gathered, so every rank
 * sends and receives about 2·n floats whatever the size, and gets the same bits. */
sakd_status sakd_dist_sum_floats(sakd_dist *d, float *v, size_t n);

/* The same for doubles (few values: counters, losses). */
sakd_status sakd_dist_sum_doubles(sakd_dist *d, double *v, size_t n);

/* all[r·n + i] = rank r's send[i], for every rank r, on every rank. */
sakd_status sakd_dist_gather_doubles(sakd_dist *d, const double *send, size_t n, double *all);

/* Waits for every rank. */
sakd_status sakd_dist_barrier(sakd_dist *d);

/* Ends the whole job now with `code` (MPI_Abort), after the caller has said why: the other ranks
 * would wait forever for this one's next message. Alone: returns. */
void sakd_dist_abort(sakd_dist *d, int code);

/* Ends MPI (after the last collective); alone: nothing. */
void sakd_dist_finalize(sakd_dist *d);

/* The MPI library and version ("Open MPI v4.1.4, …"), or "none" without MPI. */
const char *sakd_dist_library(void);

#endif
