/* test_config.c — the run config: defaults, INI files, overrides, every kind of bad input and
 * its message, warnings, the resolved INI round trip and the run id. */
/* First, alone: the config parses INI without OpenCL (its enums come from small type headers). */
#include "train/config.h"
#if defined(CL_SUCCESS) || defined(CL_VERSION_1_0)
#error "train/config.h pulls in the OpenCL headers"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Asserts that `call` fails with `status` and that the detail contains each of the strings. */
#define EXPECT_ERR(call, status, ...)                                                              \
    do {                                                                                           \
        sakd_error_clear();                                                                        \
        sakd_status st_ = (call);                                                                  \
        ck_assert_msg(st_ == (status), "%s -> %s, expected %s (%s)", #call, sakd_strerror(st_),    \
                      sakd_strerror(status), sakd_error_detail());                                 \
        const char *want_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof want_[0]; i_++)                             \
            ck_assert_msg(strstr(sakd_error_detail(), want_[i_]), "`%s` not in: %s", want_[i_],    \
                          sakd_error_detail());                                                    \
    } while (0)

/* Loads `text` as file "t.ini" into a fresh default config; returns the status. */
static sakd_status load_text(sakd_config *c, const char *text)
{
    TEST_OK(sakd_config_init(c));
    return sakd_config_load_string(c, text, "t.ini");
}

/* ---- stderr capture, for the warnings --------------------------------------------------- */

static FILE *cap_file;
static int cap_saved = -1;

static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    ck_assert_ptr_nonnull(cap_file);
    cap_saved = dup(2);
    dup2(fileno(cap_file), 2);
}

/* Ends the capture; returns what was written to stderr (static buffer). */
static const char *capture_end(void)
{
    static char buf[8192];
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    rewind(cap_file);
    size_t n = fread(buf, 1, sizeof buf - 1, cap_file);
    buf[n] = '\0';
    fclose(cap_file);
    return buf;
}

/* Validates c, then (when valid) prints its warnings, as `sakd train` does, with the output
 * captured; returns the status and puts the text in *log. Validation itself prints nothing. */
static sakd_status validate_captured(const sakd_config *c, const char **log)
{
    sakd_log_level level = sakd_log_get_level();
    sakd_log_set_level(SAKD_LOG_WARN);
    capture_begin();
    sakd_status st = sakd_config_validate(c);
    const char *quiet = capture_end();
    ck_assert_msg(quiet[0] == '\0', "sakd_config_validate printed: %s", quiet);
    capture_begin();
    if (st == SAKD_OK)
        sakd_config_warn(c);
    *log = capture_end();
    sakd_log_set_level(level);
    return st;
}

/* ---- defaults ----------------------------------------------------------------------------- */

START_TEST(test_defaults)
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    ck_assert_int_eq(c.model.name, SAKD_MODEL_NAME_RESNET19);
    ck_assert_int_eq(c.model.arch, SAKD_ARCH_SNN);
    ck_assert(c.model.width == 1.0);
    ck_assert_int_eq(c.model.stem, SAKD_STEM_CIFAR);
    ck_assert_int_eq(c.model.connect, SAKD_SEW_ADD);
    ck_assert_int_eq(c.model.T, 4);
    ck_assert(c.model.decay == 0.5 && c.model.threshold == 1.0);
    ck_assert_int_eq(c.model.reset, SAKD_LIF_RESET_HARD);
    ck_assert(!c.model.detach_reset);
    ck_assert_int_eq(c.model.surrogate, SAKD_SURROGATE_TRIANGLE);
    ck_assert(isnan(c.model.surrogate_alpha));
    ck_assert_int_eq(c.data.dataset, SAKD_DATASET_FASHION_MNIST);
    ck_assert_str_eq(c.data.dir, "");
    ck_assert(c.data.train_limit == 0 && c.data.test_limit == 0);
    ck_assert_int_eq(c.data.crop_padding, SAKD_CONFIG_AUTO);
    ck_assert_int_eq(c.data.flip, SAKD_CONFIG_AUTO);
    ck_assert_int_eq(c.train.epochs, 20);
    ck_assert_int_eq(c.train.batch, 128);
    ck_assert_int_eq(c.train.eval_batch, 0);
    ck_assert_int_eq(c.train.optimizer, SAKD_OPTIMIZER_SGD);
    ck_assert(c.train.lr == 0.1 && c.train.momentum == 0.9 && c.train.nesterov);
    ck_assert(c.train.weight_decay == 5e-4);
    ck_assert_int_eq(c.train.schedule, SAKD_SCHEDULE_COSINE);
    ck_assert_int_eq(c.train.warmup_epochs, 0);
    ck_assert(c.train.seed == 1);
    ck_assert_str_eq(c.train.resume, "");
    ck_assert(c.train.grad_clip == 0);
    ck_assert_str_eq(c.distill.teacher, "");
    ck_assert(!c.distill.init_from_teacher);
    ck_assert(c.distill.alpha == 0 && c.distill.beta == 100 && c.distill.gamma == 1);
    ck_assert(c.distill.tau == 20);
    ck_assert_int_eq(c.distill.transform, SAKD_TRANSFORM_PROJ);
    ck_assert(c.distill.proj_relu);
    ck_assert_int_eq(c.distill.distance, SAKD_DISTANCE_L2);
    ck_assert(c.distill.feature_tau == 1);
    ck_assert_int_eq(c.distill.position, SAKD_POSITION_STAGE_AFTER_SPIKE);
    ck_assert(c.distill.beta_late == 0.01 && c.distill.beta_epochs == 0);
    ck_assert_str_eq(c.run.out, "");
    ck_assert_str_eq(c.run.device, "");
    ck_assert_uint_eq(c.sweep.count, 0);
    /* The defaults are valid and warn about nothing. */
    const char *log;
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    sakd_config_free(&c);
    sakd_config_free(&c); /* safe twice */
}
END_TEST

START_TEST(test_enum_names)
{
    ck_assert_str_eq(sakd_model_name_str(SAKD_MODEL_NAME_SEW_RESNET50), "sew_resnet50");
    ck_assert_str_eq(sakd_model_name_str(SAKD_MODEL_NAME_VGG11), "vgg11");
    ck_assert_ptr_null(sakd_model_name_str(SAKD_MODEL_NAME_COUNT));
    ck_assert_str_eq(sakd_dataset_str(SAKD_DATASET_FASHION_MNIST), "fashion-mnist");
    ck_assert_str_eq(sakd_surrogate_str(SAKD_SURROGATE_ATAN), "atan");
    ck_assert_str_eq(sakd_connect_str(SAKD_SEW_IAND), "iand");
    ck_assert_str_eq(sakd_reset_str(SAKD_LIF_RESET_SOFT), "soft");
    ck_assert_str_eq(sakd_position_str(SAKD_POSITION_BLOCK_BEFORE_SPIKE), "block_before_spike");
    ck_assert_str_eq(sakd_transform_str(SAKD_TRANSFORM_ATTN), "attn");
    ck_assert_str_eq(sakd_distance_str(SAKD_DISTANCE_KL), "kl");
    ck_assert_str_eq(sakd_optimizer_str(SAKD_OPTIMIZER_ADAMW), "adamw");
    ck_assert_str_eq(sakd_schedule_str(SAKD_SCHEDULE_CONSTANT), "constant");
    ck_assert_str_eq(sakd_arch_str(SAKD_ARCH_ANN), "ann");
    ck_assert_str_eq(sakd_stem_str(SAKD_STEM_IMAGENET), "imagenet");
    ck_assert(sakd_model_name_is_sew(SAKD_MODEL_NAME_SEW_RESNET18));
    ck_assert(sakd_model_name_is_sew(SAKD_MODEL_NAME_SEW_RESNET152));
    ck_assert(!sakd_model_name_is_sew(SAKD_MODEL_NAME_RESNET152));
    ck_assert(!sakd_model_name_is_sew(SAKD_MODEL_NAME_VGG11));
    /* Every key is listed once, as section.key. */
    size_t n = 0;
    while (sakd_config_key(n))
        n++;
    ck_assert_uint_eq(n, 54);
    ck_assert_str_eq(sakd_config_key(0), "model.name");
    ck_assert_str_eq(sakd_config_key(n - 1), "run.checkpoint_s");
}
END_TEST

/* ---- loading ------------------------------------------------------------------------------ */

static const char *full_ini = "; a full config\n"
                              "# comments of both kinds\n"
                              "[model]\n"
                              "name = sew_resnet34\n"
                              "arch = SNN\n"
                              "width = 0.5\n"
                              "stem = imagenet\n"
                              "connect = iand\n"
                              "T = 6\n"
                              "decay = 0.25\n"
                              "threshold = 0.75\n"
                              "reset = soft\n"
                              "detach_reset = yes\n"
                              "surrogate = sigmoid\n"
                              "surrogate_alpha = 3.5 ; inline comment\n"
                              "\n"
                              "[data]\n"
                              "dataset = cifar100\n"
                              "dir = /data/my cifar\n"
                              "train_limit = 5000\n"
                              "test_limit = 1000\n"
                              "crop_padding = 3\n"
                              "flip = off\n"
                              "[train]\n"
                              "epochs = 7\n"
                              "batch = 32\n"
                              "eval_batch = 64\n"
                              "optimizer = adamw\n"
                              "lr = 1e-3\n"
                              "momentum = 0\n"
                              "nesterov = FALSE\n"
                              "weight_decay = 0.05\n"
                              "schedule = constant\n"
                              "warmup_epochs = 2\n"
                              "seed = 18446744073709551615\n"
                              "resume = runs/x/weights.h5\n"
                              "grad_clip = 5\n"
                              "[distill]\n"
                              "teacher = teachers/resnet34.h5\n"
                              "init_from_teacher = on\n"
                              "alpha = 1\n"
                              "beta = 10\n"
                              "gamma = 10\n"
                              "tau = 1\n"
                              "transform = attn\n"
                              "proj_relu = 0\n"
                              "distance = kl\n"
                              "feature_tau = 2\n"
                              "position = block_before_spike\n"
                              "beta_late = 0\n"
                              "beta_epochs = 3\n"
                              "[run]\n"
                              "out = runs/abc\n"
                              "device = 0:1\n";

static void check_full(const sakd_config *c)
{
    ck_assert_int_eq(c->model.name, SAKD_MODEL_NAME_SEW_RESNET34);
    ck_assert_int_eq(c->model.arch, SAKD_ARCH_SNN);
    ck_assert(c->model.width == 0.5);
    ck_assert_int_eq(c->model.stem, SAKD_STEM_IMAGENET);
    ck_assert_int_eq(c->model.connect, SAKD_SEW_IAND);
    ck_assert_int_eq(c->model.T, 6);
    ck_assert(c->model.decay == 0.25 && c->model.threshold == 0.75);
    ck_assert_int_eq(c->model.reset, SAKD_LIF_RESET_SOFT);
    ck_assert(c->model.detach_reset);
    ck_assert_int_eq(c->model.surrogate, SAKD_SURROGATE_SIGMOID);
    ck_assert(c->model.surrogate_alpha == 3.5);
    ck_assert_int_eq(c->data.dataset, SAKD_DATASET_CIFAR100);
    ck_assert_str_eq(c->data.dir, "/data/my cifar");
    ck_assert(c->data.train_limit == 5000 && c->data.test_limit == 1000);
    ck_assert_int_eq(c->data.crop_padding, 3);
    ck_assert_int_eq(c->data.flip, 0);
    ck_assert_int_eq(c->train.epochs, 7);
    ck_assert_int_eq(c->train.batch, 32);
    ck_assert_int_eq(c->train.eval_batch, 64);
    ck_assert_int_eq(c->train.optimizer, SAKD_OPTIMIZER_ADAMW);
    ck_assert(c->train.lr == 1e-3 && c->train.momentum == 0 && !c->train.nesterov);
    ck_assert(c->train.weight_decay == 0.05);
    ck_assert_int_eq(c->train.schedule, SAKD_SCHEDULE_CONSTANT);
    ck_assert_int_eq(c->train.warmup_epochs, 2);
    ck_assert(c->train.seed == 18446744073709551615ULL);
    ck_assert_str_eq(c->train.resume, "runs/x/weights.h5");
    ck_assert(c->train.grad_clip == 5);
    ck_assert_str_eq(c->distill.teacher, "teachers/resnet34.h5");
    ck_assert(c->distill.init_from_teacher);
    ck_assert(c->distill.alpha == 1 && c->distill.beta == 10 && c->distill.gamma == 10);
    ck_assert(c->distill.tau == 1);
    ck_assert_int_eq(c->distill.transform, SAKD_TRANSFORM_ATTN);
    ck_assert(!c->distill.proj_relu);
    ck_assert_int_eq(c->distill.distance, SAKD_DISTANCE_KL);
    ck_assert(c->distill.feature_tau == 2);
    ck_assert_int_eq(c->distill.position, SAKD_POSITION_BLOCK_BEFORE_SPIKE);
    ck_assert(c->distill.beta_late == 0 && c->distill.beta_epochs == 3);
    ck_assert_str_eq(c->run.out, "runs/abc");
    ck_assert_str_eq(c->run.device, "0:1");
}

START_TEST(test_load_string_every_key)
{
    sakd_config c;
    TEST_OK(load_text(&c, full_ini));
    check_full(&c);
    const char *log;
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_load_file_and_layers)
{
    char dir[256], path[300], path2[300];
    test_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.ini", dir);
    snprintf(path2, sizeof path2, "%s/b.ini", dir);
    TEST_OK(sakd_file_write_atomic(path, full_ini, strlen(full_ini)));
    const char *second = "[model]\nT = 2\n[train]\nlr = 0.5\n";
    TEST_OK(sakd_file_write_atomic(path2, second, strlen(second)));
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    TEST_OK(sakd_config_load_file(&c, path));
    check_full(&c);
    /* A second file overrides only what it sets (a key may be set again by another file). */
    TEST_OK(sakd_config_load_file(&c, path2));
    ck_assert_int_eq(c.model.T, 2);
    ck_assert(c.train.lr == 0.5);
    ck_assert_int_eq(c.model.name, SAKD_MODEL_NAME_SEW_RESNET34);
    ck_assert_int_eq(c.train.batch, 32);
    /* Errors in a file name the path. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.ini", dir);
    const char *bad_text = "[model]\nT = 3\n\n[train]\nbatch = many\n";
    TEST_OK(sakd_file_write_atomic(bad, bad_text, strlen(bad_text)));
    char where[320];
    snprintf(where, sizeof where, "%s:5", bad);
    EXPECT_ERR(sakd_config_load_file(&c, bad), SAKD_ERR_ARG, where, "train.batch", "integer");
    ck_assert_int_eq(c.model.T, 2); /* unchanged by the failed load */
    /* A missing file and a binary one. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.ini", dir);
    EXPECT_ERR(sakd_config_load_file(&c, missing), SAKD_ERR_NOT_FOUND, missing);
    TEST_OK(sakd_file_write_atomic(bad, "[model]\0T = 1\n", 14));
    EXPECT_ERR(sakd_config_load_file(&c, bad), SAKD_ERR_FORMAT, bad, "NUL");
    sakd_config_free(&c);
    test_rmtree(dir);
}
END_TEST

START_TEST(test_booleans_and_numbers)
{
    static const char *const yes[] = {"true", "TRUE", "Yes", "1", "on", "On"};
    static const char *const no[] = {"false", "False", "NO", "0", "off", "OFF"};
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    char a[64];
    for (size_t i = 0; i < 6; i++) {
        snprintf(a, sizeof a, "model.detach_reset=%s", yes[i]);
        TEST_OK(sakd_config_override(&c, a, "command line"));
        ck_assert(c.model.detach_reset);
        snprintf(a, sizeof a, "model.detach_reset=%s", no[i]);
        TEST_OK(sakd_config_override(&c, a, "command line"));
        ck_assert(!c.model.detach_reset);
    }
    static const char *const not_bool[] = {"2", "y", "truee", "", "enabled"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(a, sizeof a, "train.nesterov=%s", not_bool[i]);
        EXPECT_ERR(sakd_config_override(&c, a, "command line"), SAKD_ERR_ARG, "train.nesterov",
                   "boolean");
    }
    /* flip is a boolean that may also be auto. */
    TEST_OK(sakd_config_override(&c, "data.flip=yes", "command line"));
    ck_assert_int_eq(c.data.flip, 1);
    TEST_OK(sakd_config_override(&c, "data.flip=AUTO", "command line"));
    ck_assert_int_eq(c.data.flip, SAKD_CONFIG_AUTO);
    /* Numbers must use the whole string. */
    static const char *const not_int[] = {"4x", "4.0", "", " ", "four", "0x10", "1e2"};
    for (size_t i = 0; i < 7; i++) {
        snprintf(a, sizeof a, "model.T=%s", not_int[i]);
        EXPECT_ERR(sakd_config_override(&c, a, "command line"), SAKD_ERR_ARG, "model.T",
                   "expected an integer");
    }
    static const char *const not_real[] = {"0.1x", "nan", "inf", "-inf", "", "1e999", "1,5"};
    for (size_t i = 0; i < 7; i++) {
        snprintf(a, sizeof a, "train.lr=%s", not_real[i]);
        EXPECT_ERR(sakd_config_override(&c, a, "command line"), SAKD_ERR_ARG, "train.lr",
                   "expected a finite number");
    }
    EXPECT_ERR(sakd_config_override(&c, "model.T=99999999999", "command line"), SAKD_ERR_ARG,
               "model.T", "too large");
    EXPECT_ERR(sakd_config_override(&c, "train.seed=-1", "command line"), SAKD_ERR_ARG,
               "train.seed", "unsigned");
    EXPECT_ERR(sakd_config_override(&c, "train.seed=18446744073709551616", "command line"),
               SAKD_ERR_ARG, "train.seed", "too large");
    TEST_OK(sakd_config_override(&c, "train.lr=2.5e-2", "command line"));
    ck_assert(c.train.lr == 0.025);
    TEST_OK(sakd_config_override(&c, "data.crop_padding=auto", "command line"));
    ck_assert_int_eq(c.data.crop_padding, SAKD_CONFIG_AUTO);
    TEST_OK(sakd_config_override(&c, "model.surrogate_alpha=3", "command line"));
    ck_assert(c.model.surrogate_alpha == 3);
    TEST_OK(sakd_config_override(&c, "model.surrogate_alpha=auto", "command line"));
    ck_assert(isnan(c.model.surrogate_alpha));
    sakd_config_free(&c);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------------------- */

START_TEST(test_unknown_section)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nT = 2\n\n[modle]\nwidth = 2\n"), SAKD_ERR_ARG, "t.ini:4",
               "unknown section [modle]", "did you mean [model]");
    ck_assert_int_eq(c.model.T, 4); /* unchanged: nothing of a failed text is applied */
    sakd_config_free(&c);
    /* An unknown section is found even when it has no keys. */
    EXPECT_ERR(load_text(&c, "[model]\nT = 2\n[distil]\n"), SAKD_ERR_ARG, "t.ini:3", "[distil]",
               "did you mean [distill]");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[Train]\nlr = 1\n"), SAKD_ERR_ARG, "t.ini:1", "[Train]", "[train]");
    sakd_config_free(&c);
    /* A key before any section. */
    EXPECT_ERR(load_text(&c, "T = 2\n[model]\n"), SAKD_ERR_ARG, "t.ini:1", "`T`",
               "outside any section");
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_unknown_key)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nname = resnet19\nwidht = 2\n"), SAKD_ERR_ARG, "t.ini:3",
               "unknown key `model.widht`", "did you mean `model.width`?");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[model]\nt = 2\n"), SAKD_ERR_ARG, "t.ini:2", "`model.t`",
               "`model.T`");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[distill]\ntemperature = 2\n"), SAKD_ERR_ARG, "t.ini:2",
               "`distill.temperature`", "did you mean `distill.");
    sakd_config_free(&c);
    /* A key of another section is suggested there. */
    EXPECT_ERR(load_text(&c, "[train]\n\n\ntau = 4\n"), SAKD_ERR_ARG, "t.ini:4", "`train.tau`",
               "did you mean `distill.tau`?");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[model]\ndataset = mnist\n"), SAKD_ERR_ARG, "t.ini:2",
               "`model.dataset`", "`data.dataset`");
    sakd_config_free(&c);
    /* Otherwise the closest key of the same section, even when another section has a closer
     * one. */
    EXPECT_ERR(load_text(&c, "[run]\ndevic = 0\n"), SAKD_ERR_ARG, "`run.devic`", "`run.device`");
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_wrong_type)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nT = four\n"), SAKD_ERR_ARG, "t.ini:2", "model.T", "`four`",
               "expected an integer");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[model]\nwidth = wide\n"), SAKD_ERR_ARG, "t.ini:2", "model.width",
               "expected a finite number");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[data]\nflip = maybe\n"), SAKD_ERR_ARG, "t.ini:2", "data.flip",
               "boolean");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[data]\ncrop_padding = 1.5\n"), SAKD_ERR_ARG, "t.ini:2",
               "data.crop_padding", "an integer or auto");
    sakd_config_free(&c);
    /* auto only where a key has an automatic value. */
    EXPECT_ERR(load_text(&c, "[train]\nbatch = auto\n"), SAKD_ERR_ARG, "train.batch",
               "expected an integer");
    sakd_config_free(&c);
}
END_TEST

/* One out-of-range value per bounded key: the load fails, naming the line, the key and the
 * bound. */
static const struct {
    const char *section, *key, *value, *bound;
} out_of_range[] = {
    {"model", "width", "0", "> 0"},
    {"model", "width", "-1", "> 0"},
    {"model", "T", "0", ">= 1"},
    {"model", "T", "-3", ">= 1"},
    {"model", "decay", "1.5", "in [0, 1]"},
    {"model", "decay", "-0.1", "in [0, 1]"},
    {"model", "threshold", "0", "> 0"},
    {"model", "surrogate_alpha", "0", "> 0"},
    {"data", "train_limit", "-1", ">= 0"},
    {"data", "test_limit", "-5", ">= 0"},
    {"data", "crop_padding", "-2", ">= 0"},
    {"train", "epochs", "0", ">= 1"},
    {"train", "batch", "0", ">= 1"},
    {"train", "eval_batch", "-1", ">= 0"},
    {"train", "lr", "-0.1", ">= 0"},
    {"train", "momentum", "1", "in [0, 1)"},
    {"train", "momentum", "-0.5", "in [0, 1)"},
    {"train", "weight_decay", "-1e-4", ">= 0"},
    {"train", "warmup_epochs", "-1", ">= 0"},
    {"train", "grad_clip", "-1", ">= 0"},
    {"distill", "alpha", "-1", ">= 0"},
    {"distill", "beta", "-1", ">= 0"},
    {"distill", "gamma", "-1", ">= 0"},
    {"distill", "tau", "0", "> 0"},
    {"distill", "tau", "-2", "> 0"},
    {"distill", "feature_tau", "0", "> 0"},
    {"distill", "beta_late", "-0.01", ">= 0"},
    {"distill", "beta_epochs", "-1", ">= 0"},
};

START_TEST(test_out_of_range)
{
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        char text[128], key[64], assign[96];
        snprintf(text, sizeof text, "[%s]\n\n%s = %s\n", out_of_range[i].section,
                 out_of_range[i].key, out_of_range[i].value);
        snprintf(key, sizeof key, "%s.%s = %s", out_of_range[i].section, out_of_range[i].key,
                 out_of_range[i].value);
        sakd_config c;
        EXPECT_ERR(load_text(&c, text), SAKD_ERR_ARG, "t.ini:3", key, "out of range",
                   out_of_range[i].bound);
        /* The same through an override. */
        snprintf(assign, sizeof assign, "%s.%s=%s", out_of_range[i].section, out_of_range[i].key,
                 out_of_range[i].value);
        EXPECT_ERR(sakd_config_override(&c, assign, "command line"), SAKD_ERR_ARG,
                   "command line argument", key, out_of_range[i].bound);
        sakd_config_free(&c);
    }
    /* The bounds themselves are accepted. */
    sakd_config c;
    TEST_OK(load_text(&c, "[model]\nT = 1\ndecay = 0\n[train]\nmomentum = 0\nlr = 0\n"
                          "[distill]\nbeta = 0\n[data]\ncrop_padding = 0\n"));
    TEST_OK(sakd_config_load_string(&c, "[model]\ndecay = 1\n", "t2.ini"));
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_validate_ranges)
{
    /* A struct filled by code is checked too, naming the key. */
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    c.model.T = 0;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "model.T = 0", ">= 1");
    c.model.T = 4;
    c.train.momentum = 1.0;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "train.momentum = 1", "in [0, 1)");
    c.train.momentum = 0.9;
    c.model.width = NAN;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "model.width", "finite");
    c.model.width = 1;
    c.distill.transform = (sakd_transform)17;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "distill.transform");
    c.distill.transform = SAKD_TRANSFORM_NONE;
    c.data.flip = 2;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "data.flip");
    c.data.flip = SAKD_CONFIG_AUTO;
    c.data.crop_padding = -7;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "data.crop_padding");
    c.data.crop_padding = 0;
    free(c.run.device);
    c.run.device = NULL;
    EXPECT_ERR(sakd_config_validate(&c), SAKD_ERR_ARG, "run.device");
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_bad_enum)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nsurrogate = relu\n"), SAKD_ERR_ARG, "t.ini:2",
               "model.surrogate", "`relu`", "triangle, sigmoid, atan");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[model]\nname = resnet20\n"), SAKD_ERR_ARG, "t.ini:2", "model.name",
               "resnet19, resnet18", "sew_resnet152, vgg11");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[data]\ndataset = fashion_mnist\n"), SAKD_ERR_ARG, "data.dataset",
               "fashion-mnist, mnist, cifar10, cifar100");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[distill]\nposition = stage\n"), SAKD_ERR_ARG, "distill.position",
               "stage_after_spike, stage_before_spike, block_after_spike, block_before_spike");
    sakd_config_free(&c);
    /* Choices ignore case. */
    TEST_OK(load_text(&c, "[model]\nname = SEW_ResNet18\n[data]\ndataset = CIFAR10\n"));
    ck_assert_int_eq(c.model.name, SAKD_MODEL_NAME_SEW_RESNET18);
    ck_assert_int_eq(c.data.dataset, SAKD_DATASET_CIFAR10);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_duplicate_key)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nT = 2\nwidth = 1\nT = 3\n"), SAKD_ERR_ARG, "t.ini:4",
               "duplicate key model.T", "line 2");
    ck_assert_int_eq(c.model.T, 4);
    sakd_config_free(&c);
    /* Also across two [model] headers of one file. */
    EXPECT_ERR(load_text(&c, "[model]\nT = 2\n[train]\nlr = 1\n[model]\nT = 3\n"), SAKD_ERR_ARG,
               "t.ini:6", "duplicate key model.T", "line 2");
    sakd_config_free(&c);
    /* A section given twice is fine when its keys differ. */
    TEST_OK(load_text(&c, "[model]\nT = 2\n[train]\nlr = 1\n[model]\nwidth = 3\n"));
    ck_assert_int_eq(c.model.T, 2);
    ck_assert(c.model.width == 3);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_syntax_errors)
{
    sakd_config c;
    EXPECT_ERR(load_text(&c, "[model]\nT 4\n"), SAKD_ERR_FORMAT, "t.ini:2", "syntax error",
               "`T 4`");
    sakd_config_free(&c);
    EXPECT_ERR(load_text(&c, "[model]\nT = 4\n[train\nlr = 1\n"), SAKD_ERR_FORMAT, "t.ini:3",
               "`[train`");
    sakd_config_free(&c);
    /* Indented continuation lines are refused rather than silently joined. */
    EXPECT_ERR(load_text(&c, "[data]\ndir = /a\n  /b\n"), SAKD_ERR_FORMAT, "t.ini:3", "data.dir",
               "several lines");
    sakd_config_free(&c);
    /* An indented key right after a header is an ordinary key. */
    TEST_OK(load_text(&c, "[model]\n  T = 5\n"));
    ck_assert_int_eq(c.model.T, 5);
    sakd_config_free(&c);
    /* Lines longer than inih's buffer are an error, not silently cut. */
    char text[600] = "[data]\n\ndir = /";
    size_t n = strlen(text);
    memset(text + n, 'x', 400);
    strcpy(text + n + 400, "\n");
    EXPECT_ERR(load_text(&c, text), SAKD_ERR_FORMAT, "t.ini:3", "longer than");
    sakd_config_free(&c);
    /* CRLF line ends, a BOM and an empty text are fine. */
    TEST_OK(load_text(&c, "\xEF\xBB\xBF[model]\r\nT = 3\r\n[train]\r\nlr = 0.2\r\n"));
    ck_assert_int_eq(c.model.T, 3);
    ck_assert(c.train.lr == 0.2);
    TEST_OK(sakd_config_load_string(&c, "", "empty.ini"));
    ck_assert_int_eq(c.model.T, 3);
    sakd_config_free(&c);
}
END_TEST

START_TEST(test_override)
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    TEST_OK(sakd_config_override(&c, "model.T=8", "command line"));
    ck_assert_int_eq(c.model.T, 8);
    TEST_OK(sakd_config_override(&c, " distill.transform = norm ", "command line"));
    ck_assert_int_eq(c.distill.transform, SAKD_TRANSFORM_NORM);
    TEST_OK(sakd_config_override(&c, "data.dir=/x=y/z", "command line"));
    ck_assert_str_eq(c.data.dir, "/x=y/z");
    TEST_OK(sakd_config_override(&c, "distill.teacher=", "command line"));
    ck_assert_str_eq(c.distill.teacher, "");
    EXPECT_ERR(sakd_config_override(&c, "model.T", "command line"), SAKD_ERR_ARG,
               "command line argument `model.T`", "section.key=value");
    EXPECT_ERR(sakd_config_override(&c, "model.Tt=3", "command line"), SAKD_ERR_ARG,
               "command line argument `model.Tt=3`", "unknown key `model.Tt`", "`model.T`");
    EXPECT_ERR(sakd_config_override(&c, "train.tau=3", "command line"), SAKD_ERR_ARG,
               "`train.tau=3`", "did you mean `distill.tau`?");
    EXPECT_ERR(sakd_config_override(&c, "modle.T=3", "command line"), SAKD_ERR_ARG, "`modle.T=3`",
               "unknown section `modle`", "`model`");
    EXPECT_ERR(sakd_config_override(&c, "T=3", "command line"), SAKD_ERR_ARG, "`T=3`", "no section",
               "`model.T`");
    EXPECT_ERR(sakd_config_override(&c, "sweep.seeds=1,2", "command line"), SAKD_ERR_ARG,
               "`sweep.seeds=1,2`", "sweep file");
    EXPECT_ERR(sakd_config_override(&c, "model.T=four", "command line"), SAKD_ERR_ARG,
               "command line argument `model.T=four`", "model.T", "expected an integer");
    ck_assert_int_eq(c.model.T, 8); /* failed overrides change nothing */
    EXPECT_ERR(sakd_config_override(&c, "model.reset=none", NULL), SAKD_ERR_ARG,
               "override argument", "hard, soft");
    sakd_config_free(&c);
}
END_TEST

/* ---- conflicts and warnings ------------------------------------------------------------- */

START_TEST(test_conflicts)
{
    sakd_config c;
    const char *log;
    /* init_from_teacher without a teacher is an error. */
    TEST_OK(load_text(&c, "[distill]\ninit_from_teacher = true\n"));
    EXPECT_ERR(validate_captured(&c, &log), SAKD_ERR_ARG, "distill.init_from_teacher",
               "distill.teacher");
    TEST_OK(sakd_config_override(&c, "distill.teacher=t.h5", "command line"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    /* proj with beta = 0 warns, but is allowed. */
    TEST_OK(sakd_config_override(&c, "distill.beta=0", "command line"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_msg(strstr(log, "warning") && strstr(log, "distill.transform = proj") &&
                      strstr(log, "distill.beta = 0"),
                  "log: %s", log);
    /* ... but not when beta turns on later, nor for another transform. */
    TEST_OK(sakd_config_override(&c, "distill.beta_epochs=5", "command line"));
    TEST_OK(sakd_config_override(&c, "distill.beta_late=1", "command line"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    TEST_OK(sakd_config_override(&c, "distill.beta_epochs=0", "command line"));
    TEST_OK(sakd_config_override(&c, "distill.transform=none", "command line"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    sakd_config_free(&c);

    /* connect on a model that is not SEW warns; on a SEW model it does not. */
    TEST_OK(load_text(&c, "[model]\nname = resnet18\nconnect = and\n"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_msg(strstr(log, "warning") && strstr(log, "model.connect = and") &&
                      strstr(log, "resnet18"),
                  "log: %s", log);
    TEST_OK(sakd_config_override(&c, "model.name=sew_resnet18", "command line"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_str_eq(log, "");
    sakd_config_free(&c);

    /* The other no-effect options. */
    static const char *const warn[][2] = {
        {"model.surrogate_alpha=3", "model.surrogate_alpha"},
        {"model.stem=imagenet", "model.stem"},
        {"distill.feature_tau=2", "distill.feature_tau"},
        {"train.warmup_epochs=20", "train.warmup_epochs"},
        {"train.momentum=0", "train.nesterov"},
    };
    for (size_t i = 0; i < sizeof warn / sizeof warn[0]; i++) {
        TEST_OK(sakd_config_init(&c));
        TEST_OK(sakd_config_override(&c, warn[i][0], "command line"));
        TEST_OK(validate_captured(&c, &log));
        ck_assert_msg(strstr(log, "warning") && strstr(log, warn[i][1]), "%s: log: %s", warn[i][0],
                      log);
        sakd_config_free(&c);
    }
    TEST_OK(load_text(&c, "[distill]\nteacher = t.h5\nbeta_epochs = 20\n"));
    TEST_OK(validate_captured(&c, &log));
    ck_assert_msg(strstr(log, "distill.beta_epochs"), "log: %s", log);
    sakd_config_free(&c);
}
END_TEST

/* ---- sweep -------------------------------------------------------------------------------- */

START_TEST(test_sweep_lines)
{
    sakd_config c;
    TEST_OK(load_text(&c, "[model]\nT = 2\n\n[sweep]\ndistill.transform = none, proj, norm, attn\n"
                          "seeds = 1, 2, 3\nwhatever.key = kept as is\n"));
    ck_assert_uint_eq(c.sweep.count, 3);
    ck_assert_str_eq(c.sweep.lines[0].key, "distill.transform");
    ck_assert_str_eq(c.sweep.lines[0].value, "none, proj, norm, attn");
    ck_assert_int_eq(c.sweep.lines[0].line, 5);
    ck_assert_str_eq(c.sweep.lines[0].origin, "t.ini");
    ck_assert_str_eq(c.sweep.lines[1].key, "seeds");
    ck_assert_str_eq(c.sweep.lines[1].value, "1, 2, 3");
    ck_assert_int_eq(c.sweep.lines[1].line, 6);
    ck_assert_str_eq(c.sweep.lines[2].key, "whatever.key");
    ck_assert_int_eq(c.sweep.lines[2].line, 7);
    /* The config without the sweep has the same id and text: a sweep is not part of a run. */
    sakd_config plain, copy;
    TEST_OK(load_text(&plain, "[model]\nT = 2\n"));
    char id1[13], id2[13];
    sakd_config_id(&c, id1);
    sakd_config_id(&plain, id2);
    ck_assert_str_eq(id1, id2);
    char *t1, *t2;
    TEST_OK(sakd_config_to_ini(&c, &t1));
    TEST_OK(sakd_config_to_ini(&plain, &t2));
    ck_assert_str_eq(t1, t2);
    ck_assert_ptr_null(strstr(t1, "sweep"));
    free(t1);
    free(t2);
    /* Copies keep the sweep lines; equality compares them. */
    TEST_OK(sakd_config_copy(&copy, &c));
    ck_assert(sakd_config_equal(&copy, &c));
    ck_assert(!sakd_config_equal(&plain, &c));
    /* A failed load keeps the earlier sweep lines and adds none. */
    EXPECT_ERR(sakd_config_load_string(&c, "[sweep]\nseeds = 4\n[model]\nT = x\n", "u.ini"),
               SAKD_ERR_ARG, "u.ini:4");
    ck_assert(sakd_config_equal(&copy, &c));
    /* Another file may add sweep lines, even for the same axis; one file may not repeat one. */
    TEST_OK(sakd_config_load_string(&c, "[sweep]\nseeds = 4\n", "u.ini"));
    ck_assert_uint_eq(c.sweep.count, 4);
    ck_assert_str_eq(c.sweep.lines[3].origin, "u.ini");
    EXPECT_ERR(sakd_config_load_string(&c, "[sweep]\nseeds = 4\n\nseeds = 5\n", "v.ini"),
               SAKD_ERR_ARG, "v.ini:4", "duplicate key sweep.seeds", "line 2");
    sakd_config_free(&copy);
    sakd_config_free(&plain);
    sakd_config_free(&c);
}
END_TEST

/* ---- resolved text, round trip, id --------------------------------------------------------- */

START_TEST(test_resolve)
{
    static const struct {
        const char *dataset;
        int pad, flip;
    } cases[] = {{"fashion-mnist", 2, 1}, {"mnist", 2, 0}, {"cifar10", 4, 1}, {"cifar100", 4, 1}};
    for (size_t i = 0; i < 4; i++) {
        sakd_config c;
        TEST_OK(sakd_config_init(&c));
        char a[64];
        snprintf(a, sizeof a, "data.dataset=%s", cases[i].dataset);
        TEST_OK(sakd_config_override(&c, a, "command line"));
        sakd_config_resolve(&c);
        ck_assert_int_eq(c.data.crop_padding, cases[i].pad);
        ck_assert_int_eq(c.data.flip, cases[i].flip);
        ck_assert_int_eq(c.train.eval_batch, 128);
        ck_assert(isnan(c.model.surrogate_alpha)); /* triangle has no α */
        sakd_config_free(&c);
    }
    sakd_config c;
    TEST_OK(load_text(&c, "[model]\nsurrogate = sigmoid\n[data]\ncrop_padding = 1\nflip = no\n"
                          "[train]\nbatch = 10\n"));
    sakd_config_resolve(&c);
    ck_assert(c.model.surrogate_alpha == 4);
    ck_assert_int_eq(c.data.crop_padding, 1); /* explicit values stay */
    ck_assert_int_eq(c.data.flip, 0);
    ck_assert_int_eq(c.train.eval_batch, 10);
    TEST_OK(sakd_config_override(&c, "model.surrogate=atan", "command line"));
    TEST_OK(sakd_config_override(&c, "model.surrogate_alpha=auto", "command line"));
    sakd_config_resolve(&c);
    ck_assert(c.model.surrogate_alpha == 2);
    char *v;
    TEST_OK(sakd_config_get(&c, "model.surrogate_alpha", &v));
    ck_assert_str_eq(v, "2");
    free(v);
    TEST_OK(sakd_config_get(&c, "data.dataset", &v));
    ck_assert_str_eq(v, "fashion-mnist");
    free(v);
    TEST_OK(sakd_config_get(&c, "train.weight_decay", &v));
    ck_assert_str_eq(v, "0.0005");
    free(v);
    EXPECT_ERR(sakd_config_get(&c, "train.nothing", &v), SAKD_ERR_NOT_FOUND, "train.nothing");
    sakd_config_free(&c);
}
END_TEST

/* The defaults' resolved text; and their id, pinned: the id is a hash of this text only, so it
 * is the same on every machine (and changes only when the key table or a default does). */
static const char *defaults_ini = "[model]\n"
                                  "name = resnet19\n"
                                  "arch = snn\n"
                                  "width = 1\n"
                                  "stem = cifar\n"
                                  "connect = add\n"
                                  "T = 4\n"
                                  "decay = 0.5\n"
                                  "threshold = 1\n"
                                  "reset = hard\n"
                                  "detach_reset = false\n"
                                  "surrogate = triangle\n"
                                  "surrogate_alpha = auto\n"
                                  "dropout = auto\n"
                                  "\n"
                                  "[data]\n"
                                  "dataset = fashion-mnist\n"
                                  "dir =\n"
                                  "train_limit = 0\n"
                                  "test_limit = 0\n"
                                  "crop_padding = 2\n"
                                  "flip = true\n"
                                  "\n"
                                  "[train]\n"
                                  "epochs = 20\n"
                                  "batch = 128\n"
                                  "eval_batch = 128\n"
                                  "optimizer = sgd\n"
                                  "lr = 0.1\n"
                                  "momentum = 0.9\n"
                                  "nesterov = true\n"
                                  "weight_decay = 0.0005\n"
                                  "schedule = cosine\n"
                                  "warmup_epochs = 0\n"
                                  "seed = 1\n"
                                  "resume =\n"
                                  "grad_clip = 0\n"
                                  "sync_bn = false\n"
                                  "\n"
                                  "[distill]\n"
                                  "teacher =\n"
                                  "teacher_model = auto\n"
                                  "teacher_width = 0\n"
                                  "init_from_teacher = false\n"
                                  "alpha = 0\n"
                                  "beta = 100\n"
                                  "gamma = 1\n"
                                  "tau = 20\n"
                                  "transform = proj\n"
                                  "proj_relu = true\n"
                                  "distance = l2\n"
                                  "feature_tau = 1\n"
                                  "position = stage_after_spike\n"
                                  "beta_late = 0.01\n"
                                  "beta_epochs = 0\n"
                                  "\n"
                                  "[run]\n"
                                  "out =\n"
                                  "device =\n"
                                  "gemm_provider = auto\n"
                                  "conv_provider = auto\n"
                                  "spike_layers = auto\n"
                                  "checkpoint_s = 600\n";
#define DEFAULTS_ID "2bcfb834d2e0"

/* The config of `assigns` (NULL-ended), resolved, its id into id; the resolved config kept in
 * *c (free it). */
static void resolved_with(sakd_config *c, const char *const *assigns, char id[13])
{
    TEST_OK(sakd_config_init(c));
    for (const char *const *a = assigns; *a; a++)
        TEST_OK(sakd_config_override(c, *a, "test"));
    TEST_OK(sakd_config_validate(c));
    sakd_config_id(c, id);
    sakd_config_resolve(c);
    char again[13];
    sakd_config_id(c, again);
    ck_assert_str_eq(id, again); /* resolving changes no id */
}

START_TEST(test_unused_teacher_is_no_teacher)
{
    /* A teacher of which nothing is used (no init, γ 0, β 0 now and later, α 1) is the run
     * without one: the same id, and resolved it has no teacher and a teacherless run's
     * [distill] keys. Any use of it keeps it. */
    sakd_config c;
    char none[13], id[13];
    resolved_with(&c, (const char *const[]){"distill.alpha=1", NULL}, none);
    sakd_config_free(&c);
    resolved_with(&c,
                  (const char *const[]){"distill.alpha=1", "distill.teacher=t.h5",
                                        "distill.gamma=0", "distill.beta=0",
                                        "distill.transform=attn", "distill.tau=4", NULL},
                  id);
    ck_assert_str_eq(id, none);
    ck_assert_str_eq(c.distill.teacher, "");
    ck_assert_double_eq(c.distill.beta, 100);
    ck_assert_double_eq(c.distill.gamma, 1);
    ck_assert_double_eq(c.distill.tau, 20);
    ck_assert_int_eq(c.distill.transform, SAKD_TRANSFORM_PROJ);
    char *text;
    TEST_OK(sakd_config_to_ini(&c, &text));
    ck_assert_ptr_nonnull(strstr(text, "\nteacher =\n"));
    free(text);
    sakd_config_free(&c);
    static const char *const kept[][2] = {
        {"distill.alpha=0.5", "distill.init_from_teacher=false"},
        {"distill.alpha=1", "distill.init_from_teacher=true"},
        {"distill.alpha=1", "distill.beta_epochs=2"}, /* beta_late 0.01 from epoch 2 */
        {"distill.alpha=1", "distill.gamma=0.001"},
    };
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
        const char *a[] = {"distill.teacher=t.h5",
                           "distill.gamma=0",
                           "distill.beta=0",
                           kept[k][0],
                           kept[k][1],
                           NULL};
        resolved_with(&c, a, id);
        ck_assert_msg(strcmp(id, none) != 0, "%s %s: the id of a run without a teacher", kept[k][0],
                      kept[k][1]);
        ck_assert_msg(!strcmp(c.distill.teacher, "t.h5"), "%s %s: the teacher dropped", kept[k][0],
                      kept[k][1]);
        sakd_config_free(&c);
    }
}
END_TEST

START_TEST(test_defaults_text_and_id)
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    char *text;
    TEST_OK(sakd_config_to_ini(&c, &text));
    ck_assert_str_eq(text, defaults_ini);
    free(text);
    char id[13];
    sakd_config_id(&c, id);
    ck_assert_uint_eq(strlen(id), 12);
    ck_assert_str_eq(id, DEFAULTS_ID);
    /* The id is FNV-1a 64 of the text without data.dir, train.resume and [run], low 48 bits: the
     * ids of runs made before run.gemm_provider and run.conv_provider existed stay the same. */
    char ided[2048] = "";
    for (const char *l = defaults_ini; *l;) {
        size_t n = strcspn(l, "\n") + 1;
        if (strncmp(l, "dir =", 5) && strncmp(l, "resume =", 8) && strncmp(l, "[run]", 5) &&
            strncmp(l, "out =", 5) && strncmp(l, "device =", 8) &&
            strncmp(l, "gemm_provider =", 15) && strncmp(l, "conv_provider =", 15) &&
            strncmp(l, "spike_layers =", 14) && strncmp(l, "teacher_model =", 15) &&
            strncmp(l, "teacher_width =", 15) && strncmp(l, "dropout =", 9) &&
            strncmp(l, "sync_bn =", 9) && strncmp(l, "checkpoint_s =", 14))
            strncat(ided, l, n);
        l += n;
    }
    size_t m = strlen(ided); /* the [run] section's separating blank line goes too */
    ck_assert(m >= 2 && ided[m - 1] == '\n' && ided[m - 2] == '\n');
    ided[m - 1] = '\0';
    char expect[13];
    snprintf(expect, sizeof expect, "%012llx",
             sakd_hash64(ided, strlen(ided), SAKD_HASH64_SEED) & 0xffffffffffffULL);
    ck_assert_str_eq(id, expect);
    sakd_config_free(&c);
}
END_TEST

/* A value different from the default for every key; `in_id` 0 for the keys that are not part
 * of the run id. */
static const struct {
    const char *assign;
    int in_id;
} alternatives[] = {
    {"model.name=sew_resnet50", 1},
    {"model.arch=ann", 1},
    {"model.width=0.75", 1},
    {"model.stem=imagenet", 1},
    {"model.connect=iand", 1},
    {"model.T=1", 1},
    {"model.decay=0.9", 1},
    {"model.threshold=0.5", 1},
    {"model.reset=soft", 1},
    {"model.detach_reset=true", 1},
    {"model.surrogate=atan", 1},
    {"model.surrogate_alpha=1.25", 1},
    {"data.dataset=cifar10", 1},
    {"data.dir=/srv/data sets/x", 0},
    {"data.train_limit=123", 1},
    {"data.test_limit=45", 1},
    {"data.crop_padding=7", 1},
    {"data.flip=false", 1},
    {"train.epochs=3", 1},
    {"train.batch=17", 1},
    {"train.eval_batch=1000", 1},
    {"train.optimizer=adamw", 1},
    {"train.lr=0.0123456789", 1},
    {"train.momentum=0.95", 1},
    {"train.nesterov=no", 1},
    {"train.weight_decay=0.01", 1},
    {"train.schedule=constant", 1},
    {"train.warmup_epochs=2", 1},
    {"train.seed=12345678901234", 1},
    {"train.resume=runs/a/weights.h5", 0},
    {"train.grad_clip=1.5", 1},
    {"train.sync_bn=true", 1},
    {"distill.teacher=teachers/ann-resnet19.h5", 1},
    {"distill.init_from_teacher=true", 1},
    {"distill.alpha=1", 1},
    {"distill.beta=10", 1},
    {"distill.gamma=10", 1},
    {"distill.tau=1", 1},
    {"distill.transform=attn", 1},
    {"distill.proj_relu=false", 1},
    {"distill.distance=kl", 1},
    {"distill.feature_tau=4", 1},
    {"distill.position=block_before_spike", 1},
    {"distill.beta_late=0.001", 1},
    {"distill.beta_epochs=5", 1},
    {"run.out=runs/xyz", 0},
    {"run.device=pocl:0", 0},
    {"run.gemm_provider=clblast", 0},
    {"run.conv_provider=im2col", 0},
    {"run.spike_layers=spike", 0},
    {"run.checkpoint_s=30", 0},
    {"distill.teacher_model=resnet34", 1},
    {"distill.teacher_width=0.5", 1},
    {"model.dropout=0.25", 1},
};
#define N_ALT (sizeof alternatives / sizeof alternatives[0])

START_TEST(test_id_changes_with_every_key)
{
    /* The table covers every key. */
    for (size_t i = 0; sakd_config_key(i); i++) {
        const char *k = sakd_config_key(i);
        bool found = false;
        for (size_t j = 0; j < N_ALT && !found; j++)
            found = !strncmp(alternatives[j].assign, k, strlen(k)) &&
                    alternatives[j].assign[strlen(k)] == '=';
        ck_assert_msg(found, "no alternative value for %s", k);
    }
    sakd_config base;
    TEST_OK(sakd_config_init(&base));
    char base_id[13];
    sakd_config_id(&base, base_id);
    char ids[N_ALT][13];
    for (size_t j = 0; j < N_ALT; j++) {
        sakd_config c;
        TEST_OK(sakd_config_init(&c));
        TEST_OK(sakd_config_override(&c, alternatives[j].assign, "command line"));
        sakd_config_id(&c, ids[j]);
        if (alternatives[j].in_id)
            ck_assert_msg(strcmp(ids[j], base_id), "%s does not change the id",
                          alternatives[j].assign);
        else
            ck_assert_msg(!strcmp(ids[j], base_id), "%s changes the id", alternatives[j].assign);
        for (size_t i = 0; i < j; i++)
            if (alternatives[i].in_id && alternatives[j].in_id)
                ck_assert_msg(strcmp(ids[i], ids[j]), "%s and %s give the same id",
                              alternatives[i].assign, alternatives[j].assign);
        /* Every key, in the id or not, changes the text. */
        char *a, *b;
        TEST_OK(sakd_config_to_ini(&c, &a));
        TEST_OK(sakd_config_to_ini(&base, &b));
        ck_assert_msg(strcmp(a, b), "%s does not change the text", alternatives[j].assign);
        free(a);
        free(b);
        sakd_config_free(&c);
    }
    /* An auto value and the value it resolves to are the same run. */
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    TEST_OK(sakd_config_override(&c, "data.crop_padding=2", "command line"));
    TEST_OK(sakd_config_override(&c, "train.eval_batch=128", "command line"));
    char id[13];
    sakd_config_id(&c, id);
    ck_assert_str_eq(id, base_id);
    sakd_config_free(&c);
    sakd_config_free(&base);
}
END_TEST

/* to_ini of c, loaded into a fresh config, gives the resolved c, the same text and id. */
static void check_round_trip(const sakd_config *c)
{
    sakd_config resolved, back;
    TEST_OK(sakd_config_copy(&resolved, c));
    sakd_config_resolve(&resolved);
    char *text, *text2;
    TEST_OK(sakd_config_to_ini(c, &text));
    TEST_OK(sakd_config_init(&back));
    TEST_OK(sakd_config_load_string(&back, text, "resolved.ini"));
    ck_assert_msg(sakd_config_equal(&back, &resolved), "round trip differs:\n%s", text);
    TEST_OK(sakd_config_to_ini(&back, &text2));
    ck_assert_str_eq(text, text2);
    char id1[13], id2[13];
    sakd_config_id(c, id1);
    sakd_config_id(&back, id2);
    ck_assert_str_eq(id1, id2);
    free(text);
    free(text2);
    sakd_config_free(&back);
    sakd_config_free(&resolved);
}

START_TEST(test_round_trip)
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    check_round_trip(&c);
    sakd_config_free(&c);
    TEST_OK(load_text(&c, full_ini));
    check_round_trip(&c);
    sakd_config_free(&c);
    /* Random mixtures of the alternative values, and random reals that need all 17 digits. */
    test_rng r = test_rng_new(0xc0f1);
    for (int it = 0; it < 50; it++) {
        TEST_OK(sakd_config_init(&c));
        for (size_t j = 0; j < N_ALT; j++)
            if (test_rand_uniform(&r, 0, 1) < 0.5)
                TEST_OK(sakd_config_override(&c, alternatives[j].assign, "command line"));
        static const char *const reals[] = {"model.width",  "train.lr",    "train.weight_decay",
                                            "distill.beta", "model.decay", "train.momentum"};
        for (size_t j = 0; j < 6; j++) {
            char a[96];
            snprintf(a, sizeof a, "%s=%.17g", reals[j], test_rand_uniform(&r, 1e-6, 0.999));
            TEST_OK(sakd_config_override(&c, a, "command line"));
        }
        c.train.seed = test_rand_u64(&r);
        check_round_trip(&c);
        sakd_config_free(&c);
    }
}
END_TEST

START_TEST(test_to_ini_refuses)
{
    sakd_config c;
    TEST_OK(sakd_config_init(&c));
    char *text = (char *)1;
    static const char *const bad[] = {"a\nb", " lead", "trail ", "x ;comment", ";x"};
    for (size_t i = 0; i < 5; i++) {
        free(c.data.dir);
        c.data.dir = strdup(bad[i]);
        EXPECT_ERR(sakd_config_to_ini(&c, &text), SAKD_ERR_ARG, "data.dir");
        ck_assert_ptr_null(text);
    }
    /* A semicolon inside a value is fine. */
    free(c.data.dir);
    c.data.dir = strdup("/a;b/c");
    TEST_OK(sakd_config_to_ini(&c, &text));
    ck_assert_ptr_nonnull(strstr(text, "dir = /a;b/c\n"));
    free(text);
    check_round_trip(&c);
    /* A path too long for an INI line. */
    free(c.data.dir);
    c.data.dir = malloc(400);
    memset(c.data.dir, 'p', 399);
    c.data.dir[399] = '\0';
    EXPECT_ERR(sakd_config_to_ini(&c, &text), SAKD_ERR_ARG, "data.dir", "too long");
    sakd_config_free(&c);
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_enum_names);
    tcase_add_test(tc, test_load_string_every_key);
    tcase_add_test(tc, test_load_file_and_layers);
    tcase_add_test(tc, test_booleans_and_numbers);
    tcase_add_test(tc, test_unknown_section);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_validate_ranges);
    tcase_add_test(tc, test_bad_enum);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_override);
    tcase_add_test(tc, test_conflicts);
    tcase_add_test(tc, test_sweep_lines);
    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_defaults_text_and_id);
    tcase_add_test(tc, test_unused_teacher_is_no_teacher);
    tcase_add_test(tc, test_id_changes_with_every_key);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_to_ini_refuses);
    suite_add_tcase(s, tc);
    return s;
}
