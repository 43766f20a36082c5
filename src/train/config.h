/* config.h — the typed run configuration (DESIGN.md §3.3): defaults, INI files, command-line
 * overrides, validation, the resolved INI text and the run id. */
#ifndef SAKD_TRAIN_CONFIG_H
#define SAKD_TRAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "distill/types.h"
#include "nn/model_names.h"
#include "ops/types.h"
#include "runtime/status.h"

/* An integer option whose value follows from other options (data.crop_padding, data.flip). */
#define SAKD_CONFIG_AUTO (-1)

/* distill.teacher_model = auto */
#define SAKD_TEACHER_MODEL_AUTO (-1)

typedef enum sakd_arch { SAKD_ARCH_ANN = 0, SAKD_ARCH_SNN, SAKD_ARCH_COUNT } sakd_arch;

typedef enum sakd_stem { SAKD_STEM_CIFAR = 0, SAKD_STEM_IMAGENET, SAKD_STEM_COUNT } sakd_stem;

typedef enum sakd_dataset_id {
    SAKD_DATASET_FASHION_MNIST = 0,
    SAKD_DATASET_MNIST,
    SAKD_DATASET_CIFAR10,
    SAKD_DATASET_CIFAR100,
    SAKD_DATASET_COUNT
} sakd_dataset_id;

typedef enum sakd_optimizer {
    SAKD_OPTIMIZER_SGD = 0,
    SAKD_OPTIMIZER_ADAMW,
    SAKD_OPTIMIZER_COUNT
} sakd_optimizer;

typedef enum sakd_schedule {
    SAKD_SCHEDULE_COSINE = 0,
    SAKD_SCHEDULE_CONSTANT,
    SAKD_SCHEDULE_COUNT
} sakd_schedule;

/* run.conv_provider: how the host GEMM provider runs convolutions (ops/conv.h); "auto" defers to
 * $SAKD_CONV_PROVIDER, else the automatic route. */
typedef enum sakd_conv_choice {
    SAKD_CONV_CHOICE_AUTO = 0,
    SAKD_CONV_CHOICE_IM2COL,
    SAKD_CONV_CHOICE_ONEDNN,
    SAKD_CONV_CHOICE_COUNT
} sakd_conv_choice;

/* run.spike_layers: how convolutions that read spikes run (ops/spike_route.h); "auto" defers to
 * $SAKD_SPIKE_LAYERS, else the measured crossover densities. */
typedef enum sakd_spike_choice {
    SAKD_SPIKE_CHOICE_AUTO = 0,
    SAKD_SPIKE_CHOICE_DENSE,
    SAKD_SPIKE_CHOICE_SPIKE,
    SAKD_SPIKE_CHOICE_COUNT
} sakd_spike_choice;

/* run.gemm_provider: "auto" defers to $SAKD_GEMM_PROVIDER, else the automatic choice (ops/gemm.h).
 */
typedef enum sakd_gemm_choice {
    SAKD_GEMM_CHOICE_AUTO = 0,
    SAKD_GEMM_CHOICE_CLBLAST,
    SAKD_GEMM_CHOICE_HOST,
    SAKD_GEMM_CHOICE_COUNT
} sakd_gemm_choice;

typedef enum sakd_position {
    SAKD_POSITION_STAGE_AFTER_SPIKE = 0,
    SAKD_POSITION_STAGE_BEFORE_SPIKE,
    SAKD_POSITION_BLOCK_AFTER_SPIKE,
    SAKD_POSITION_BLOCK_BEFORE_SPIKE,
    SAKD_POSITION_COUNT
} sakd_position;

/* The config-file names of enum values ("resnet19", "sew_resnet50", "fashion-mnist", ...);
 * NULL for a value out of range. model.connect, model.reset and model.surrogate use the
 * ops enums sakd_sew_connect, sakd_lif_reset and sakd_surrogate. */
const char *sakd_model_name_str(sakd_model_name v);
const char *sakd_arch_str(sakd_arch v);
const char *sakd_stem_str(sakd_stem v);
const char *sakd_connect_str(sakd_sew_connect v);
const char *sakd_reset_str(sakd_lif_reset v);
const char *sakd_surrogate_str(sakd_surrogate v);
const char *sakd_dataset_str(sakd_dataset_id v);
const char *sakd_optimizer_str(sakd_optimizer v);
const char *sakd_schedule_str(sakd_schedule v);
const char *sakd_transform_str(sakd_transform v);
const char *sakd_distance_str(sakd_distance v);
const char *sakd_gemm_choice_str(sakd_gemm_choice v);
const char *sakd_conv_choice_str(sakd_conv_choice v);
const char *sakd_spike_choice_str(sakd_spike_choice v);

const char *sakd_position_str(sakd_position v);

/* True for the sew_resnet* models (the only ones that use model.connect). */
bool sakd_model_name_is_sew(sakd_model_name v);

/* One raw line of a [sweep] section, kept uninterpreted for the sweep driver. */
typedef struct sakd_config_sweep_line {
    char *key;    /* "distill.transform", "seeds", ... as written */
    char *value;  /* "none, proj, norm, attn" as written (trimmed) */
    char *origin; /* the file it came from */
    int line;     /* its line number there */
} sakd_config_sweep_line;

/* One field per key of DESIGN.md §3.3. Strings are malloc'ed and never NULL ("" when unset);
 * sakd_config_free releases them. */
typedef struct sakd_config {
    struct {
        sakd_model_name name;     /* resnet19 */
        sakd_arch arch;           /* snn */
        double width;             /* channel multiplier, > 0 (1.0) */
        sakd_stem stem;           /* cifar */
        sakd_sew_connect connect; /* SEW models only (add) */
        int T;                    /* time steps, >= 1 (4) */
        double decay;             /* λ in [0, 1] (0.5) */
        double threshold;         /* V_th > 0 (1.0) */
        sakd_lif_reset reset;     /* hard */
        bool detach_reset;        /* false */
        sakd_surrogate surrogate; /* triangle */
        double surrogate_alpha;   /* α > 0; NAN = auto (sigmoid 4, atan 2, triangle unused) */
        double dropout;           /* vgg11's classifier dropout in [0, 1); NAN = auto (0.5) */
    } model;
    struct {
        sakd_dataset_id dataset; /* fashion-mnist */
        char *dir;               /* "" = the dataset's default directory */
        long long train_limit;   /* first N training samples, 0 = all */
        long long test_limit;    /* first N test samples, 0 = all */
        int crop_padding;        /* px; SAKD_CONFIG_AUTO: 4 for CIFAR, 2 for (Fashion-)MNIST */
        int flip;                /* 0/1; SAKD_CONFIG_AUTO: on except for MNIST */
    } data;
    struct {
        int epochs;               /* >= 1 (20) */
        int batch;                /* >= 1 (128) */
        int eval_batch;           /* 0 = same as batch */
        sakd_optimizer optimizer; /* sgd */
        double lr;                /* >= 0 (0.1) */
        double momentum;          /* [0, 1) (0.9) */
        bool nesterov;            /* true */
        double weight_decay;      /* >= 0 (5e-4) */
        sakd_schedule schedule;   /* cosine */
        int warmup_epochs;        /* >= 0 (0) */
        unsigned long long seed;  /* 1 */
        char *resume;             /* checkpoint to continue from, "" = none */
        double grad_clip;         /* global gradient-norm clip, 0 = off */
        bool sync_bn;             /* several ranks: BN over the global batch (false: each
                                     rank's own, as PyTorch DDP) */
    } train;
    struct {
        char *teacher; /* teacher checkpoint, "" = no distillation */
        /* The teacher's architecture where its checkpoint has no /meta (a converted torchvision
         * file): SAKD_TEACHER_MODEL_AUTO and 0 = the student's. With /meta they must agree. */
        int teacher_model;        /* a sakd_model_name, or SAKD_TEACHER_MODEL_AUTO */
        double teacher_width;     /* > 0, or 0 = auto */
        bool init_from_teacher;   /* false */
        double alpha;             /* CE weight (0) */
        double beta;              /* feature-KD weight (100) */
        double gamma;             /* logit-KD weight (1) */
        double tau;               /* logit temperature > 0 (20) */
        sakd_transform transform; /* proj */
        bool proj_relu;           /* true */
        sakd_distance distance;   /* l2 */
        double feature_tau;       /* τ_f > 0 of the kl distance (1) */
        sakd_position position;   /* stage_after_spike */
        double beta_late;         /* β after beta_epochs epochs (0.01) */
        int beta_epochs;          /* 0 = never switch */
    } distill;
    struct {
        char *out;    /* run directory, "" = chosen by the caller (runs/<id>) */
        char *device; /* device selector, "" = default */
        sakd_gemm_choice gemm_provider;
        sakd_conv_choice conv_provider;
        sakd_spike_choice spike_layers;
        double checkpoint_s; /* also save mid-epoch once this many seconds have passed since the
                                last save (0: at epoch ends only) */
    } run;
    struct {
        sakd_config_sweep_line *lines; /* [count] */
        size_t count;
    } sweep;
} sakd_config;

/* Sets the defaults. On failure (out of memory) *c is left freeable. */
sakd_status sakd_config_init(sakd_config *c);
void sakd_config_free(sakd_config *c); /* strings and the kept [sweep] lines; safe twice */
/* Deep copy into an uninitialized `dst`. */
sakd_status sakd_config_copy(sakd_config *dst, const sakd_config *src);
/* True when every key has the same value (NAN equals NAN) and the [sweep] lines are equal. */
bool sakd_config_equal(const sakd_config *a, const sakd_config *b);

/* Layers an INI file / text over *c (which sakd_config_init set up); later values win over
 * earlier files. Errors name `origin` (the path for a file) and the line: syntax, unknown
 * section or key (with the closest valid one), a value of the wrong type, out of range or not
 * among the choices, a key given twice in the same text. On error *c is unchanged.
 * Lines are limited to inih's line length (ini_max_line, 200 bytes by default). */
sakd_status sakd_config_load_file(sakd_config *c, const char *path);
sakd_status sakd_config_load_string(sakd_config *c, const char *text, const char *origin);

/* The request for sakd_gemm_provider_set: NULL for auto (then $SAKD_GEMM_PROVIDER decides). */
const char *sakd_config_gemm_request(const sakd_config *c);
/* The request for sakd_conv_provider_set: NULL for auto (then $SAKD_CONV_PROVIDER decides). */
const char *sakd_config_conv_request(const sakd_config *c);
/* The request for sakd_spike_layers_set: NULL for auto (then $SAKD_SPIKE_LAYERS decides). */
const char *sakd_config_spike_request(const sakd_config *c);

/* Applies one "section.key=value" assignment; `origin` names it in messages (e.g. "command
 * line"). [sweep] cannot be set this way. On error *c is unchanged. */
sakd_status sakd_config_override(sakd_config *c, const char *assignment, const char *origin);

/* Range and conflict checks of the whole config: errors for values out of range and for
 * contradictions (init_from_teacher without a teacher). Prints nothing. */
sakd_status sakd_config_validate(const sakd_config *c);

/* sakd_log warnings for options of a valid config that have no effect (proj transform with
 * beta = 0, connect on a non-SEW model, ...). Called once by the command that owns the run, so
 * each warning is printed once. */
void sakd_config_warn(const sakd_config *c);

/* Replaces the auto values with what they mean for this config: crop_padding, flip,
 * surrogate_alpha (stays auto for triangle, which has no α) and eval_batch; and a teacher of
 * which nothing is used (no level-1 init, γ 0, β 0, α 1: the student trains as without one)
 * by none, the [distill] keys then those of a run without a teacher (α 1, the defaults), so
 * that such a run has the directly trained run's id. */
void sakd_config_resolve(sakd_config *c);

/* The resolved config as INI text, every key in table order, malloc'ed. Loading it into a
 * fresh config gives the resolved struct back. Fails (SAKD_ERR_ARG) for a string value that
 * INI cannot carry (line breaks, surrounding blanks, " ;") or a line longer than inih reads.
 * [sweep] lines are not written: the text describes one run. */
sakd_status sakd_config_to_ini(const sakd_config *c, char **text);

/* The run id: FNV-1a 64 of the resolved INI text without the keys that do not change the
 * experiment (data.dir, train.resume, run.out, run.device), as 12 lowercase hex digits. */
void sakd_config_id(const sakd_config *c, char out[13]);

/* The keys, "section.key", in table order; NULL past the end. */
const char *sakd_config_key(size_t i);
/* The value of one key ("model.T") as its resolved INI text, malloc'ed. */
sakd_status sakd_config_get(const sakd_config *c, const char *key, char **value);

#endif
