#include "reference/formats/quantize_matrix.h"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/formats/webrwkv_quant.h"

namespace rwkv {

namespace {

// What a quantised Matrix points into.
[[noreturn]] void bad_k(WeightFormat f, int64_t K, int multiple) {
  throw std::invalid_argument(fmt::format("quantize_matrix ({}): K = {} is not a multiple of {}", format_name(f), K,
                                          multiple));
}

std::vector<f16> to_f16_all(const float* w, size_t n) {
  std::vector<f16> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = to_f16(w[i]);
  return h;
}

}  // namespace

Matrix quantize_matrix(WeightFormat f, const float* w, int64_t K, int64_t M) {
  if (K <= 0 || M <= 0)
    throw std::invalid_argument(fmt::format("quantize_matrix ({}): K = {} and M = {} must be positive", format_name(f),
                                            K, M));
  if (w == nullptr) throw std::invalid_argument(fmt::format("quantize_matrix ({}): w is null", format_name(f)));
  const size_t n = size_t(K) * size_t(M);
  auto store = std::make_shared<blocks::MatrixStorage>();
  switch (f) {
    case WeightFormat::fp16: {
      const std::vector<f16> h = to_f16_all(w, n);
      store->data.resize(n * 2);
      std::memcpy(store->data.data(), h.data(), n * 2);
      break;
    }
    case WeightFormat::q4_k:
    case WeightFormat::q6_k:
    case WeightFormat::q8_0: {
      const int multiple = f == WeightFormat::q8_0 ? blocks::kQ8_0Values : blocks::kQK_K;
      if (K % multiple != 0) bad_k(f, K, multiple);
      const int64_t row_bytes = blocks::ggml_row_bytes(f, K);
      store->data.resize(size_t(row_bytes) * size_t(M));
      for (int64_t m = 0; m < M; ++m) {
        uint8_t* out = store->data.data() + m * row_bytes;
        if (f == WeightFormat::q4_k) quantize_row_q4_k(w + m * K, K, out);
        else if (f == WeightFormat::q6_k) quantize_row_q6_k(w + m * K, K, out);
        else quantize_row_q8_0(w + m * K, K, out);
      }
      break;
    }
    case WeightFormat::int8: {
      const std::vector<f16> h = to_f16_all(w, n);
      store->data.resize(n);
      store->meta.resize(2 * ((n + blocks::kInt8Block - 1) / blocks::kInt8Block));
      quantize_int8(h.data(), int64_t(n), store->data.data(), store->meta.data());
      break;
    }
    case WeightFormat::nf4:
    case WeightFormat::sf4: {
      if (K % 8 != 0) bad_k(f, K, 8);
      const std::vector<f16> h = to_f16_all(w, n);
      store->data.resize(n / 2);
      store->meta.resize((n + blocks::kNf4Block - 1) / blocks::kNf4Block);
      const float* table = f == WeightFormat::nf4 ? blocks::nf4_table() : blocks::sf4_table();
      quantize_fp4(table, h.data(), int64_t(n), store->data.data(), store->meta.data());
      break;
    }
  }
  return blocks::owned_matrix(f, K, M, std::move(store), "quantize_matrix");
}

}  // namespace rwkv
