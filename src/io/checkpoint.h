/* checkpoint.h — HDF5 checkpoints (DESIGN.md §3.1): /model tensors, /optim state, /meta. */
#ifndef SAKD_IO_CHECKPOINT_H
#define SAKD_IO_CHECKPOINT_H

#include <stddef.h>

#include "runtime/status.h"

#define SAKD_CHECKPOINT_FORMAT "sakd-checkpoint"
#define SAKD_CHECKPOINT_VERSION 1

/* A host copy of one tensor. */
typedef struct sakd_ckpt_tensor {
    char name[128]; /* "layer1.0.conv1.weight"; for optimizer state "<param>/<state>" */
    int ndim;       /* 0 (scalar) to 5 */
    size_t shape[5];
    float *data; /* numel floats, owned by whoever filled it */
} sakd_ckpt_tensor;

/* Run provenance stored as attributes of /meta. Strings longer than a field are cut (with a
 * warning) on read. */
typedef struct sakd_ckpt_meta {
    char *config; /* resolved INI text (malloc'ed on read; NULL when absent) */
    char arch[16], model[32];
    double width;
    long T;
    char dataset[32];
    long classes, in_channels, epoch;
    long long step, seed;
    double test_acc;
    char git[64], device[256], driver[128];
    char optimizer[16];    /* "sgd" | "adamw": which /optim states exist */
    long long rng_counter; /* next unused counter of the (seed, counter) random stream */
    /* Filled on read from the root attributes; ignored on write (the writer sets them). */
    char sakd_version[32], created[32];
} sakd_ckpt_meta;

/* Writes a checkpoint atomically (temp file in the same directory, flush, close, fsync,
 * rename): a crash or an error leaves the old file or the new one, and no temp file.
 * model: n_model tensors stored as /model/<name>; optim: n_optim tensors named
 * "<param>/<state>" (state: momentum | exp_avg | exp_avg_sq) stored as /optim/<param>/<state>;
 * meta may be NULL (no /meta group). A tensor with NaN or Inf is refused (such a file could
 * not be read back), as are duplicate names and NULL data. */
sakd_status sakd_checkpoint_write(const char *path, const sakd_ckpt_tensor *model, size_t n_model,
                                  const sakd_ckpt_tensor *optim, size_t n_optim,
                                  const sakd_ckpt_meta *meta);

/* An open checkpoint for reading. */
typedef struct sakd_checkpoint sakd_checkpoint;

/* Opens `path`, checking it is HDF5 with format "sakd-checkpoint", format_version 1, and a
 * /model group; lists the tensors of /model and /optim (which, like /meta, may be absent). */
sakd_status sakd_checkpoint_open(sakd_checkpoint **ck, const char *path);
void sakd_checkpoint_close(sakd_checkpoint *ck);
const char *sakd_checkpoint_path(const sakd_checkpoint *ck);

/* The tensors of /model (and /optim) in name order: name, ndim, shape; data is NULL. */
size_t sakd_checkpoint_model_count(const sakd_checkpoint *ck);
const sakd_ckpt_tensor *sakd_checkpoint_model_info(const sakd_checkpoint *ck, size_t i);
int sakd_checkpoint_has_model(const sakd_checkpoint *ck, const char *name);
size_t sakd_checkpoint_optim_count(const sakd_checkpoint *ck);
const sakd_ckpt_tensor *sakd_checkpoint_optim_info(const sakd_checkpoint *ck, size_t i);
int sakd_checkpoint_has_optim(const sakd_checkpoint *ck, const char *name);
int sakd_checkpoint_has_meta(const sakd_checkpoint *ck);

/* Reads /model/<name> into out (numel floats), requiring float32 and exactly this shape. The
 * errors name the file, the tensor, and the expected and found shape or type; a missing tensor
 * is SAKD_ERR_NOT_FOUND; NaN or Inf in the data is SAKD_ERR_FORMAT naming the element index. */
sakd_status sakd_checkpoint_read_model(sakd_checkpoint *ck, const char *name, int ndim,
                                       const size_t *shape, float *out);
/* The same for /optim/<param>/<state>, name "<param>/<state>". */
sakd_status sakd_checkpoint_read_optim(sakd_checkpoint *ck, const char *name, int ndim,
                                       const size_t *shape, float *out);

/* Reads /meta (missing attributes, or a missing /meta, give zero fields and config NULL) and
 * the root's sakd_version and created. Free with sakd_ckpt_meta_free. */
sakd_status sakd_checkpoint_read_meta(sakd_checkpoint *ck, sakd_ckpt_meta *meta);
void sakd_ckpt_meta_free(sakd_ckpt_meta *meta);

#endif
