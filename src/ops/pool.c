/* pool.c */
#include "ops/pool.h"
typedef int sakd_pool_placeholder;
