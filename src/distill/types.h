/* types.h — the distillation settings a configuration names (feature transform, distance),
 * apart from the losses, so that parsing a config needs no OpenCL. */
#ifndef SAKD_DISTILL_TYPES_H
#define SAKD_DISTILL_TYPES_H

typedef enum sakd_transform {
    SAKD_TRANSFORM_NONE = 0,
    SAKD_TRANSFORM_PROJ,
    SAKD_TRANSFORM_NORM,
    SAKD_TRANSFORM_ATTN,
    SAKD_TRANSFORM_COUNT
} sakd_transform;

typedef enum sakd_distance {
    SAKD_DISTANCE_L2 = 0,
    SAKD_DISTANCE_L1,
    SAKD_DISTANCE_KL,
    SAKD_DISTANCE_COUNT
} sakd_distance;

#endif
