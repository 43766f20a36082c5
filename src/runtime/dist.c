/* dist.c — the ranks of a data-parallel run (dist.h): MPI's world when built with it and started
 * by its launcher, else this process alone. The sums are a reduce-scatter written with
 * MPI_Alltoallv (rank r receives every rank's copy of its 1/size of the elements and adds them
 * in rank order) followed by MPI_Allgatherv of the sums: data movement only, so the arithmetic,
 * and with it the result, is fixed by the size alone. */
#include "runtime/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#ifdef SAKD_HAVE_MPI
#include <mpi.h>
#endif

struct sakd_dist {
    int rank, size, local_rank;
    int replicas; /* sakd_dist_replicas: `size` copies of this process, no messages */
#ifdef SAKD_HAVE_MPI
    MPI_Comm comm;   /* MPI_COMM_NULL: alone */
    int mpi_started; /* this module called MPI_Init */
#endif
    void *scratch; /* size·(n/size + 1) elements of the last sum */
    size_t scratch_bytes;
};

static sakd_dist self_group = {.rank = 0,
                               .size = 1,
                               .local_rank = 0
#ifdef SAKD_HAVE_MPI
                               ,
                               .comm = MPI_COMM_NULL
#endif
};

sakd_dist *sakd_dist_self(void)
{
    return &self_group;
}

sakd_status sakd_dist_replicas(sakd_dist **d, int n)
{
    *d = NULL;
    if (n < 1)
        return sakd_error(SAKD_ERR_ARG, "a group of %d replicas", n);
    sakd_dist *g = calloc(1, sizeof *g);
    if (!g)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory");
    g->size = n;
    g->replicas = 1;
#ifdef SAKD_HAVE_MPI
    g->comm = MPI_COMM_NULL;
#endif
    *d = g;
    return SAKD_OK;
}

void sakd_dist_free(sakd_dist *d)
{
    if (d && d->replicas) {
        free(d->scratch);
        free(d);
    }
}

/* v = v + v + … (size copies, in order), as `size` ranks with these values would sum them. */
#define SUM_REPLICAS(type, d, v, n)                                                                \
    for (size_t i_ = 0; i_ < (n); i_++) {                                                          \
        type acc_ = (v)[i_];                                                                       \
        for (int r_ = 1; r_ < (d)->size; r_++)                                                     \
            acc_ += (v)[i_];                                                                       \
        (v)[i_] = acc_;                                                                            \
    }

bool sakd_dist_launched(void)
{
    /* Open MPI's mpirun; PMIx (Open MPI under srun, and others); PMI-1/2 (MPICH, srun). */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

bool sakd_dist_available(void)
{
#ifdef SAKD_HAVE_MPI
    return true;
#else
    return false;
#endif
}

int sakd_dist_rank(const sakd_dist *d)
{
    return d ? d->rank : 0;
}

int sakd_dist_size(const sakd_dist *d)
{
    return d ? d->size : 1;
}

int sakd_dist_local_rank(const sakd_dist *d)
{
    return d ? d->local_rank : 0;
}

#ifdef SAKD_HAVE_MPI
static sakd_dist world_group;

static sakd_status mpi_error(int code, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", code);
    return sakd_error(SAKD_ERR_COMM, "MPI: %s failed: %s", what, text);
}

#define MPI_TRY(call, what)                                                                        \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS)                                                                \
            return mpi_error(mpi_rc_, what);                                                       \
    } while (0)
#endif

sakd_status sakd_dist_world(sakd_dist **d, int *argc, char ***argv)
{
    *d = &self_group;
#ifdef SAKD_HAVE_MPI
    if (!sakd_dist_launched())
        return SAKD_OK;
    int started = 0;
    MPI_Initialized(&started);
    if (!started) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS)
            return sakd_error(SAKD_ERR_COMM, "MPI: MPI_Init failed");
        world_group.mpi_started = 1;
    }
    /* Errors come back as codes, to be reported with the rank that saw them. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    world_group.comm = MPI_COMM_WORLD;
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &world_group.rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &world_group.size), "MPI_Comm_size");
    MPI_Comm node;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_group.rank,
                                MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
    MPI_TRY(MPI_Comm_rank(node, &world_group.local_rank), "MPI_Comm_rank");
    MPI_Comm_free(&node);
    *d = &world_group;
#else
    (void)argc;
    (void)argv;
#endif
    return SAKD_OK;
}

#ifdef SAKD_HAVE_MPI
/* The reduce-scatter + all-gather of dist.h for elements of `elem` bytes (MPI type `type`);
 * `add(acc, x, k)` adds k elements of x into acc. */
static sakd_status sum_fixed(sakd_dist *d, void *v, size_t n, size_t elem, MPI_Datatype type,
                             void (*add)(void *acc, const void *x, size_t k))
{
    int N = d->size, r = d->rank;
    if (n / (size_t)N + 1 > (size_t)INT_MAX)
        return sakd_error(SAKD_ERR_ARG, "MPI: %zu elements are too many for one sum", n);
    int *counts = calloc(4 * (size_t)N, sizeof *counts);
    if (!counts)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the MPI sum");
    int *displs = counts + N, *rcounts = counts + 2 * N, *rdispls = counts + 3 * N;
    for (int j = 0; j < N; j++) {
        size_t lo = n * (size_t)j / (size_t)N, hi = n * (size_t)(j + 1) / (size_t)N;
        counts[j] = (int)(hi - lo);
        displs[j] = (int)lo;
    }
    size_t mine = (size_t)counts[r], need = (size_t)N * mine * elem;
    if (need > d->scratch_bytes) {
        void *s = realloc(d->scratch, need);
        if (!s) {
            free(counts);
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for the MPI sum (%zu bytes)", need);
        }
        d->scratch = s;
        d->scratch_bytes = need;
    }
    for (int i = 0; i < N; i++) {
        rcounts[i] = (int)mine;
        rdispls[i] = i * (int)mine;
    }
    int rc = MPI_Alltoallv(v, counts, displs, type, d->scratch, rcounts, rdispls, type, d->comm);
    if (rc == MPI_SUCCESS) {
        /* Rank r's share: (rank 0's + rank 1's) + rank 2's … */
        unsigned char *acc = (unsigned char *)v + (size_t)displs[r] * elem;
        memcpy(acc, d->scratch, mine * elem);
        for (int i = 1; i < N; i++)
            add(acc, (unsigned char *)d->scratch + (size_t)i * mine * elem, mine);
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, type, v, counts, displs, type, d->comm);
    }
    free(counts);
    return rc == MPI_SUCCESS ? SAKD_OK
                             : mpi_error(rc, "the gradient sum (MPI_Alltoallv/Allgatherv)");
}

static void add_floats(void *acc, const void *x, size_t k)
{
    float *a = acc;
    const float *b = x;
    for (size_t i = 0; i < k; i++)
        a[i] += b[i];
}

static void add_doubles(void *acc, const void *x, size_t k)
{
    double *a = acc;
    const double *b = x;
    for (size_t i = 0; i < k; i++)
        a[i] += b[i];
}
#endif

sakd_status sakd_dist_sum_floats(sakd_dist *d, float *v, size_t n)
{
    if (d && d->replicas) {
        SUM_REPLICAS(float, d, v, n);
        return SAKD_OK;
    }
#ifdef SAKD_HAVE_MPI
    if (d && d->size > 1)
        return sum_fixed(d, v, n, sizeof *v, MPI_FLOAT, add_floats);
#else
    (void)d;
#endif
    (void)v;
    (void)n;
    return SAKD_OK;
}

sakd_status sakd_dist_sum_doubles(sakd_dist *d, double *v, size_t n)
{
    if (d && d->replicas) {
        SUM_REPLICAS(double, d, v, n);
        return SAKD_OK;
    }
#ifdef SAKD_HAVE_MPI
    if (d && d->size > 1)
        return sum_fixed(d, v, n, sizeof *v, MPI_DOUBLE, add_doubles);
#else
    (void)d;
#endif
    (void)v;
    (void)n;
    return SAKD_OK;
}

sakd_status sakd_dist_gather_doubles(sakd_dist *d, const double *send, size_t n, double *all)
{
    if (d && d->replicas) {
        for (int r = d->size - 1; r >= 0; r--) /* rank 0's copy last: send may be all */
            memmove(all + (size_t)r * n, send, n * sizeof *send);
        return SAKD_OK;
    }
#ifdef SAKD_HAVE_MPI
    if (d && d->size > 1) {
        if (n > (size_t)INT_MAX)
            return sakd_error(SAKD_ERR_ARG, "MPI: %zu elements are too many for one gather", n);
        MPI_TRY(MPI_Allgather(send, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, d->comm),
                "MPI_Allgather");
        return SAKD_OK;
    }
#else
    (void)d;
#endif
    memmove(all, send, n * sizeof *send);
    return SAKD_OK;
}

sakd_status sakd_dist_barrier(sakd_dist *d)
{
#ifdef SAKD_HAVE_MPI
    if (d && d->size > 1 && !d->replicas)
        MPI_TRY(MPI_Barrier(d->comm), "MPI_Barrier");
#else
    (void)d;
#endif
    return SAKD_OK;
}

void sakd_dist_abort(sakd_dist *d, int code)
{
#ifdef SAKD_HAVE_MPI
    if (d && d->size > 1 && !d->replicas)
        MPI_Abort(d->comm, code);
#else
    (void)d;
    (void)code;
#endif
}

void sakd_dist_finalize(sakd_dist *d)
{
    if (!d || d == &self_group || d->replicas)
        return;
    free(d->scratch);
    d->scratch = NULL;
    d->scratch_bytes = 0;
#ifdef SAKD_HAVE_MPI
    if (d->mpi_started) {
        int done = 0;
        MPI_Finalized(&done);
        if (!done)
            MPI_Finalize();
        d->mpi_started = 0;
    }
#endif
}

const char *sakd_dist_library(void)
{
#ifdef SAKD_HAVE_MPI
    static char version[MPI_MAX_LIBRARY_VERSION_STRING];
    if (!version[0]) {
        int len = 0;
        if (MPI_Get_library_version(version, &len) != MPI_SUCCESS)
            snprintf(version, sizeof version, "MPI (version unknown)");
        /* The first line: "Open MPI v4.1.4, package: …, ident: …, repo rev: …, …". */
        char *nl = strchr(version, '\n');
        if (nl)
            *nl = '\0';
        char *cut = strstr(version, ", package");
        if (cut)
            *cut = '\0';
    }
    return version;
#else
    return "none";
#endif
}
