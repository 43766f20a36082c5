/* hash.h — the 64-bit FNV-1a hash sakd keys its caches and run ids with. */
#ifndef SAKD_RUNTIME_HASH_H
#define SAKD_RUNTIME_HASH_H

#include <stddef.h>

#define SAKD_HASH64_SEED 0xcbf29ce484222325ULL

/* FNV-1a over `size` bytes of `data`, starting from `seed` (SAKD_HASH64_SEED, or a previous
 * hash to continue it). */
unsigned long long sakd_hash64(const void *data, size_t size, unsigned long long seed);

#endif
