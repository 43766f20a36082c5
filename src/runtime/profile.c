/* profile.c — OpenCL profiling events of every queued command, summed per label. */
#include "runtime/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending {
    cl_event event;
    cl_event start; /* a marker before the command(s), or NULL */
    cl_kernel kernel;
    const char *label;
} pending;

struct sakd_profile {
    pending *items; /* [n] */
    size_t n, cap;
    cl_event mark;              /* from sakd_profile_mark, taken by the next item */
    sakd_profile_total *totals; /* [n_totals] */
    size_t n_totals, cap_totals;
};

sakd_status sakd_profile_start(sakd_ctx *ctx)
{
    if (!(ctx->flags & SAKD_CTX_PROFILING))
        return sakd_error(SAKD_ERR_ARG, "profiling needs a queue made with SAKD_CTX_PROFILING");
    if (ctx->profile)
        return SAKD_OK;
    ctx->profile = calloc(1, sizeof *ctx->profile);
    if (!ctx->profile)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the profile");
    return SAKD_OK;
}

static void release_pending(struct sakd_profile *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].event)
            clReleaseEvent(p->items[i].event);
        if (p->items[i].start)
            clReleaseEvent(p->items[i].start);
    }
    p->n = 0;
    if (p->mark)
        clReleaseEvent(p->mark);
    p->mark = NULL;
}

void sakd_profile_stop(sakd_ctx *ctx)
{
    struct sakd_profile *p = ctx->profile;
    if (!p)
        return;
    release_pending(p);
    free(p->items);
    free(p->totals);
    free(p);
    ctx->profile = NULL;
}

cl_event *sakd_profile_event(sakd_ctx *ctx, cl_kernel kernel, const char *label)
{
    struct sakd_profile *p = ctx->profile;
    if (!p)
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        pending *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return NULL; /* this command goes unrecorded rather than failing */
        p->items = items;
        p->cap = cap;
    }
    pending *it = &p->items[p->n++];
    it->event = NULL;
    it->start = p->mark;
    p->mark = NULL;
    it->kernel = kernel;
    it->label = label ? label : "?";
    return &it->event;
}

sakd_status sakd_profile_mark(sakd_ctx *ctx)
{
    struct sakd_profile *p = ctx->profile;
    if (!p)
        return SAKD_OK;
    if (p->mark)
        clReleaseEvent(p->mark);
    p->mark = NULL;
    SAKD_CL_CHECK(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &p->mark));
    return SAKD_OK;
}

static sakd_status add_total(struct sakd_profile *p, const char *label, double ms)
{
    for (size_t i = 0; i < p->n_totals; i++)
        if (strcmp(p->totals[i].label, label) == 0) {
            p->totals[i].ms += ms;
            p->totals[i].count++;
            return SAKD_OK;
        }
    if (p->n_totals == p->cap_totals) {
        size_t cap = p->cap_totals ? 2 * p->cap_totals : 64;
        sakd_profile_total *t = realloc(p->totals, cap * sizeof *t);
        if (!t)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for the profile totals");
        p->totals = t;
        p->cap_totals = cap;
    }
    sakd_profile_total *t = &p->totals[p->n_totals++];
    snprintf(t->label, sizeof t->label, "%s", label);
    t->ms = ms;
    t->count = 1;
    return SAKD_OK;
}

void sakd_profile_add(sakd_ctx *ctx, const char *label, double ms)
{
    if (ctx->profile && add_total(ctx->profile, label, ms) != SAKD_OK)
        sakd_error_clear(); /* unrecorded rather than failing, as for queued commands */
}

sakd_status sakd_profile_collect(sakd_ctx *ctx)
{
    struct sakd_profile *p = ctx->profile;
    if (!p)
        return SAKD_OK;
    SAKD_CL_CHECK(clFinish(ctx->queue));
    sakd_status st = SAKD_OK;
    for (size_t i = 0; i < p->n && st == SAKD_OK; i++) {
        pending *it = &p->items[i];
        if (!it->event)
            continue; /* the enqueue failed */
        cl_ulong t0 = 0, t1 = 0;
        cl_int err = it->start ? clGetEventProfilingInfo(it->start, CL_PROFILING_COMMAND_END,
                                                         sizeof t0, &t0, NULL)
                               : clGetEventProfilingInfo(it->event, CL_PROFILING_COMMAND_START,
                                                         sizeof t0, &t0, NULL);
        if (err == CL_SUCCESS)
            err =
                clGetEventProfilingInfo(it->event, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (err != CL_SUCCESS) {
            st = sakd_error(SAKD_ERR_OPENCL, "reading the profiling times of a '%s' command: %s",
                            it->label, sakd_cl_strerror(err));
            break;
        }
        char name[64];
        const char *label = it->label;
        if (it->kernel && clGetKernelInfo(it->kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name,
                                          NULL) == CL_SUCCESS) {
            name[sizeof name - 1] = '\0';
            label = name;
        }
        st = add_total(p, label, t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0.0);
    }
    release_pending(p);
    return st;
}

size_t sakd_profile_totals(const sakd_ctx *ctx, const sakd_profile_total **totals)
{
    *totals = ctx->profile ? ctx->profile->totals : NULL;
    return ctx->profile ? ctx->profile->n_totals : 0;
}

void sakd_profile_reset(sakd_ctx *ctx)
{
    if (ctx->profile)
        ctx->profile->n_totals = 0;
}
