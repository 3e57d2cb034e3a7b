#include "reference/metal/q4k_random.h"

#include <memory>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/util/rng.h"

namespace rwkv::metal {

Matrix random_q4k_matrix(int64_t K, int64_t M, uint64_t seed, float d_max, float dmin_max) {
  const int64_t row_bytes = blocks::ggml_row_bytes(WeightFormat::q4_k, K);
  auto store = std::make_shared<blocks::MatrixStorage>();
  store->data.resize(size_t(row_bytes * M));
  Rng rng(seed);
  for (int64_t b = 0; b < (K / blocks::kQK_K) * M; ++b) {
    uint8_t* blk = store->data.data() + b * blocks::kQ4KBytes;
    const uint16_t d = f32_to_f16_bits(rng.uniform(0.0f, d_max));
    const uint16_t dmin = f32_to_f16_bits(rng.uniform(0.0f, dmin_max));
    blk[0] = uint8_t(d), blk[1] = uint8_t(d >> 8), blk[2] = uint8_t(dmin), blk[3] = uint8_t(dmin >> 8);
    for (int i = 4; i < blocks::kQ4KBytes; ++i) blk[i] = uint8_t(rng.next_u32() >> 24);
  }
  return blocks::owned_matrix(WeightFormat::q4_k, K, M, std::move(store), "random_q4k_matrix");
}

void set_q4k_block_scales(Matrix& w, int64_t m, int64_t b, float d, float dmin) {
  uint8_t* blk = const_cast<uint8_t*>(w.data) + m * blocks::ggml_row_bytes(w.format, w.K) + b * blocks::kQ4KBytes;
  const uint16_t hd = f32_to_f16_bits(d), hm = f32_to_f16_bits(dmin);
  blk[0] = uint8_t(hd), blk[1] = uint8_t(hd >> 8), blk[2] = uint8_t(hm), blk[3] = uint8_t(hm >> 8);
}

}  // namespace rwkv::metal
