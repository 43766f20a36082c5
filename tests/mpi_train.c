/* mpi_train.c — data-parallel training over 2 MPI ranks against one process, run by
 * tests/mpi_train.sh as `mpirun -np 2 tests/mpi_train` (not a Check suite: Check's forked tests
 * and MPI do not mix). On fresh synthetic data each run (the seed is printed; SAKD_TEST_SEED
 * repeats one):
 *   1. per-replica BN: the gradients 2 ranks average equal, bit for bit, the mean of one
 *      process's gradients on the two halves of the batch (the same kernels on the same shapes);
 *   2. train.sync_bn: the BN running statistics after a step equal one process's on the whole
 *      batch within 1e-5, and its gradients within 1e-2 (relative L2: the rounding noise of
 *      BN's backward, measured ~5e-4, is of the size one process shows between two convolution
 *      providers); over 6 steps the weights' change within 2e-2 of one process's;
 *   3. two 2-rank runs give bit-identical weights, optimizer state and BN statistics;
 *   4. a 2-rank run stopped at step 5 and resumed from its checkpoint equals the uninterrupted
 *      one bit for bit, and so does one saving a checkpoint after every step.
 * Exits 0 when all hold, 1 (every rank, through MPI_Abort) at the first that does not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/dist.h"
#include "train/train.h"

static sakd_dist *world;
static int rank;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "mpi_train: rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            sakd_dist_abort(world, 1);                                                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define OK(call)                                                                                   \
    do {                                                                                           \
        sakd_status st_ = (call);                                                                  \
        CHECK(st_ == SAKD_OK, "%s: %s: %s", #call, sakd_strerror(st_), sakd_error_detail());       \
    } while (0)

static unsigned long long seed;
static char dir[256];

/* A tiny SNN config, lr 0 unless overridden; extra "section.key=value" overrides follow. */
static void make_config(sakd_config *c, const char *const *overrides)
{
    OK(sakd_config_init(c));
    const char *base[] = {"model.width=0.0625",   "model.T=2",
                          "train.batch=16",       "train.epochs=2",
                          "train.lr=0",           "train.momentum=0",
                          "train.weight_decay=0", "data.crop_padding=0",
                          "data.flip=false",      NULL};
    for (const char *const *o = base; *o; o++)
        OK(sakd_config_override(c, *o, "test"));
    char s[64];
    snprintf(s, sizeof s, "train.seed=%llu", seed % 1000 + 1);
    OK(sakd_config_override(c, s, "test"));
    for (const char *const *o = overrides; o && *o; o++)
        OK(sakd_config_override(c, *o, "test"));
}

/* A trainer of `c` on this run's synthetic data, over `group` (NULL: this process alone). */
static sakd_trainer *trainer(const sakd_config *c, const char *out, sakd_dist *group)
{
    sakd_dataset tr, te;
    OK(sakd_dataset_synthetic_split(&tr, &te, 48, 24, 1, 8, 8, 3, seed));
    sakd_trainer *t;
    OK(sakd_trainer_new_ranks(&t, c, out, &tr, &te, NULL, group));
    return t;
}

/* A copy of one of the parameter store's tensors on the host. */
static float *host_copy(const sakd_tensor *x, size_t *n)
{
    *n = sakd_tensor_numel(x);
    float *h = malloc((*n ? *n : 1) * sizeof *h);
    CHECK(h != NULL, "out of memory");
    OK(sakd_tensor_download(x, h));
    return h;
}

/* max |a − b| / max |b| and ‖a − b‖ / ‖b‖. */
static void rel_diff(const float *a, const float *b, size_t n, double *max_rel, double *l2_rel)
{
    double md = 0, mb = 0, sd = 0, sb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        md = fmax(md, d);
        mb = fmax(mb, fabs((double)b[i]));
        sd += d * d;
        sb += (double)b[i] * b[i];
    }
    *max_rel = mb > 0 ? md / mb : md;
    *l2_rel = sb > 0 ? sqrt(sd / sb) : sqrt(sd);
}

static void test_per_replica_exact(void)
{
    sakd_config c2, c1;
    make_config(&c2, NULL);
    const char *half[] = {"train.batch=8", NULL};
    make_config(&c1, half);
    sakd_trainer *t2 = trainer(&c2, NULL, world);
    OK(sakd_trainer_step(t2, 0));
    size_t n;
    float *g2 = host_copy(&sakd_trainer_params(t2)->grads, &n);
    /* One process, batch 8: steps 0 and 1 of the same epoch order are the two halves of the
     * 2-rank run's first global batch (lr 0: the weights do not move in between). */
    sakd_trainer *t1 = trainer(&c1, NULL, NULL);
    OK(sakd_trainer_step(t1, 0));
    size_t n1;
    float *g0 = host_copy(&sakd_trainer_params(t1)->grads, &n1);
    OK(sakd_trainer_step(t1, 1));
    float *g1 = host_copy(&sakd_trainer_params(t1)->grads, &n1);
    CHECK(n == n1, "%zu vs %zu gradients", n, n1);
    size_t differ = 0, nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        float ref = (g0[i] + g1[i]) * 0.5f;
        differ += memcmp(&ref, &g2[i], sizeof ref) != 0;
        nonzero += g2[i] != 0.0f;
    }
    CHECK(nonzero > n / 2, "only %zu of %zu gradients are non-zero", nonzero, n);
    CHECK(differ == 0, "%zu of %zu averaged gradients differ from the mean of the halves'", differ,
          n);
    if (rank == 0)
        printf("ok 1 per-replica BN: %zu averaged gradients equal the halves' mean bit for bit\n",
               n);
    free(g0);
    free(g1);
    free(g2);
    sakd_trainer_free(t1);
    sakd_trainer_free(t2);
    sakd_config_free(&c1);
    sakd_config_free(&c2);
}

static void test_sync_bn(void)
{
    sakd_config c2, c1;
    const char *sync[] = {"train.sync_bn=true", NULL};
    make_config(&c2, sync);
    make_config(&c1, NULL);
    sakd_trainer *t2 = trainer(&c2, NULL, world), *t1 = trainer(&c1, NULL, NULL);
    OK(sakd_trainer_step(t2, 0));
    OK(sakd_trainer_step(t1, 0));
    size_t n, nb, n1, nb1;
    float *g2 = host_copy(&sakd_trainer_params(t2)->grads, &n);
    float *b2 = host_copy(&sakd_trainer_params(t2)->buffers, &nb);
    float *g1 = host_copy(&sakd_trainer_params(t1)->grads, &n1);
    float *b1 = host_copy(&sakd_trainer_params(t1)->buffers, &nb1);
    CHECK(n == n1 && nb == nb1, "sizes differ");
    double gm, gl, bm, bl;
    rel_diff(g2, g1, n, &gm, &gl);
    rel_diff(b2, b1, nb, &bm, &bl);
    CHECK(bm <= 1e-5, "BN running statistics differ from one process's by %.3g (max, relative)",
          bm);
    CHECK(gl <= 1e-2, "gradients differ from one process's by %.3g (relative L2)", gl);
    if (rank == 0)
        printf("ok 2 sync BN, one step: running statistics within %.2g, gradients within %.2g of "
               "one process's\n",
               bm, gl);
    free(g2);
    free(b2);
    free(g1);
    free(b1);
    sakd_trainer_free(t2);
    sakd_trainer_free(t1);
    sakd_config_free(&c2);
    sakd_config_free(&c1);

    /* Six steps (two epochs of three) with a small learning rate: the change of every weight. */
    const char *steps2[] = {"train.sync_bn=true", "train.lr=0.01", "train.momentum=0.9", NULL};
    const char *steps1[] = {"train.lr=0.01", "train.momentum=0.9", NULL};
    make_config(&c2, steps2);
    make_config(&c1, steps1);
    t2 = trainer(&c2, NULL, world);
    t1 = trainer(&c1, NULL, NULL);
    float *w0 = host_copy(&sakd_trainer_params(t1)->values, &n);
    for (size_t s = 0; s < 6; s++) {
        OK(sakd_trainer_step(t2, s % 3));
        OK(sakd_trainer_step(t1, s % 3));
    }
    float *w2 = host_copy(&sakd_trainer_params(t2)->values, &n);
    float *w1 = host_copy(&sakd_trainer_params(t1)->values, &n1);
    for (size_t i = 0; i < n; i++) {
        w2[i] -= w0[i];
        w1[i] -= w0[i];
    }
    double dm, dl;
    rel_diff(w2, w1, n, &dm, &dl);
    CHECK(dl <= 2e-2, "after 6 steps the weights' change differs from one process's by %.3g", dl);
    if (rank == 0)
        printf("ok 3 sync BN, six steps: the weights' change within %.2g of one process's\n", dl);
    free(w0);
    free(w1);
    free(w2);
    sakd_trainer_free(t2);
    sakd_trainer_free(t1);
    sakd_config_free(&c2);
    sakd_config_free(&c1);
}

/* Every tensor of the checkpoint of a 2-rank run, trained by sakd_trainer_run. */
static float *run_state(sakd_trainer *t, size_t *n)
{
    size_t nv, nb;
    float *v = host_copy(&sakd_trainer_params(t)->values, &nv);
    float *b = host_copy(&sakd_trainer_params(t)->buffers, &nb);
    float *all = malloc((nv + nb) * sizeof *all);
    CHECK(all != NULL, "out of memory");
    memcpy(all, v, nv * sizeof *v);
    memcpy(all + nv, b, nb * sizeof *b);
    free(v);
    free(b);
    *n = nv + nb;
    return all;
}

static void test_determinism_and_resume(void)
{
    const char *o[] = {"train.lr=0.05",       "train.momentum=0.9", "train.weight_decay=5e-4",
                       "data.crop_padding=1", "data.flip=true",     NULL};
    sakd_config c;
    make_config(&c, o);
    char out[3][320];
    for (int k = 0; k < 3; k++)
        snprintf(out[k], sizeof out[k], "%s/run%d", dir, k);
    float *state[3] = {NULL, NULL, NULL};
    size_t n[3];
    sakd_report r;
    for (int k = 0; k < 2; k++) {
        sakd_trainer *t = trainer(&c, out[k], world);
        OK(sakd_trainer_run(t, &r));
        state[k] = run_state(t, &n[k]);
        sakd_trainer_free(t);
    }
    CHECK(n[0] == n[1] && memcmp(state[0], state[1], n[0] * sizeof(float)) == 0,
          "two 2-rank runs of the same config differ");
    if (rank == 0)
        printf("ok 4 two 2-rank runs: %zu values equal bit for bit\n", n[0]);

    sakd_trainer *t = trainer(&c, out[2], world);
    sakd_trainer_stop_at_step(t, 5);
    sakd_status st = sakd_trainer_run(t, &r);
    CHECK(st == SAKD_ERR_INTERRUPTED, "the run did not stop at step 5: %s", sakd_strerror(st));
    sakd_trainer_free(t);
    char ck[400], assign[480];
    snprintf(ck, sizeof ck, "%s/weights.h5", out[2]);
    CHECK(access(ck, R_OK) == 0, "no checkpoint at %s", ck);
    snprintf(assign, sizeof assign, "train.resume=%s", ck);
    OK(sakd_config_override(&c, assign, "test"));
    t = trainer(&c, out[2], world);
    OK(sakd_trainer_run(t, &r));
    state[2] = run_state(t, &n[2]);
    sakd_trainer_free(t);
    CHECK(n[2] == n[0] && memcmp(state[0], state[2], n[0] * sizeof(float)) == 0,
          "the 2-rank run resumed at step 5 differs from the uninterrupted one");
    if (rank == 0)
        printf("ok 5 a 2-rank run stopped at step 5 and resumed equals the uninterrupted one\n");
    sakd_config_free(&c);
    /* run.checkpoint_s: saves after every step (rank 0's clock decides for both) change
     * nothing and never leave one rank waiting for the other. */
    const char *o2[] = {"train.lr=0.05",
                        "train.momentum=0.9",
                        "train.weight_decay=5e-4",
                        "data.crop_padding=1",
                        "data.flip=true",
                        "run.checkpoint_s=1e-9",
                        NULL};
    make_config(&c, o2);
    char out3[320];
    snprintf(out3, sizeof out3, "%s/run3", dir);
    t = trainer(&c, out3, world);
    OK(sakd_trainer_run(t, &r));
    size_t n3;
    float *state3 = run_state(t, &n3);
    sakd_trainer_free(t);
    CHECK(n3 == n[0] && memcmp(state[0], state3, n[0] * sizeof(float)) == 0,
          "a 2-rank run saving after every step differs from one saving at epoch ends");
    if (rank == 0)
        printf("ok 6 a 2-rank run saving after every step (run.checkpoint_s) equals it too\n");
    free(state3);
    for (int k = 0; k < 3; k++)
        free(state[k]);
    sakd_config_free(&c);
}

/* `mpi_train --idx DIR N_TRAIN N_TEST` (no MPI): a Fashion-MNIST-shaped IDX dataset of random
 * 28×28 images in DIR, whose labels are a function of the image (its brightest quadrant mod
 * 10), for the CLI part of tests/mpi_train.sh. */
static void put_be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static int write_idx(const char *d, const char *prefix, unsigned n, unsigned *state)
{
    char ip[512], lp[512];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte", d, prefix);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte", d, prefix);
    FILE *fi = fopen(ip, "wb"), *fl = fopen(lp, "wb");
    if (!fi || !fl)
        return 1;
    put_be32(fi, 0x803);
    put_be32(fi, n);
    put_be32(fi, 28);
    put_be32(fi, 28);
    put_be32(fl, 0x801);
    put_be32(fl, n);
    for (unsigned k = 0; k < n; k++) {
        unsigned char img[28 * 28];
        unsigned sum[4] = {0, 0, 0, 0};
        for (int i = 0; i < 28 * 28; i++) {
            *state = *state * 1103515245u + 12345u;
            img[i] = (unsigned char)(*state >> 16);
            sum[(i / 28 >= 14) * 2 + (i % 28 >= 14)] += img[i];
        }
        unsigned best = 0;
        for (unsigned q = 1; q < 4; q++)
            best = sum[q] > sum[best] ? q : best;
        unsigned char label = (unsigned char)((best * 3 + img[0] % 3) % 10);
        fwrite(img, 1, sizeof img, fi);
        fwrite(&label, 1, 1, fl);
    }
    int bad = ferror(fi) || ferror(fl);
    bad |= fclose(fi) != 0;
    bad |= fclose(fl) != 0;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--idx")) {
        unsigned state = 12345;
        mkdir(argv[2], 0700);
        if (write_idx(argv[2], "train", (unsigned)atoi(argv[3]), &state) ||
            write_idx(argv[2], "t10k", (unsigned)atoi(argv[4]), &state)) {
            fprintf(stderr, "mpi_train: cannot write the IDX files in %s\n", argv[2]);
            return 1;
        }
        return 0;
    }
    if (sakd_dist_world(&world, &argc, &argv) != SAKD_OK) {
        fprintf(stderr, "mpi_train: %s\n", sakd_error_detail());
        return 1;
    }
    rank = sakd_dist_rank(world);
    if (sakd_dist_size(world) != 2) {
        fprintf(stderr, "mpi_train: run it with 'mpirun -np 2' (%d ranks here)\n",
                sakd_dist_size(world));
        sakd_dist_finalize(world);
        return 1;
    }
    /* Rank 0 draws the data's seed (or takes SAKD_TEST_SEED); the sum gives it to both. */
    double s[2] = {0, 0};
    if (rank == 0) {
        const char *env = getenv("SAKD_TEST_SEED");
        s[0] = env ? atof(env) : (double)((unsigned long long)time(NULL) % 1000000);
        s[1] = (double)getpid();
    }
    OK(sakd_dist_sum_doubles(world, s, 2));
    seed = (unsigned long long)s[0];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/sakd-mpi-test-%.0f", tmp, s[1]);
    if (rank == 0) {
        printf("mpi_train: 2 ranks, data seed %llu (SAKD_TEST_SEED=%llu repeats it), in %s\n", seed,
               seed, dir);
        CHECK(mkdir(dir, 0700) == 0, "cannot create %s", dir);
    }
    OK(sakd_dist_barrier(world));
    test_per_replica_exact();
    test_sync_bn();
    test_determinism_and_resume();
    OK(sakd_dist_barrier(world));
    if (rank == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "mpi_train: could not remove %s\n", dir);
        printf("mpi_train: all passed\n");
    }
    sakd_dist_finalize(world);
    return 0;
}
