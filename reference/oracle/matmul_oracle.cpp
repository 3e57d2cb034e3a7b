#include "reference/oracle/matmul_oracle.h"

#include <cmath>

#include "reference/formats/blocks.h"

namespace rwkv::oracle {

MatmulSums matmul_sums(const Matrix& w, const Operand& x) {
  const int64_t K = w.K, M = w.M, T = x.shape[1];
  if (!(x.shape == Shape(K, T, 1)))
    fail_arg("oracle::matmul_sums: x has shape {}, expected {}", x.shape.str(), Shape(K, T, 1).str());
  std::vector<float> wf(size_t(K * M));
  blocks::dequantize_matrix(w, wf.data());
  std::vector<double> xd(size_t(K * T));
  for (size_t i = 0; i < xd.size(); ++i) xd[i] = double(x.get(int64_t(i)));
  MatmulSums r;
  r.M = M;
  r.T = T;
  r.sum.resize(size_t(M * T));
  r.abs_sum.resize(size_t(M * T));
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    const float* wr = wf.data() + m * K;
    for (int64_t t = 0; t < T; ++t) {
      const double* xr = xd.data() + t * K;
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = double(wr[k]) * xr[k];  // exact: 24 x 24 bits fit in 53
        s += p;
        a += std::fabs(p);
      }
      r.sum[size_t(t * M + m)] = s;
      r.abs_sum[size_t(t * M + m)] = a;
    }
  }
  return r;
}

double activate_f64(Activation act, double v) {
  switch (act) {
    case Activation::none: return v;
    case Activation::tanh: return v > 42.0 ? 1.0 : std::tanh(v);
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Activation::squared_relu: return std::isnan(v) ? v : (v > 0 ? v * v : 0.0);
  }
  return v;
}

std::vector<double> matmul(const Matrix& w, const Operand& x, Activation act) {
  MatmulSums s = matmul_sums(w, x);
  for (double& v : s.sum) v = activate_f64(act, v);
  return s.sum;
}

}  // namespace rwkv::oracle
