#pragma once
// Seeded synthetic Q4_K matrices for tests and catalog samples. Every byte
// pattern is a valid Q4_K block, so blocks are drawn directly: d and dmin
// uniform in [0, d_max) rounded to half, the 12 scale bytes and 128 code bytes
// uniform. The default d_max (3e-4) puts d where real Q4_K files have it
// (about 1e-4, below 2^-10), which is where Metal's half d/16 rounds.
#include <cstdint>

#include "reference/formats/matrix.h"

namespace rwkv::metal {

// An owning Q4_K Matrix of shape [K, M] (K a multiple of 256).
Matrix random_q4k_matrix(int64_t K, int64_t M, uint64_t seed, float d_max = 3e-4f, float dmin_max = 3e-4f);

// Overwrites d and dmin of block b of row m (for edge-value tests). w must
// own writable bytes, as a matrix from random_q4k_matrix does.
void set_q4k_block_scales(Matrix& w, int64_t m, int64_t b, float d, float dmin);

}  // namespace rwkv::metal
