#include "reference/kernels/time_mix_inputs.h"

#include <cmath>

#include "reference/util/rng.h"

namespace rwkv {

TimeMixInputs make_time_mix_inputs(uint64_t seed, DType dtype, int64_t C, int64_t N,
                                   const std::vector<std::pair<uint32_t, uint32_t>>& chunks) {
  TimeMixInputs in;
  in.C = C;
  in.N = N;
  in.cursors = make_cursors(chunks);
  in.T = int64_t(in.cursors.size());
  const int64_t T = in.T;
  in.r = Tensor(dtype, Shape(C, T));
  in.z = Tensor(dtype, Shape(C, T));
  in.n = Tensor(dtype, Shape(C, T, 4));
  in.x = Tensor(dtype, Shape(C, T));
  Rng rng(seed);
  std::vector<float> w0(static_cast<size_t>(C));
  for (auto& w : w0) w = rng.uniform(-8.0f, 3.0f);
  const TensorView r = in.r.view(), z = in.z.view(), n = in.n.view(), x = in.x.view();
  const int64_t plane = C * T;
  std::vector<double> kk(static_cast<size_t>(N));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = 0; c < C; ++c) {
      const int64_t e = t * C + c;
      r.set(e, rng.normal());
      z.set(e, w0[size_t(c)] + 0.5f * rng.normal());
      n.set(e, 0.5f * rng.normal());                          // k
      n.set(plane + e, rng.normal());                         // v
      n.set(2 * plane + e, rng.uniform(0.001f, 0.999f));      // a
      x.set(e, rng.normal());
    }
    for (int64_t h = 0; h < C / N; ++h) {                     // kk: unit length per head
      double sum = 0;
      for (int64_t j = 0; j < N; ++j) {
        kk[size_t(j)] = rng.normal();
        sum += kk[size_t(j)] * kk[size_t(j)];
      }
      const double inv = 1.0 / std::sqrt(sum + 1e-12);
      for (int64_t j = 0; j < N; ++j) n.set(3 * plane + t * C + h * N + j, float(kk[size_t(j)] * inv));
    }
  }
  return in;
}

std::vector<float> make_time_mix_state(uint64_t seed, int64_t C, int64_t N, int64_t B, float scale) {
  std::vector<float> s(size_t(C * (N + 2) * B), 0.0f);
  if (scale == 0.0f) return s;
  Rng rng(seed);
  // Uniform on [-sqrt(3), sqrt(3)): unit variance, 12x cheaper than normal().
  for (auto& v : s) v = scale * rng.uniform(-1.7320508f, 1.7320508f);
  return s;
}

Tensor make_time_first_weight(uint64_t seed, int64_t C) {
  Tensor t(DType::f16, Shape(C));
  Rng rng(seed);
  for (int64_t c = 0; c < C; ++c) t.view().set(c, 0.5f * rng.normal());
  return t;
}

}  // namespace rwkv
