/* model_names.h — the one list of the architectures sakd builds (DESIGN.md §2.4): the config's
 * enum, its key values (train/config.c) and the builders (nn/model.c) all expand it, so that a
 * name cannot be added to one and not the others. No OpenCL: the config parser includes it. */
#ifndef SAKD_NN_MODEL_NAMES_H
#define SAKD_NN_MODEL_NAMES_H

/* X(ID, "name") for each architecture, in the order of its enum value. */
#define SAKD_MODEL_NAMES(X)                                                                        \
    X(RESNET19, "resnet19")                                                                        \
    X(RESNET18, "resnet18")                                                                        \
    X(RESNET34, "resnet34")                                                                        \
    X(RESNET50, "resnet50")                                                                        \
    X(RESNET101, "resnet101")                                                                      \
    X(RESNET152, "resnet152")                                                                      \
    X(SEW_RESNET18, "sew_resnet18")                                                                \
    X(SEW_RESNET34, "sew_resnet34")                                                                \
    X(SEW_RESNET50, "sew_resnet50")                                                                \
    X(SEW_RESNET101, "sew_resnet101")                                                              \
    X(SEW_RESNET152, "sew_resnet152")                                                              \
    X(VGG11, "vgg11")

#define SAKD_MODEL_NAME_ENUM_(id, name) SAKD_MODEL_NAME_##id,
typedef enum sakd_model_name {
    SAKD_MODEL_NAMES(SAKD_MODEL_NAME_ENUM_) SAKD_MODEL_NAME_COUNT
} sakd_model_name;
#undef SAKD_MODEL_NAME_ENUM_

#endif
