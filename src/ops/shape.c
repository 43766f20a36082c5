/* shape.c */
#include "ops/shape.h"
typedef int sakd_shape_placeholder;
