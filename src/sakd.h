/* sakd.h — the public interface of libsakd: runtime, tensors, random numbers, ops, networks,
 * distillation, datasets, checkpoints and configuration. */
#ifndef SAKD_SAKD_H
#define SAKD_SAKD_H

#include "data/dataset.h"
#include "distill/distill.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/h5.h"
#include "nn/graph.h"
#include "nn/model.h"
#include "nn/params.h"
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
#include "runtime/strbuf.h"
#include "runtime/tensor.h"
#include "runtime/timer.h"
#include "train/config.h"
#include "train/train.h"
#include "version.h"

#endif
