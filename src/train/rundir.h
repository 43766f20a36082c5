/* rundir.h — a run directory has one writer at a time: the process that claims it holds the
 * flock on DIR/.train.lock until it releases it. Claiming also removes the temporary files a
 * writer killed mid-write (SIGKILL, power loss) left there. `sakd train` claims its run.out,
 * `sakd eval --run` the run whose report it rewrites. */
#ifndef SAKD_TRAIN_RUNDIR_H
#define SAKD_TRAIN_RUNDIR_H

#include <stdbool.h>

#include "runtime/status.h"

/* Claims `dir` (created first when `create`): *lock receives the held descriptor. A directory
 * another process holds is an error naming it; *lock is -1 after any error. */
sakd_status sakd_rundir_claim(const char *dir, bool create, int *lock);

/* Gives the claim up (nothing when *lock is -1) and sets *lock to -1. */
void sakd_rundir_release(int *lock);

#endif
