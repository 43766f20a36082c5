/* sakd.h — the public interface of libsakd: runtime, tensors, random numbers, ops, config. */
#ifndef SAKD_SAKD_H
#define SAKD_SAKD_H

#include "io/file.h"
#include "ops/activation.h"
#include "ops/bn.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/lif.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/optim.h"
#include "ops/pool.h"
#include "ops/shape.h"
#include "ops/variants.h"
#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/log.h"
#include "runtime/program.h"
#include "runtime/rng.h"
#include "runtime/status.h"
#include "runtime/tensor.h"
#include "runtime/timer.h"
#include "train/config.h"

/* "0.1.0" */
const char *sakd_version(void);

#endif
