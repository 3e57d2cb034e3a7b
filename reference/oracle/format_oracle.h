#pragma once
// Float64 oracle of the weight decoders (formats/blocks.h): each element's
// value by its format's formula, evaluated in double from the stored
// codes and scales, read here per element straight from the block layout of
// ../shared/spec/quant-formats.md (not through blocks.cpp's decoders).
//   fp16  the half itself
//   q4_k  d*sc*q - dmin*m       (products exact, the difference rounded to double)
//   q6_k  d*sc*(q - 32)         (exact)
//   q8_0  d*q                   (exact)
//   int8  q*(max - min)/255 + min  (in double)
//   nf4 / sf4  table[q]*absmax  (the f32 table web-rwkv uploads; exact)
// The reference decodes in f32 with one rounding per operation, so its
// distance from these values is the decoder's own error.
#include <vector>

#include "reference/formats/matrix.h"

namespace rwkv::oracle {

// [M][K], row m at m*K.
std::vector<double> dequantize_f64(const Matrix& w);

}  // namespace rwkv::oracle
