/* lif_host.h — the multi-step LIF neuron on the host provider (ops/host.h): the contract of
 * sakd_lif_forward / _backward (lif.h), arguments already checked. */
#ifndef SAKD_OPS_LIF_HOST_H
#define SAKD_OPS_LIF_HOST_H

#include "ops/lif.h"

sakd_status sakd_lif_host_forward(sakd_tensor *s, sakd_lif_cache *cache, const sakd_tensor *x,
                                  size_t T, const sakd_lif_params *p);

sakd_status sakd_lif_host_backward(sakd_tensor *gx, const sakd_lif_cache *cache,
                                   const sakd_tensor *gs, size_t T, const sakd_lif_params *p);

#endif
