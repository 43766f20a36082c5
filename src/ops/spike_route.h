/* spike_route.h — whether a convolution or linear layer that reads spikes runs spike-driven
 * (ops/conv_spike.h; a linear layer as a 1x1 convolution of 1x1 maps) or dense (ops/conv.h,
 * ops/linear.h), per context (run.spike_layers, $SAKD_SPIKE_LAYERS):
 *   "dense" — every such layer dense;
 *   "spike" — every spike-fed layer spike-driven (forward and weight gradient; the data
 *             gradient stays dense): on the host next to the host BLAS where the context uses
 *             the host provider, else with the kernels of cl/conv_spike.cl;
 *   "auto"  — per layer and step, spike-driven when the density of spikes the layer reads in
 *             this step is below the crossover density `sakd bench spikes --save` measured for
 *             this device and the layer's shape (the crossover file); dense for a shape or a
 *             device without a measurement. The choice depends only on the file and the data,
 *             so the same seed, device and file give bit-identical weights.
 * The crossover file: <cache dir>/spike-crossover-<route>-<hash of platform, device,
 * driver>.ini (sakd_program_cache_dir; route: host or device, sakd_spike_route, each measured
 * on its own), [device] platform, name, driver, path (the route), date, and
 * [crossover] one `<shape> = <density>` per layer shape (sakd_spike_shape_key). */
#ifndef SAKD_OPS_SPIKE_ROUTE_H
#define SAKD_OPS_SPIKE_ROUTE_H

#include <stddef.h>

#include "ops/conv_spike.h"
#include "runtime/context.h"

typedef enum sakd_spike_mode {
    SAKD_SPIKE_UNSET = 0,
    SAKD_SPIKE_DENSE,
    SAKD_SPIKE_DRIVEN,
    SAKD_SPIKE_AUTO
} sakd_spike_mode;

/* Sets ctx's mode from `request` ("auto", "dense", "spike"; NULL or "": $SAKD_SPIKE_LAYERS,
 * else auto); auto reads the crossover file if there is one (a file that cannot be read is an
 * error naming it). */
sakd_status sakd_spike_layers_set(sakd_ctx *ctx, const char *request);

/* "auto, dense, spike". */
const char *sakd_spike_layers_names(void);

/* ctx's mode (set on first use from the environment). */
sakd_status sakd_spike_layers_mode(sakd_ctx *ctx, sakd_spike_mode *mode);

/* The crossover density for a convolution of shape s on ctx under auto, or a negative value
 * when none was measured (then the layer runs dense). */
sakd_status sakd_spike_crossover(sakd_ctx *ctx, const sakd_spike_conv_shape *s, double *density);

/* "CxHxW sS kKxK pP -> M", the key of a shape in the crossover file (N not included). */
void sakd_spike_shape_key(const sakd_spike_conv_shape *s, char *buf, size_t size);

/* One line: the mode and, under auto, the file and how many shapes it holds. */
void sakd_spike_layers_describe(sakd_ctx *ctx, char *buf, size_t size);

/* Where ctx runs spike-driven layers: "host" (a host-provider context: ops/conv_spike.h's
 * host passes) or "device" (the kernels of cl/conv_spike.cl). */
const char *sakd_spike_route(sakd_ctx *ctx);

/* The crossover file of ctx's device and route. */
sakd_status sakd_spike_crossover_path(sakd_ctx *ctx, char *buf, size_t size);

/* Writes the crossover file of ctx's device and route: n shapes' keys and densities; replaces
 * the file atomically. */
sakd_status sakd_spike_crossover_write(sakd_ctx *ctx, size_t n, const char *const *keys,
                                       const double *density);

#endif
