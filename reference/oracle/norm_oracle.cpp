#include "reference/oracle/norm_oracle.h"

#include <cmath>

namespace rwkv::oracle {
namespace {

// Normalises rows of `len` channels; row r uses w, b at (r % weight_rows) * len.
std::vector<double> normalize_rows(const Operand& x, const f16* w, const f16* b, int64_t len,
                                   int64_t weight_rows, double eps) {
  std::vector<double> y(size_t(x.numel()));
  for (int64_t r = 0; r < x.numel() / len; ++r) {
    const int64_t base = r * len;
    double sum = 0;
    for (int64_t i = 0; i < len; ++i) sum += x.get(base + i);
    const double mean = sum / double(len);
    double sq = 0;
    for (int64_t i = 0; i < len; ++i) {
      const double d = x.get(base + i) - mean;
      sq += d * d;
    }
    const double inv = 1.0 / std::sqrt(sq / double(len) + eps);
    const int64_t wo = (r % weight_rows) * len;
    for (int64_t i = 0; i < len; ++i)
      y[size_t(base + i)] = (x.get(base + i) - mean) * inv * to_f32(w[wo + i]) + to_f32(b[wo + i]);
  }
  return y;
}

}  // namespace

std::vector<double> layer_norm(const Operand& x, const f16* w, const f16* b, double eps) {
  return normalize_rows(x, w, b, x.shape[0], 1, eps);
}

std::vector<double> group_norm(const Operand& x, const f16* w, const f16* b, int64_t head_size,
                               double eps) {
  return normalize_rows(x, w, b, head_size, x.shape[0] / head_size, eps);
}

std::vector<double> l2_norm(const Operand& x, int64_t head_size, double eps) {
  std::vector<double> y(size_t(x.numel()));
  for (int64_t base = 0; base < x.numel(); base += head_size) {
    double sq = 0;
    for (int64_t i = 0; i < head_size; ++i) sq += double(x.get(base + i)) * x.get(base + i);
    const double inv = 1.0 / std::sqrt(sq + eps);
    for (int64_t i = 0; i < head_size; ++i) y[size_t(base + i)] = x.get(base + i) * inv;
  }
  return y;
}

}  // namespace rwkv::oracle
