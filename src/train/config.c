/* config.c — the run configuration: a key table drives defaults, INI parsing (inih), overrides,
 * validation, the resolved INI text and the run id. */
#include "train/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/hash.h"
#include "runtime/file.h"
#include "runtime/log.h"
#include "runtime/strbuf.h"

_Static_assert(sizeof(sakd_model_name) == sizeof(int) && sizeof(sakd_surrogate) == sizeof(int),
               "enum fields are written through int pointers");

/* ---- enum name tables --------------------------------------------------------------------- */

typedef struct choice {
    const char *name;
    int value;
} choice;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define MODEL_CHOICE(id, name) {name, SAKD_MODEL_NAME_##id},
static const choice model_names[] = {SAKD_MODEL_NAMES(MODEL_CHOICE)};
/* distill.teacher_model: the same names, and auto (from the checkpoint, else the student's). */
static const choice teacher_model_names[] = {{"auto", SAKD_TEACHER_MODEL_AUTO},
                                             SAKD_MODEL_NAMES(MODEL_CHOICE)};
#undef MODEL_CHOICE
static const choice arch_names[] = {{"ann", SAKD_ARCH_ANN}, {"snn", SAKD_ARCH_SNN}};
static const choice stem_names[] = {{"cifar", SAKD_STEM_CIFAR}, {"imagenet", SAKD_STEM_IMAGENET}};
static const choice connect_names[] = {
    {"add", SAKD_SEW_ADD}, {"and", SAKD_SEW_AND}, {"iand", SAKD_SEW_IAND}};
static const choice reset_names[] = {{"hard", SAKD_LIF_RESET_HARD}, {"soft", SAKD_LIF_RESET_SOFT}};
static const choice surrogate_names[] = {{"triangle", SAKD_SURROGATE_TRIANGLE},
                                         {"sigmoid", SAKD_SURROGATE_SIGMOID},
                                         {"atan", SAKD_SURROGATE_ATAN}};
static const choice dataset_names[] = {{"fashion-mnist", SAKD_DATASET_FASHION_MNIST},
                                       {"mnist", SAKD_DATASET_MNIST},
                                       {"cifar10", SAKD_DATASET_CIFAR10},
                                       {"cifar100", SAKD_DATASET_CIFAR100}};
static const choice optimizer_names[] = {{"sgd", SAKD_OPTIMIZER_SGD},
                                         {"adamw", SAKD_OPTIMIZER_ADAMW}};
static const choice schedule_names[] = {{"cosine", SAKD_SCHEDULE_COSINE},
                                        {"constant", SAKD_SCHEDULE_CONSTANT}};
static const choice transform_names[] = {{"none", SAKD_TRANSFORM_NONE},
                                         {"proj", SAKD_TRANSFORM_PROJ},
                                         {"norm", SAKD_TRANSFORM_NORM},
                                         {"attn", SAKD_TRANSFORM_ATTN}};
static const choice distance_names[] = {
    {"l2", SAKD_DISTANCE_L2}, {"l1", SAKD_DISTANCE_L1}, {"kl", SAKD_DISTANCE_KL}};
static const choice position_names[] = {
    {"stage_after_spike", SAKD_POSITION_STAGE_AFTER_SPIKE},
    {"stage_before_spike", SAKD_POSITION_STAGE_BEFORE_SPIKE},
    {"block_after_spike", SAKD_POSITION_BLOCK_AFTER_SPIKE},
    {"block_before_spike", SAKD_POSITION_BLOCK_BEFORE_SPIKE},
};

static const choice gemm_provider_names[] = {{"auto", SAKD_GEMM_CHOICE_AUTO},
                                             {"clblast", SAKD_GEMM_CHOICE_CLBLAST},
                                             {"host", SAKD_GEMM_CHOICE_HOST}};

static const choice conv_provider_names[] = {{"auto", SAKD_CONV_CHOICE_AUTO},
                                             {"im2col", SAKD_CONV_CHOICE_IM2COL},
                                             {"onednn", SAKD_CONV_CHOICE_ONEDNN}};

static const choice spike_layers_names[] = {{"auto", SAKD_SPIKE_CHOICE_AUTO},
                                            {"dense", SAKD_SPIKE_CHOICE_DENSE},
                                            {"spike", SAKD_SPIKE_CHOICE_SPIKE}};

static const char *choice_name(const choice *table, size_t n, int value)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].value == value)
            return table[i].name;
    return NULL;
}

#define ENUM_STR(fn, type, table)                                                                  \
    const char *fn(type v)                                                                         \
    {                                                                                              \
        return choice_name(table, COUNT(table), (int)v);                                           \
    }
ENUM_STR(sakd_model_name_str, sakd_model_name, model_names)
ENUM_STR(sakd_arch_str, sakd_arch, arch_names)
ENUM_STR(sakd_stem_str, sakd_stem, stem_names)
ENUM_STR(sakd_connect_str, sakd_sew_connect, connect_names)
ENUM_STR(sakd_reset_str, sakd_lif_reset, reset_names)
ENUM_STR(sakd_surrogate_str, sakd_surrogate, surrogate_names)
ENUM_STR(sakd_dataset_str, sakd_dataset_id, dataset_names)
ENUM_STR(sakd_optimizer_str, sakd_optimizer, optimizer_names)
ENUM_STR(sakd_schedule_str, sakd_schedule, schedule_names)
ENUM_STR(sakd_transform_str, sakd_transform, transform_names)
ENUM_STR(sakd_distance_str, sakd_distance, distance_names)
ENUM_STR(sakd_gemm_choice_str, sakd_gemm_choice, gemm_provider_names)
ENUM_STR(sakd_conv_choice_str, sakd_conv_choice, conv_provider_names)
ENUM_STR(sakd_spike_choice_str, sakd_spike_choice, spike_layers_names)

const char *sakd_config_spike_request(const sakd_config *c)
{
    return c->run.spike_layers == SAKD_SPIKE_CHOICE_AUTO
               ? NULL
               : sakd_spike_choice_str(c->run.spike_layers);
}

const char *sakd_config_conv_request(const sakd_config *c)
{
    return c->run.conv_provider == SAKD_CONV_CHOICE_AUTO
               ? NULL
               : sakd_conv_choice_str(c->run.conv_provider);
}

const char *sakd_config_gemm_request(const sakd_config *c)
{
    return c->run.gemm_provider == SAKD_GEMM_CHOICE_AUTO
               ? NULL
               : sakd_gemm_choice_str(c->run.gemm_provider);
}
ENUM_STR(sakd_position_str, sakd_position, position_names)

bool sakd_model_name_is_sew(sakd_model_name v)
{
    return v >= SAKD_MODEL_NAME_SEW_RESNET18 && v <= SAKD_MODEL_NAME_SEW_RESNET152;
}

/* ---- the key table ------------------------------------------------------------------------ */

typedef enum key_type {
    KEY_BOOL,      /* bool */
    KEY_BOOL_AUTO, /* int: 0, 1 or SAKD_CONFIG_AUTO */
    KEY_INT,       /* int */
    KEY_INT_AUTO,  /* int, or SAKD_CONFIG_AUTO */
    KEY_LLONG,     /* long long */
    KEY_U64,       /* unsigned long long */
    KEY_REAL,      /* double */
    KEY_REAL_AUTO, /* double, or NAN = auto */
    KEY_ENUM,      /* int-sized enum */
    KEY_STRING,    /* char *, never NULL */
} key_type;

enum {
    HAS_MIN = 1,    /* value >= min */
    HAS_MAX = 2,    /* value <= max */
    MIN_OPEN = 4,   /* value > min */
    MAX_OPEN = 8,   /* value < max */
    NOT_IN_ID = 16, /* where or how, not what: left out of the run id */
    /* Added after run ids were published: in the id only when set (not auto, not 0), so that
     * the runs made before the key existed keep their ids. */
    ID_IF_SET = 32,
};

typedef struct key_def {
    const char *section;
    const char *name;
    key_type type;
    size_t offset;
    const choice *choices;
    size_t nchoices;
    unsigned flags;
    double min, max;
} key_def;

#define OFF(field) offsetof(sakd_config, field)
/* The last arguments: flags, min, max; or one of GE(lo), GT(lo), NO_RANGE. */
#define SCALAR(sec, name, type, field, ...)                                                        \
    {                                                                                              \
        sec, name, type, OFF(field), NULL, 0, __VA_ARGS__                                          \
    }
#define ENUMKEY(sec, name, field, table)                                                           \
    {                                                                                              \
        sec, name, KEY_ENUM, OFF(field), table, COUNT(table), 0, 0, 0                              \
    }
#define STRKEY(sec, name, field, flags)                                                            \
    {                                                                                              \
        sec, name, KEY_STRING, OFF(field), NULL, 0, flags, 0, 0                                    \
    }
#define GE(lo) (HAS_MIN), lo, 0
#define GT(lo) (HAS_MIN | MIN_OPEN), lo, 0
#define NO_RANGE 0, 0, 0

static const key_def keys[] = {
    ENUMKEY("model", "name", model.name, model_names),
    ENUMKEY("model", "arch", model.arch, arch_names),
    SCALAR("model", "width", KEY_REAL, model.width, GT(0)),
    ENUMKEY("model", "stem", model.stem, stem_names),
    ENUMKEY("model", "connect", model.connect, connect_names),
    SCALAR("model", "T", KEY_INT, model.T, GE(1)),
    SCALAR("model", "decay", KEY_REAL, model.decay, HAS_MIN | HAS_MAX, 0, 1),
    SCALAR("model", "threshold", KEY_REAL, model.threshold, GT(0)),
    ENUMKEY("model", "reset", model.reset, reset_names),
    SCALAR("model", "detach_reset", KEY_BOOL, model.detach_reset, NO_RANGE),
    ENUMKEY("model", "surrogate", model.surrogate, surrogate_names),
    SCALAR("model", "surrogate_alpha", KEY_REAL_AUTO, model.surrogate_alpha, GT(0)),
    SCALAR("model", "dropout", KEY_REAL_AUTO, model.dropout,
           ID_IF_SET | HAS_MIN | HAS_MAX | MAX_OPEN, 0, 1),

    ENUMKEY("data", "dataset", data.dataset, dataset_names),
    STRKEY("data", "dir", data.dir, NOT_IN_ID),
    SCALAR("data", "train_limit", KEY_LLONG, data.train_limit, GE(0)),
    SCALAR("data", "test_limit", KEY_LLONG, data.test_limit, GE(0)),
    SCALAR("data", "crop_padding", KEY_INT_AUTO, data.crop_padding, GE(0)),
    SCALAR("data", "flip", KEY_BOOL_AUTO, data.flip, NO_RANGE),

    SCALAR("train", "epochs", KEY_INT, train.epochs, GE(1)),
    SCALAR("train", "batch", KEY_INT, train.batch, GE(1)),
    SCALAR("train", "eval_batch", KEY_INT, train.eval_batch, GE(0)),
    ENUMKEY("train", "optimizer", train.optimizer, optimizer_names),
    SCALAR("train", "lr", KEY_REAL, train.lr, GE(0)),
    SCALAR("train", "momentum", KEY_REAL, train.momentum, HAS_MIN | HAS_MAX | MAX_OPEN, 0, 1),
    SCALAR("train", "nesterov", KEY_BOOL, train.nesterov, NO_RANGE),
    SCALAR("train", "weight_decay", KEY_REAL, train.weight_decay, GE(0)),
    ENUMKEY("train", "schedule", train.schedule, schedule_names),
    SCALAR("train", "warmup_epochs", KEY_INT, train.warmup_epochs, GE(0)),
    SCALAR("train", "seed", KEY_U64, train.seed, NO_RANGE),
    STRKEY("train", "resume", train.resume, NOT_IN_ID),
    SCALAR("train", "grad_clip", KEY_REAL, train.grad_clip, GE(0)),
    SCALAR("train", "sync_bn", KEY_BOOL, train.sync_bn, ID_IF_SET, 0, 0),

    STRKEY("distill", "teacher", distill.teacher, 0),
    {"distill", "teacher_model", KEY_ENUM, OFF(distill.teacher_model), teacher_model_names,
     COUNT(teacher_model_names), ID_IF_SET, 0, 0},
    SCALAR("distill", "teacher_width", KEY_REAL, distill.teacher_width, ID_IF_SET | HAS_MIN, 0, 0),
    SCALAR("distill", "init_from_teacher", KEY_BOOL, distill.init_from_teacher, NO_RANGE),
    SCALAR("distill", "alpha", KEY_REAL, distill.alpha, GE(0)),
    SCALAR("distill", "beta", KEY_REAL, distill.beta, GE(0)),
    SCALAR("distill", "gamma", KEY_REAL, distill.gamma, GE(0)),
    SCALAR("distill", "tau", KEY_REAL, distill.tau, GT(0)),
    ENUMKEY("distill", "transform", distill.transform, transform_names),
    SCALAR("distill", "proj_relu", KEY_BOOL, distill.proj_relu, NO_RANGE),
    ENUMKEY("distill", "distance", distill.distance, distance_names),
    SCALAR("distill", "feature_tau", KEY_REAL, distill.feature_tau, GT(0)),
    ENUMKEY("distill", "position", distill.position, position_names),
    SCALAR("distill", "beta_late", KEY_REAL, distill.beta_late, GE(0)),
    SCALAR("distill", "beta_epochs", KEY_INT, distill.beta_epochs, GE(0)),

    STRKEY("run", "out", run.out, NOT_IN_ID),
    STRKEY("run", "device", run.device, NOT_IN_ID),
    {"run", "gemm_provider", KEY_ENUM, OFF(run.gemm_provider), gemm_provider_names,
     COUNT(gemm_provider_names), NOT_IN_ID, 0, 0},
    {"run", "conv_provider", KEY_ENUM, OFF(run.conv_provider), conv_provider_names,
     COUNT(conv_provider_names), NOT_IN_ID, 0, 0},
    {"run", "spike_layers", KEY_ENUM, OFF(run.spike_layers), spike_layers_names,
     COUNT(spike_layers_names), NOT_IN_ID, 0, 0},
    SCALAR("run", "checkpoint_s", KEY_REAL, run.checkpoint_s, NOT_IN_ID | HAS_MIN, 0, 0),
};
#define NKEYS COUNT(keys)

static const char *const sections[] = {"model", "data", "train", "distill", "run", "sweep"};

/* The [distill] defaults but distill.teacher and distill.alpha. */
static void distill_defaults(sakd_config *c)
{
    c->distill.init_from_teacher = false;
    c->distill.teacher_model = SAKD_TEACHER_MODEL_AUTO;
    c->distill.teacher_width = 0;
    c->distill.beta = 100;
    c->distill.gamma = 1;
    c->distill.tau = 20;
    c->distill.transform = SAKD_TRANSFORM_PROJ;
    c->distill.proj_relu = true;
    c->distill.distance = SAKD_DISTANCE_L2;
    c->distill.feature_tau = 1;
    c->distill.position = SAKD_POSITION_STAGE_AFTER_SPIKE;
    c->distill.beta_late = 0.01;
    c->distill.beta_epochs = 0;
}

/* A teacher of which nothing is used — no level-1 init, no logit KD (γ 0), no feature KD (β 0,
 * and none later) — with the cross-entropy at weight 1 trains the student exactly as no teacher
 * does (the same bits: the teacher's forward pass and the projection heads touch nothing of
 * the student; Table 7's all-off cell). */
static bool teacher_unused(const sakd_config *c)
{
    return c->distill.teacher && c->distill.teacher[0] && !c->distill.init_from_teacher &&
           c->distill.gamma == 0 && c->distill.beta == 0 &&
           (c->distill.beta_epochs == 0 || c->distill.beta_late == 0) && c->distill.alpha == 1;
}

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, type) ((const type *)((const char *)(c) + (k)->offset))

const char *sakd_config_key(size_t i)
{
    static char names[NKEYS][48];
    if (i >= NKEYS)
        return NULL;
    if (!names[i][0])
        snprintf(names[i], sizeof names[i], "%s.%s", keys[i].section, keys[i].name);
    return names[i];
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- init, free, copy, equal ---------------------------------------------------------------- */

void sakd_config_free(sakd_config *c)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == KEY_STRING) {
            char **s = FIELD(c, &keys[i], char *);
            free(*s);
            *s = NULL;
        }
    for (size_t i = 0; i < c->sweep.count; i++) {
        free(c->sweep.lines[i].key);
        free(c->sweep.lines[i].value);
        free(c->sweep.lines[i].origin);
    }
    free(c->sweep.lines);
    c->sweep.lines = NULL;
    c->sweep.count = 0;
}

sakd_status sakd_config_init(sakd_config *c)
{
    memset(c, 0, sizeof *c);
    c->model.name = SAKD_MODEL_NAME_RESNET19;
    c->model.arch = SAKD_ARCH_SNN;
    c->model.width = 1.0;
    c->model.stem = SAKD_STEM_CIFAR;
    c->model.connect = SAKD_SEW_ADD;
    c->model.T = 4;
    c->model.decay = 0.5;
    c->model.threshold = 1.0;
    c->model.reset = SAKD_LIF_RESET_HARD;
    c->model.detach_reset = false;
    c->model.surrogate = SAKD_SURROGATE_TRIANGLE;
    c->model.surrogate_alpha = NAN;
    c->model.dropout = NAN;

    c->data.dataset = SAKD_DATASET_FASHION_MNIST;
    c->data.train_limit = 0;
    c->data.test_limit = 0;
    c->data.crop_padding = SAKD_CONFIG_AUTO;
    c->data.flip = SAKD_CONFIG_AUTO;

    c->train.epochs = 20;
    c->train.batch = 128;
    c->train.eval_batch = 0;
    c->train.optimizer = SAKD_OPTIMIZER_SGD;
    c->train.lr = 0.1;
    c->train.momentum = 0.9;
    c->train.nesterov = true;
    c->train.weight_decay = 5e-4;
    c->train.schedule = SAKD_SCHEDULE_COSINE;
    c->train.warmup_epochs = 0;
    c->train.seed = 1;
    c->train.grad_clip = 0;
    c->train.sync_bn = false;

    c->distill.alpha = 0;
    distill_defaults(c);

    c->run.checkpoint_s = 600;

    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == KEY_STRING) {
            char **s = FIELD(c, &keys[i], char *);
            if (!(*s = dup_string(""))) {
                sakd_config_free(c);
                return sakd_error(SAKD_ERR_NOMEM, "out of memory for the config");
            }
        }
    return SAKD_OK;
}

static sakd_status sweep_append(sakd_config *c, const char *key, const char *value,
                                const char *origin, int line)
{
    sakd_config_sweep_line *grown =
        realloc(c->sweep.lines, (c->sweep.count + 1) * sizeof *c->sweep.lines);
    if (!grown)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the [sweep] lines");
    c->sweep.lines = grown;
    sakd_config_sweep_line *l = &grown[c->sweep.count];
    l->key = dup_string(key);
    l->value = dup_string(value);
    l->origin = dup_string(origin);
    l->line = line;
    if (!l->key || !l->value || !l->origin) {
        free(l->key);
        free(l->value);
        free(l->origin);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for the [sweep] lines");
    }
    c->sweep.count++;
    return SAKD_OK;
}

sakd_status sakd_config_copy(sakd_config *dst, const sakd_config *src)
{
    *dst = *src;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == KEY_STRING)
            *FIELD(dst, &keys[i], char *) = NULL;
    dst->sweep.lines = NULL;
    dst->sweep.count = 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == KEY_STRING) {
            char **s = FIELD(dst, &keys[i], char *);
            if (!(*s = dup_string(str_or_empty(*CFIELD(src, &keys[i], char *))))) {
                sakd_config_free(dst);
                return sakd_error(SAKD_ERR_NOMEM, "out of memory copying the config");
            }
        }
    for (size_t i = 0; i < src->sweep.count; i++) {
        const sakd_config_sweep_line *l = &src->sweep.lines[i];
        sakd_status st = sweep_append(dst, l->key, l->value, l->origin, l->line);
        if (st != SAKD_OK) {
            sakd_config_free(dst);
            return st;
        }
    }
    return SAKD_OK;
}

static bool key_equal(const sakd_config *a, const sakd_config *b, const key_def *k)
{
    switch (k->type) {
    case KEY_BOOL: return *CFIELD(a, k, bool) == *CFIELD(b, k, bool);
    case KEY_BOOL_AUTO:
    case KEY_INT:
    case KEY_INT_AUTO:
    case KEY_ENUM: return *CFIELD(a, k, int) == *CFIELD(b, k, int);
    case KEY_LLONG: return *CFIELD(a, k, long long) == *CFIELD(b, k, long long);
    case KEY_U64: return *CFIELD(a, k, unsigned long long) == *CFIELD(b, k, unsigned long long);
    case KEY_REAL:
    case KEY_REAL_AUTO: {
        double x = *CFIELD(a, k, double), y = *CFIELD(b, k, double);
        return x == y || (isnan(x) && isnan(y));
    }
    case KEY_STRING:
        return !strcmp(str_or_empty(*CFIELD(a, k, char *)), str_or_empty(*CFIELD(b, k, char *)));
    }
    return false;
}

bool sakd_config_equal(const sakd_config *a, const sakd_config *b)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!key_equal(a, b, &keys[i]))
            return false;
    if (a->sweep.count != b->sweep.count)
        return false;
    for (size_t i = 0; i < a->sweep.count; i++) {
        const sakd_config_sweep_line *x = &a->sweep.lines[i], *y = &b->sweep.lines[i];
        if (strcmp(x->key, y->key) || strcmp(x->value, y->value) || strcmp(x->origin, y->origin) ||
            x->line != y->line)
            return false;
    }
    return true;
}

/* ---- suggestions ---------------------------------------------------------------------------- */

/* Levenshtein distance, ignoring case; names longer than 63 characters are cut there. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63)
        n = 63;
    if (m > 63)
        m = 63;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (m + 1) * sizeof prev[0]);
    }
    return prev[m];
}

static bool section_known(const char *s)
{
    for (size_t i = 0; i < COUNT(sections); i++)
        if (!strcmp(s, sections[i]))
            return true;
    return false;
}

static const char *closest_section(const char *s)
{
    const char *best = sections[0];
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < COUNT(sections); i++) {
        size_t d = edit_distance(s, sections[i]);
        if (d < best_d) {
            best_d = d;
            best = sections[i];
        }
    }
    return best;
}

static const key_def *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* The key to suggest for an unknown section.name: the same name (ignoring case) in another
 * section, else the closest name of this section, else the closest of all keys. */
static const key_def *closest_key(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcasecmp(keys[i].name, name))
            return &keys[i];
    const key_def *best = &keys[0];
    size_t best_d = SIZE_MAX;
    bool in_section = false;
    for (size_t i = 0; i < NKEYS; i++) {
        bool same = !strcmp(keys[i].section, section);
        size_t d = edit_distance(name, keys[i].name);
        if ((same && !in_section) || (same == in_section && d < best_d)) {
            best = &keys[i];
            best_d = d;
            in_section = same;
        }
    }
    return best;
}

static sakd_status unknown_key_error(const char *where, const char *section, const char *name)
{
    const key_def *k = closest_key(section, name);
    return sakd_error(SAKD_ERR_ARG, "%s: unknown key `%s.%s` (did you mean `%s.%s`?)", where,
                      section, name, k->section, k->name);
}

/* ---- values --------------------------------------------------------------------------------- */

static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return 1;
        if (!strcasecmp(v, no[i]))
            return 0;
    }
    return -1;
}

static bool parse_llong(const char *v, long long *out, bool *overflow)
{
    char *end;
    errno = 0;
    *overflow = false;
    if (!*v || isspace((unsigned char)*v))
        return false;
    long long x = strtoll(v, &end, 10);
    if (*end)
        return false;
    if (errno == ERANGE)
        *overflow = true;
    *out = x;
    return true;
}

static bool parse_real(const char *v, double *out)
{
    char *end;
    if (!*v || isspace((unsigned char)*v))
        return false;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || !isfinite(x) || (errno == ERANGE && fabs(x) > 1.0))
        return false;
    *out = x;
    return true;
}

/* Shortest "%.*g" text that reads back as exactly x, without an exponent for 1e-4 <= |x| <
 * 1e17 (100, not 1e+02). */
static void format_real(char *buf, size_t size, double x)
{
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    const char *e = strchr(buf, 'e');
    if (e) {
        int exponent = atoi(e + 1);
        if (exponent >= 0 && exponent < 17 && exponent + 1 > p)
            snprintf(buf, size, "%.*g", exponent + 1, x);
    }
}

static void range_text(const key_def *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    format_real(lo, sizeof lo, k->min);
    format_real(hi, sizeof hi, k->max);
    if ((k->flags & HAS_MIN) && (k->flags & HAS_MAX))
        snprintf(buf, size, "in %s%s, %s%s", k->flags & MIN_OPEN ? "(" : "[", lo, hi,
                 k->flags & MAX_OPEN ? ")" : "]");
    else if (k->flags & HAS_MIN)
        snprintf(buf, size, "%s %s", k->flags & MIN_OPEN ? ">" : ">=", lo);
    else
        snprintf(buf, size, "%s %s", k->flags & MAX_OPEN ? "<" : "<=", hi);
}

static bool in_range(const key_def *k, double x)
{
    if (k->flags & HAS_MIN) {
        if ((k->flags & MIN_OPEN) ? !(x > k->min) : !(x >= k->min))
            return false;
    }
    if (k->flags & HAS_MAX) {
        if ((k->flags & MAX_OPEN) ? !(x < k->max) : !(x <= k->max))
            return false;
    }
    return true;
}

static sakd_status range_error(const char *where, const key_def *k, const char *value)
{
    char r[96];
    range_text(k, r, sizeof r);
    return sakd_error(SAKD_ERR_ARG, "%s%s%s.%s = %s is out of range (must be %s)", where,
                      *where ? ": " : "", k->section, k->name, value, r);
}

static sakd_status type_error(const char *where, const key_def *k, const char *value,
                              const char *expected)
{
    return sakd_error(SAKD_ERR_ARG, "%s: %s.%s = `%s`: expected %s", where, k->section, k->name,
                      value, expected);
}

/* Parses `value` for key k and stores it in c; `where` ("file:line") starts the messages. */
/* Kept whole (~100 lines): one switch over the key table's types, each case short and alike. */
static sakd_status set_value(sakd_config *c, const key_def *k, const char *value, const char *where)
{
    bool is_auto = !strcasecmp(value, "auto");
    switch (k->type) {
    case KEY_BOOL:
    case KEY_BOOL_AUTO: {
        if (k->type == KEY_BOOL_AUTO && is_auto) {
            *FIELD(c, k, int) = SAKD_CONFIG_AUTO;
            return SAKD_OK;
        }
        int b = parse_bool(value);
        if (b < 0)
            return type_error(where, k, value,
                              k->type == KEY_BOOL
                                  ? "a boolean (true/false, yes/no, on/off, 1/0)"
                                  : "a boolean (true/false, yes/no, on/off, 1/0) or auto");
        if (k->type == KEY_BOOL)
            *FIELD(c, k, bool) = b;
        else
            *FIELD(c, k, int) = b;
        return SAKD_OK;
    }
    case KEY_INT:
    case KEY_INT_AUTO:
    case KEY_LLONG: {
        if (k->type == KEY_INT_AUTO && is_auto) {
            *FIELD(c, k, int) = SAKD_CONFIG_AUTO;
            return SAKD_OK;
        }
        long long x;
        bool overflow;
        if (!parse_llong(value, &x, &overflow))
            return type_error(where, k, value,
                              k->type == KEY_INT_AUTO ? "an integer or auto" : "an integer");
        if (overflow || (k->type != KEY_LLONG && (x < INT_MIN || x > INT_MAX)))
            return sakd_error(SAKD_ERR_ARG, "%s: %s.%s = %s is too large", where, k->section,
                              k->name, value);
        if (!in_range(k, (double)x))
            return range_error(where, k, value);
        if (k->type == KEY_LLONG)
            *FIELD(c, k, long long) = x;
        else
            *FIELD(c, k, int) = (int)x;
        return SAKD_OK;
    }
    case KEY_U64: {
        char *end;
        errno = 0;
        if (!isdigit((unsigned char)value[0]))
            return type_error(where, k, value, "an unsigned integer");
        unsigned long long x = strtoull(value, &end, 10);
        if (*end)
            return type_error(where, k, value, "an unsigned integer");
        if (errno == ERANGE)
            return sakd_error(SAKD_ERR_ARG, "%s: %s.%s = %s is too large (max %llu)", where,
                              k->section, k->name, value, ULLONG_MAX);
        *FIELD(c, k, unsigned long long) = x;
        return SAKD_OK;
    }
    case KEY_REAL:
    case KEY_REAL_AUTO: {
        if (k->type == KEY_REAL_AUTO && is_auto) {
            *FIELD(c, k, double) = NAN;
            return SAKD_OK;
        }
        double x;
        if (!parse_real(value, &x))
            return type_error(where, k, value,
                              k->type == KEY_REAL_AUTO ? "a finite number or auto"
                                                       : "a finite number");
        if (!in_range(k, x))
            return range_error(where, k, value);
        *FIELD(c, k, double) = x;
        return SAKD_OK;
    }
    case KEY_ENUM: {
        for (size_t i = 0; i < k->nchoices; i++)
            if (!strcasecmp(value, k->choices[i].name)) {
                *FIELD(c, k, int) = k->choices[i].value;
                return SAKD_OK;
            }
        char list[256] = "";
        for (size_t i = 0; i < k->nchoices; i++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", k->choices[i].name);
        }
        return sakd_error(SAKD_ERR_ARG, "%s: %s.%s = `%s` is not one of: %s", where, k->section,
                          k->name, value, list);
    }
    case KEY_STRING: {
        char *s = dup_string(value);
        if (!s)
            return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s.%s", k->section, k->name);
        char **field = FIELD(c, k, char *);
        free(*field);
        *field = s;
        return SAKD_OK;
    }
    }
    return sakd_error(SAKD_ERR_ARG, "%s.%s has no type", k->section, k->name);
}

/* ---- INI parsing ---------------------------------------------------------------------------- */

typedef struct parser {
    sakd_config *c;
    const char *origin;
    const char *text;   /* the whole input */
    size_t pos;         /* next unread byte */
    int line;           /* number of the line last handed to inih */
    bool indented;      /* that line starts with a blank */
    int seen[NKEYS];    /* line where each key was set in this text, 0 = not yet */
    size_t sweep_first; /* index of the first [sweep] line of this text */
    char prev_key[160];
    sakd_status st;
} parser;

/* inih's fgets: one line per call, counted, so that handler errors know their line. Checks
 * section headers here because inih does not report a section that has no keys. */
static char *parser_read(char *buf, int size, void *stream)
{
    parser *p = stream;
    if (p->st != SAKD_OK || !p->text[p->pos])
        return NULL;
    const char *start = p->text + p->pos;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) : strlen(start);
    p->pos += len + (nl ? 1 : 0);
    p->line++;
    if (len + 2 > (size_t)size) {
        p->st = sakd_error(SAKD_ERR_FORMAT, "%s:%d: line longer than %d characters", p->origin,
                           p->line, size - 3);
        return NULL;
    }
    memcpy(buf, start, len);
    if (nl)
        buf[len++] = '\n';
    buf[len] = '\0';

    const char *s = buf;
    if (p->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    p->indented = isspace((unsigned char)s[0]) && s[0] != '\n' && s[0] != '\r';
    /* Syntax errors are found here too, so that they are reported before any error that
     * inih's later lines would raise in the handler. */
    const char *t = s;
    while (*t && isspace((unsigned char)*t))
        t++;
    bool blank_or_comment = !*t || strchr(";#", *t);
    bool continuation = p->indented && p->prev_key[0];
    if (!blank_or_comment && !continuation &&
        ((t[0] == '[' && !strchr(t, ']')) || (t[0] != '[' && !strpbrk(t, "=:")))) {
        char shown[96];
        snprintf(shown, sizeof shown, "%.*s", (int)strcspn(t, "\r\n"), t);
        p->st = sakd_error(SAKD_ERR_FORMAT,
                           "%s:%d: syntax error: `%s` is neither `[section]` nor `key = value`",
                           p->origin, p->line, shown);
        return NULL;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close) {
            char name[128];
            size_t n = (size_t)(close - s - 1);
            if (n >= sizeof name)
                n = sizeof name - 1;
            memcpy(name, s + 1, n);
            name[n] = '\0';
            if (!section_known(name)) {
                p->st = sakd_error(SAKD_ERR_ARG, "%s:%d: unknown section [%s] (did you mean [%s]?)",
                                   p->origin, p->line, name, closest_section(name));
                return NULL;
            }
        }
        p->prev_key[0] = '\0';
    }
    return buf;
}

static int parser_handle(void *user, const char *section, const char *name, const char *value)
{
    parser *p = user;
    if (p->st != SAKD_OK)
        return 0;
    char where[512];
    snprintf(where, sizeof where, "%s:%d", p->origin, p->line);
    char full[160];
    snprintf(full, sizeof full, "%s.%s", section, name);
    if (p->indented && !strcmp(full, p->prev_key)) {
        p->st = sakd_error(SAKD_ERR_FORMAT,
                           "%s: indented line continues `%s` over several lines, which a config "
                           "does not allow",
                           where, full);
        return 0;
    }
    snprintf(p->prev_key, sizeof p->prev_key, "%s", full);
    if (!*section) {
        p->st = sakd_error(SAKD_ERR_ARG, "%s: key `%s` is outside any section", where, name);
        return 0;
    }
    if (!strcmp(section, "sweep")) {
        for (size_t i = p->sweep_first; i < p->c->sweep.count; i++)
            if (!strcmp(p->c->sweep.lines[i].key, name)) {
                p->st = sakd_error(SAKD_ERR_ARG, "%s: duplicate key sweep.%s (first on line %d)",
                                   where, name, p->c->sweep.lines[i].line);
                return 0;
            }
        p->st = sweep_append(p->c, name, value, p->origin, p->line);
        return p->st == SAKD_OK;
    }
    if (!section_known(section)) {
        p->st = sakd_error(SAKD_ERR_ARG, "%s: unknown section [%s] (did you mean [%s]?)", where,
                           section, closest_section(section));
        return 0;
    }
    const key_def *k = find_key(section, name);
    if (!k) {
        p->st = unknown_key_error(where, section, name);
        return 0;
    }
    size_t idx = (size_t)(k - keys);
    if (p->seen[idx]) {
        p->st = sakd_error(SAKD_ERR_ARG, "%s: duplicate key %s.%s (first set on line %d)", where,
                           section, name, p->seen[idx]);
        return 0;
    }
    p->seen[idx] = p->line;
    p->st = set_value(p->c, k, value, where);
    return p->st == SAKD_OK;
}

/* The text of line `n` (1-based) of `text`, cut to fit `buf`. */
static void nth_line(const char *text, int n, char *buf, size_t size)
{
    for (int i = 1; i < n && text; i++) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    if (!text) {
        buf[0] = '\0';
        return;
    }
    size_t len = strcspn(text, "\r\n");
    if (len >= size)
        len = size - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
}

sakd_status sakd_config_load_string(sakd_config *c, const char *text, const char *origin)
{
    if (!c || !text)
        return sakd_error(SAKD_ERR_ARG, "sakd_config_load_string: NULL %s", c ? "text" : "config");
    if (!origin)
        origin = "<string>";
    parser *p = calloc(1, sizeof *p);
    if (!p)
        return sakd_error(SAKD_ERR_NOMEM, "out of memory parsing %s", origin);
    sakd_config tmp;
    sakd_status st = sakd_config_copy(&tmp, c);
    if (st != SAKD_OK) {
        free(p);
        return st;
    }
    p->c = &tmp;
    p->origin = origin;
    p->text = text;
    p->sweep_first = tmp.sweep.count;
    int ret = ini_parse_stream(parser_read, p, parser_handle, p);
    st = p->st;
    if (st == SAKD_OK && ret == -2)
        st = sakd_error(SAKD_ERR_NOMEM, "out of memory parsing %s", origin);
    else if (st == SAKD_OK && ret != 0) {
        char line[96];
        nth_line(text, ret, line, sizeof line);
        st = sakd_error(SAKD_ERR_FORMAT,
                        "%s:%d: syntax error: `%s` is neither `[section]` nor `key = value`",
                        origin, ret, line);
    }
    free(p);
    if (st != SAKD_OK) {
        sakd_config_free(&tmp);
        return st;
    }
    sakd_config_free(c);
    *c = tmp;
    return SAKD_OK;
}

sakd_status sakd_config_load_file(sakd_config *c, const char *path)
{
    char *text;
    size_t size;
    SAKD_TRY(sakd_file_read(path, &text, &size));
    sakd_status st;
    if (strlen(text) != size)
        st = sakd_error(SAKD_ERR_FORMAT, "%s: contains a NUL byte (not a text file)", path);
    else
        st = sakd_config_load_string(c, text, path);
    free(text);
    return st;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

sakd_status sakd_config_override(sakd_config *c, const char *assignment, const char *origin)
{
    if (!c || !assignment)
        return sakd_error(SAKD_ERR_ARG, "sakd_config_override: NULL %s",
                          c ? "assignment" : "config");
    char where[512];
    snprintf(where, sizeof where, "%s argument `%s`", origin ? origin : "override", assignment);
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return sakd_error(SAKD_ERR_ARG, "%s: expected section.key=value", where);
    size_t klen = (size_t)(eq - assignment);
    char *key = malloc(klen + 1), *value = dup_string(eq + 1);
    if (!key || !value) {
        free(key);
        free(value);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory for %s", where);
    }
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    trim(key);
    trim(value);
    sakd_status st = SAKD_OK;
    char *dot = strchr(key, '.');
    const key_def *k = NULL;
    if (!dot) {
        const key_def *s = closest_key("", key);
        st = sakd_error(SAKD_ERR_ARG,
                        "%s: `%s` has no section (expected section.key=value; did "
                        "you mean `%s.%s`?)",
                        where, key, s->section, s->name);
    } else {
        *dot = '\0';
        const char *section = key, *name = dot + 1;
        if (!strcmp(section, "sweep"))
            st = sakd_error(SAKD_ERR_ARG, "%s: [sweep] lines belong in a sweep file", where);
        else if (!section_known(section))
            st = sakd_error(SAKD_ERR_ARG, "%s: unknown section `%s` (did you mean `%s`?)", where,
                            section, closest_section(section));
        else if (!(k = find_key(section, name)))
            st = unknown_key_error(where, section, name);
    }
    if (st == SAKD_OK) {
        sakd_config tmp;
        st = sakd_config_copy(&tmp, c);
        if (st == SAKD_OK) {
            st = set_value(&tmp, k, value, where);
            if (st == SAKD_OK) {
                sakd_config_free(c);
                *c = tmp;
            } else {
                sakd_config_free(&tmp);
            }
        }
    }
    free(key);
    free(value);
    return st;
}

/* ---- validation ----------------------------------------------------------------------------- */

static bool is_auto_value(const sakd_config *c, const key_def *k)
{
    switch (k->type) {
    case KEY_BOOL_AUTO:
    case KEY_INT_AUTO: return *CFIELD(c, k, int) == SAKD_CONFIG_AUTO;
    case KEY_REAL_AUTO: return isnan(*CFIELD(c, k, double));
    default: return false;
    }
}

sakd_status sakd_config_validate(const sakd_config *c)
{
    if (!c)
        return sakd_error(SAKD_ERR_ARG, "sakd_config_validate: NULL config");
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        if (is_auto_value(c, k))
            continue;
        char text[64];
        double x;
        switch (k->type) {
        case KEY_BOOL_AUTO: {
            int v = *CFIELD(c, k, int);
            if (v != 0 && v != 1)
                return sakd_error(SAKD_ERR_ARG, "%s.%s = %d is not a boolean", k->section, k->name,
                                  v);
            continue;
        }
        case KEY_INT:
        case KEY_INT_AUTO:
            x = *CFIELD(c, k, int);
            snprintf(text, sizeof text, "%d", *CFIELD(c, k, int));
            break;
        case KEY_LLONG:
            x = (double)*CFIELD(c, k, long long);
            snprintf(text, sizeof text, "%lld", *CFIELD(c, k, long long));
            break;
        case KEY_REAL:
        case KEY_REAL_AUTO:
            x = *CFIELD(c, k, double);
            if (!isfinite(x))
                return sakd_error(SAKD_ERR_ARG, "%s.%s is not a finite number", k->section,
                                  k->name);
            format_real(text, sizeof text, x);
            break;
        case KEY_ENUM:
            if (!choice_name(k->choices, k->nchoices, *CFIELD(c, k, int)))
                return sakd_error(SAKD_ERR_ARG, "%s.%s = %d is not a valid choice", k->section,
                                  k->name, *CFIELD(c, k, int));
            continue;
        case KEY_STRING:
            if (!*CFIELD(c, k, char *))
                return sakd_error(SAKD_ERR_ARG, "%s.%s is NULL (use \"\" for unset)", k->section,
                                  k->name);
            continue;
        default: continue;
        }
        if ((k->flags & (HAS_MIN | HAS_MAX)) && !in_range(k, x))
            return range_error("", k, text);
    }

    if (c->distill.init_from_teacher && c->distill.teacher[0] == '\0')
        return sakd_error(SAKD_ERR_ARG,
                          "distill.init_from_teacher = true needs a teacher (distill.teacher)");
    return SAKD_OK;
}

void sakd_config_warn(const sakd_config *c)
{
    if (teacher_unused(c))
        sakd_log(SAKD_LOG_WARN, "config: nothing of the teacher is used (distill.init_from_teacher "
                                "false, gamma 0, beta 0, alpha 1): trained as without one, the "
                                "teacher not loaded");
    bool distilling = c->distill.teacher[0] != '\0' && !teacher_unused(c);
    if (!distilling &&
        (c->distill.teacher_model != SAKD_TEACHER_MODEL_AUTO || c->distill.teacher_width > 0))
        sakd_log(SAKD_LOG_WARN, "config: distill.teacher_model / teacher_width have no effect "
                                "without a teacher (distill.teacher)");
    if (distilling && c->distill.transform == SAKD_TRANSFORM_PROJ && c->distill.beta == 0 &&
        (c->distill.beta_epochs == 0 || c->distill.beta_late == 0))
        sakd_log(SAKD_LOG_WARN, "config: distill.transform = proj with distill.beta = 0: the "
                                "projection heads are trained for nothing");
    if (!sakd_model_name_is_sew(c->model.name) && c->model.connect != SAKD_SEW_ADD)
        sakd_log(SAKD_LOG_WARN, "config: model.connect = %s has no effect on %s (SEW models only)",
                 sakd_connect_str(c->model.connect), sakd_model_name_str(c->model.name));
    if ((c->model.name == SAKD_MODEL_NAME_RESNET19 || c->model.name == SAKD_MODEL_NAME_VGG11) &&
        c->model.stem != SAKD_STEM_CIFAR)
        sakd_log(SAKD_LOG_WARN, "config: model.stem = %s has no effect on %s",
                 sakd_stem_str(c->model.stem), sakd_model_name_str(c->model.name));
    if (c->model.name != SAKD_MODEL_NAME_VGG11 && !isnan(c->model.dropout))
        sakd_log(SAKD_LOG_WARN, "config: model.dropout has no effect on %s (vgg11 only)",
                 sakd_model_name_str(c->model.name));
    if (c->model.surrogate == SAKD_SURROGATE_TRIANGLE && !isnan(c->model.surrogate_alpha))
        sakd_log(SAKD_LOG_WARN, "config: model.surrogate_alpha has no effect on the triangle "
                                "surrogate");
    if (c->distill.distance != SAKD_DISTANCE_KL && c->distill.feature_tau != 1)
        sakd_log(SAKD_LOG_WARN,
                 "config: distill.feature_tau is only used by distill.distance = kl");
    if (c->train.warmup_epochs > 0 && c->train.warmup_epochs >= c->train.epochs)
        sakd_log(SAKD_LOG_WARN, "config: train.warmup_epochs = %d >= train.epochs = %d",
                 c->train.warmup_epochs, c->train.epochs);
    if (distilling && c->distill.beta_epochs >= c->train.epochs)
        sakd_log(SAKD_LOG_WARN,
                 "config: distill.beta_epochs = %d >= train.epochs = %d: beta never switches",
                 c->distill.beta_epochs, c->train.epochs);
    if (c->train.optimizer == SAKD_OPTIMIZER_SGD && c->train.nesterov && c->train.momentum == 0)
        sakd_log(SAKD_LOG_WARN, "config: train.nesterov has no effect with train.momentum = 0");
}

/* ---- resolved text and id ------------------------------------------------------------------- */

/* The scalar part of sakd_config_resolve; the unused teacher's distill keys (teacher_unused)
 * become those of a run without one (α 1 and the defaults), the teacher itself left to the
 * caller (it is a string). */
static void resolve_scalars(sakd_config *c)
{
    if (teacher_unused(c))
        distill_defaults(c);
    bool cifar =
        c->data.dataset == SAKD_DATASET_CIFAR10 || c->data.dataset == SAKD_DATASET_CIFAR100;
    if (c->data.crop_padding == SAKD_CONFIG_AUTO)
        c->data.crop_padding = cifar ? 4 : 2;
    if (c->data.flip == SAKD_CONFIG_AUTO)
        c->data.flip = c->data.dataset != SAKD_DATASET_MNIST;
    if (isnan(c->model.surrogate_alpha) && c->model.surrogate != SAKD_SURROGATE_TRIANGLE)
        c->model.surrogate_alpha = sakd_surrogate_default_alpha(c->model.surrogate);
    if (c->train.eval_batch == 0)
        c->train.eval_batch = c->train.batch;
}

void sakd_config_resolve(sakd_config *c)
{
    bool drop = teacher_unused(c);
    resolve_scalars(c);
    if (drop)
        c->distill.teacher[0] = '\0'; /* a run without a teacher: nothing to load */
}

/* Text of a scalar (non-string) value into buf. */
static void format_value(const sakd_config *c, const key_def *k, char *buf, size_t size)
{
    if (is_auto_value(c, k)) {
        snprintf(buf, size, "auto");
        return;
    }
    switch (k->type) {
    case KEY_BOOL: snprintf(buf, size, "%s", *CFIELD(c, k, bool) ? "true" : "false"); break;
    case KEY_BOOL_AUTO: snprintf(buf, size, "%s", *CFIELD(c, k, int) ? "true" : "false"); break;
    case KEY_INT:
    case KEY_INT_AUTO: snprintf(buf, size, "%d", *CFIELD(c, k, int)); break;
    case KEY_LLONG: snprintf(buf, size, "%lld", *CFIELD(c, k, long long)); break;
    case KEY_U64: snprintf(buf, size, "%llu", *CFIELD(c, k, unsigned long long)); break;
    case KEY_REAL:
    case KEY_REAL_AUTO: format_real(buf, size, *CFIELD(c, k, double)); break;
    case KEY_ENUM: {
        const char *n = choice_name(k->choices, k->nchoices, *CFIELD(c, k, int));
        snprintf(buf, size, "%s", n ? n : "?");
        break;
    }
    case KEY_STRING: snprintf(buf, size, "%s", str_or_empty(*CFIELD(c, k, char *))); break;
    }
}

/* Where the rendered text goes: appended to a buffer, or hashed. */
typedef struct sink {
    sakd_strbuf text;
    bool hash_only;
    unsigned long long hash;
} sink;

static void sink_put(sink *s, const char *text, size_t n)
{
    if (s->hash_only)
        s->hash = sakd_hash64(text, n, s->hash);
    else
        sakd_strbuf_append(&s->text, text, n);
}

static void sink_str(sink *s, const char *text)
{
    sink_put(s, text, strlen(text));
}

/* An ID_IF_SET key at its "not set" value: auto (-1) for an enum, 0 for a number, auto (NAN)
 * for an auto number, "" for a string, false for a flag. */
static bool unset(const sakd_config *c, const key_def *k)
{
    switch (k->type) {
    case KEY_ENUM: return *CFIELD(c, k, int) == -1;
    case KEY_REAL: return *CFIELD(c, k, double) == 0.0;
    case KEY_REAL_AUTO: return isnan(*CFIELD(c, k, double));
    case KEY_STRING: return str_or_empty(*CFIELD(c, k, char *))[0] == '\0';
    case KEY_BOOL: return !*CFIELD(c, k, bool);
    default: return false;
    }
}

/* Writes the resolved config as INI lines: "[section]", "key = value", a blank line between
 * sections. `with_all` false leaves out the NOT_IN_ID keys. */
static void render(const sakd_config *c, sink *s, bool with_all)
{
    sakd_config r = *c; /* shallow: only scalars are changed, and the teacher's pointer */
    bool drop = teacher_unused(&r);
    resolve_scalars(&r);
    if (drop)
        r.distill.teacher = (char *)"";
    const char *section = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        if (!with_all && ((k->flags & NOT_IN_ID) || ((k->flags & ID_IF_SET) && unset(c, k))))
            continue;
        if (!section || strcmp(section, k->section)) {
            if (section)
                sink_str(s, "\n");
            sink_str(s, "[");
            sink_str(s, k->section);
            sink_str(s, "]\n");
            section = k->section;
        }
        sink_str(s, k->name);
        if (k->type == KEY_STRING) {
            const char *v = str_or_empty(*CFIELD(&r, k, char *));
            sink_str(s, *v ? " = " : " =");
            sink_str(s, v);
        } else {
            char v[64];
            format_value(&r, k, v, sizeof v);
            sink_str(s, " = ");
            sink_str(s, v);
        }
        sink_str(s, "\n");
    }
}

/* Whether inih reads `value` back unchanged after "key = ". */
static const char *ini_unsafe(const char *value)
{
    if (strpbrk(value, "\r\n"))
        return "a line break";
    size_t n = strlen(value);
    if (n && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1])))
        return "leading or trailing blanks";
    if (value[0] == ';')
        return "a leading `;`";
    for (size_t i = 1; i < n; i++)
        if (value[i] == ';' && isspace((unsigned char)value[i - 1]))
            return "a `;` after a blank (an inline comment)";
    return NULL;
}

sakd_status sakd_config_to_ini(const sakd_config *c, char **text)
{
    *text = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        if (k->type != KEY_STRING)
            continue;
        const char *v = str_or_empty(*CFIELD(c, k, char *));
        const char *why = ini_unsafe(v);
        if (why)
            return sakd_error(SAKD_ERR_ARG, "%s.%s = `%s` cannot be written to INI: it has %s",
                              k->section, k->name, v, why);
        if (strlen(k->name) + 3 + strlen(v) + 3 > INI_MAX_LINE)
            return sakd_error(
                SAKD_ERR_ARG, "%s.%s is too long for an INI line (%zu characters, at most %d)",
                k->section, k->name, strlen(v), INI_MAX_LINE - 6 - (int)strlen(k->name));
    }
    sink s = {0};
    render(c, &s, true);
    if (s.text.failed || !s.text.data) {
        free(s.text.data);
        return sakd_error(SAKD_ERR_NOMEM, "out of memory writing the config");
    }
    *text = s.text.data;
    return SAKD_OK;
}

void sakd_config_id(const sakd_config *c, char out[13])
{
    sink s = {.hash_only = true, .hash = SAKD_HASH64_SEED};
    render(c, &s, false);
    snprintf(out, 13, "%012llx", s.hash & 0xffffffffffffULL);
}

sakd_status sakd_config_get(const sakd_config *c, const char *key, char **value)
{
    *value = NULL;
    const char *dot = key ? strchr(key, '.') : NULL;
    const key_def *k = NULL;
    if (dot) {
        char section[32];
        size_t n = (size_t)(dot - key);
        if (n < sizeof section) {
            memcpy(section, key, n);
            section[n] = '\0';
            k = find_key(section, dot + 1);
        }
    }
    if (!k)
        return sakd_error(SAKD_ERR_NOT_FOUND, "no config key `%s`", key ? key : "(null)");
    sakd_config r = *c;
    sakd_config_resolve(&r);
    if (k->type == KEY_STRING) {
        *value = dup_string(str_or_empty(*CFIELD(&r, k, char *)));
    } else {
        char v[64];
        format_value(&r, k, v, sizeof v);
        *value = dup_string(v);
    }
    return *value ? SAKD_OK : sakd_error(SAKD_ERR_NOMEM, "out of memory for `%s`", key);
}
