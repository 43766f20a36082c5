/* nir.h — a trained spiking network as a NIR graph (Neuromorphic Intermediate Representation,
 * Pedersen et al. 2024), the HDF5 layout the `nir` Python package (1.0.x) reads: /version,
 * /node/type = "NIRGraph", /node/nodes/<name>/{type, parameters}, /node/edges [E, 2] and
 * /node/metadata. The semantics of the mapping are DESIGN.md §3.5's. */
#ifndef SAKD_IO_NIR_H
#define SAKD_IO_NIR_H

#include "nn/model.h"

/* Writes the SNN m (its parameters allocated and loaded) to `path` (atomically), with time step
 * dt > 0 for the LIF time constants. Refuses, naming the layer, what NIR cannot express: an ANN,
 * max pooling, SEW AND/IAND connections, the soft reset, a BN that follows no convolution. */
sakd_status sakd_nir_export(sakd_model *m, double dt, const char *path);

#endif
