#pragma once
// A Linear weight as the matmul kernels consume it: shape [K = in, M = out],
// output row m holds K input-ordered values (y_m = sum_k W[m][k] * x_k), in
// one of the weight formats below. The bytes may be owned or borrowed (a
// memory-mapped model file); `owner` keeps borrowed bytes alive.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "reference/numeric/f16.h"

namespace rwkv {

enum class WeightFormat : uint8_t {
  fp16,  // K * M f16, row after row
  q4_k,  // ggml block_q4_K: 144 bytes per 256 values; K % 256 == 0; rows of K/256 blocks
  q6_k,  // ggml block_q6_K: 210 bytes per 256 values; K % 256 == 0
  q8_0,  // ggml block_q8_0:  34 bytes per 32 values;  K % 32 == 0
  int8,  // web-rwkv Int8: u8 per value; per 128-value block (memory order) an f16 (min, max) pair in `meta`
  nf4,   // web-rwkv NF4: 4 bits per value (8 per u32, element e in bits 4e..); f16 absmax per 64 values in `meta`
  sf4,   // as nf4 with the Student-t table
};

std::string_view format_name(WeightFormat f);
// Parses "fp16", "q4_k", "q6_k", "q8_0", "int8", "nf4", "sf4"; throws std::invalid_argument otherwise.
WeightFormat parse_format(std::string_view s);

struct Matrix {
  WeightFormat format = WeightFormat::fp16;
  int64_t K = 0;  // input width (contiguous within a row)
  int64_t M = 0;  // output rows
  const uint8_t* data = nullptr;  // format bytes
  size_t data_bytes = 0;
  const f16* meta = nullptr;      // int8: 2 per block (min, max); nf4/sf4: 1 per block (absmax)
  size_t meta_count = 0;
  std::shared_ptr<const void> owner;  // keeps data/meta alive

  const f16* fp16_row(int64_t m) const { return reinterpret_cast<const f16*>(data) + m * K; }
};

}  // namespace rwkv
