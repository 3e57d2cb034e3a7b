#pragma once
// Random weight matrices of every format, for tests, catalog samples and
// benchmarks: random codes and random finite f16 scales, built directly as
// valid blocks (no quantiser involved). Values are of the order of `scale`
// (at most about 2*scale in magnitude; fp16 draws N(0, scale^2)).
#include <cstdint>

#include "reference/formats/matrix.h"

namespace rwkv {

Matrix random_matrix(WeightFormat format, int64_t K, int64_t M, uint64_t seed, float scale = 1.0f);

}  // namespace rwkv
