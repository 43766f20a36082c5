/* hash.c — 64-bit FNV-1a (see hash.h). */
#include "runtime/hash.h"

unsigned long long sakd_hash64(const void *data, size_t size, unsigned long long seed)
{
    const unsigned char *p = data;
    unsigned long long h = seed;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL; /* the FNV 64-bit prime */
    }
    return h;
}
