/* profile.h — device time per kernel (and per GEMM, per transfer) from OpenCL profiling events. */
#ifndef SAKD_RUNTIME_PROFILE_H
#define SAKD_RUNTIME_PROFILE_H

#include "runtime/context.h"

/* Device time summed over the commands of one label (a kernel name, "gemm", "transfer"). */
typedef struct sakd_profile_total {
    char label[64];
    double ms;
    size_t count;
} sakd_profile_total;

/* Starts recording an event for every command sakd queues on ctx. The queue must have been
 * made with SAKD_CTX_PROFILING. */
sakd_status sakd_profile_start(sakd_ctx *ctx);
/* Stops recording and frees the records (pending events are released unread). */
void sakd_profile_stop(sakd_ctx *ctx);

/* Where the next enqueue should return its event, or NULL when ctx is not profiling. The
 * label is `kernel`'s name when kernel is given, else `label`. */
cl_event *sakd_profile_event(sakd_ctx *ctx, cl_kernel kernel, const char *label);

/* For commands that queue several kernels and return one event (CLBlast): a marker queued
 * now; the next sakd_profile_event's span runs from this marker's end to its own end. */
sakd_status sakd_profile_mark(sakd_ctx *ctx);

/* For work that runs on the host between queued commands (the host BLAS): `ms` measured by the
 * caller, added to `label`'s total; nothing when ctx is not profiling. */
void sakd_profile_add(sakd_ctx *ctx, const char *label, double ms);

/* Waits for the queue, adds the times of the pending events to the totals and releases them. */
sakd_status sakd_profile_collect(sakd_ctx *ctx);

/* The totals so far (valid until the next collect or reset), and clearing them. */
size_t sakd_profile_totals(const sakd_ctx *ctx, const sakd_profile_total **totals);
void sakd_profile_reset(sakd_ctx *ctx);

#endif
