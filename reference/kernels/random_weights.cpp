#include "reference/kernels/random_weights.h"

#include <memory>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16_bits(v);
  p[0] = uint8_t(h & 0xff);
  p[1] = uint8_t(h >> 8);
}

}  // namespace

Matrix random_matrix(WeightFormat format, int64_t K, int64_t M, uint64_t seed, float scale) {
  Rng rng(seed);
  auto s = std::make_shared<blocks::MatrixStorage>();
  const size_t n = size_t(K) * size_t(M);
  auto random_bytes = [&](uint8_t* p, size_t count) {
    for (size_t i = 0; i < count; ++i) p[i] = uint8_t(rng.next_u32() >> 24);
  };
  auto factor = [&] { return rng.uniform(0.25f, 1.0f); };
  switch (format) {
    case WeightFormat::fp16: {
      s->data.resize(n * 2);
      for (size_t i = 0; i < n; ++i) put_f16(&s->data[2 * i], rng.normal() * scale);
      break;
    }
    case WeightFormat::q4_k: {  // |D*q| <= d*63*15 ~ 1.9 scale, M_j <= dmin*63 ~ scale
      const size_t nb = n / blocks::kQK_K;
      s->data.resize(nb * blocks::kQ4KBytes);
      for (size_t b = 0; b < nb; ++b) {
        uint8_t* p = &s->data[b * blocks::kQ4KBytes];
        random_bytes(p, blocks::kQ4KBytes);
        put_f16(p, scale * factor() / (63.0f * 8.0f));
        put_f16(p + 2, scale * factor() / 63.0f);
      }
      break;
    }
    case WeightFormat::q6_k: {  // |d*sc*(q-32)| <= scale; d of either sign
      const size_t nb = n / blocks::kQK_K;
      s->data.resize(nb * blocks::kQ6KBytes);
      for (size_t b = 0; b < nb; ++b) {
        uint8_t* p = &s->data[b * blocks::kQ6KBytes];
        random_bytes(p, blocks::kQ6KBytes);
        const float sign = (rng.next_u32() & 1) ? -1.0f : 1.0f;
        put_f16(p + 208, sign * scale * factor() / (128.0f * 32.0f));
      }
      break;
    }
    case WeightFormat::q8_0: {
      const size_t nb = n / blocks::kQ8_0Values;
      s->data.resize(nb * blocks::kQ8_0Bytes);
      for (size_t b = 0; b < nb; ++b) {
        uint8_t* p = &s->data[b * blocks::kQ8_0Bytes];
        random_bytes(p, blocks::kQ8_0Bytes);
        put_f16(p, scale * factor() / 127.0f);
      }
      break;
    }
    case WeightFormat::int8: {
      s->data.resize(n);
      random_bytes(s->data.data(), n);
      const size_t nb = (n + blocks::kInt8Block - 1) / blocks::kInt8Block;
      s->meta.resize(2 * nb);
      for (size_t b = 0; b < nb; ++b) {
        s->meta[2 * b] = to_f16(-scale * factor());
        s->meta[2 * b + 1] = to_f16(scale * factor());
      }
      break;
    }
    case WeightFormat::nf4:
    case WeightFormat::sf4: {
      s->data.resize(n / 2);
      random_bytes(s->data.data(), n / 2);
      const size_t nb = (n + blocks::kNf4Block - 1) / blocks::kNf4Block;
      s->meta.resize(nb);
      for (size_t b = 0; b < nb; ++b) s->meta[b] = to_f16(scale * factor());
      break;
    }
  }
  return blocks::owned_matrix(format, K, M, std::move(s), "random_matrix");
}

}  // namespace rwkv
