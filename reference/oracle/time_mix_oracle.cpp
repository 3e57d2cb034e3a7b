#include "reference/oracle/time_mix_oracle.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

namespace rwkv {
namespace {

using Vec = Eigen::VectorXd;
using MatMap = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// Elements [c0, c0 + N) of a [C, T, planes] view at token t, plane p, widened.
Vec gather(const oracle::Operand& v, int64_t C, int64_t T, int64_t p, int64_t t, int64_t c0, int64_t N) {
  Vec out(N);
  for (int64_t j = 0; j < N; ++j) out[j] = double(v.get(p * C * T + t * C + c0 + j));
  return out;
}

}  // namespace

TimeMixOracleState::TimeMixOracleState(int64_t C_, int64_t N_, int64_t B_)
    : C(C_), N(N_), B(B_),
      att_shift(size_t(B_ * C_)), wkv(size_t(B_ * C_ * N_)), row_max(size_t(B_ * C_)) {}

void TimeMixOracleState::load_slot(const oracle::StateOperand& s, int64_t b) {
  for (int64_t c = 0; c < C; ++c) att_shift[size_t(b * C + c)] = s.at(b, 0, c);
  for (int64_t h = 0; h < C / N; ++h)
    for (int64_t i = 0; i < N; ++i) {
      double norm2 = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double v = s.at(b, 1 + j, h * N + i);  // web-rwkv: row 1 + key, column value
        S(b, h, i, j) = v;
        norm2 += v * v;
      }
      row_max[size_t(b * C + h * N + i)] = std::sqrt(norm2);
    }
}

TimeMixOracleOutput time_mix_v7_oracle(TimeMixOracleState& st, const oracle::Operand& r, const oracle::Operand& z,
                                       const oracle::Operand& n, const oracle::Operand& x, std::span<const Cursor> cursors,
                                       double decay) {
  const int64_t C = st.C, N = st.N, H = C / N, T = int64_t(cursors.size());
  TimeMixOracleOutput out;
  out.y.assign(size_t(C * T), 0.0);
  out.y_scale.assign(size_t(C * T), 0.0);
  for (int64_t t = 0; t < T; ++t) {
    const Cursor& cur = cursors[size_t(t)];
    const int64_t b = cur.batch;
    if (t == int64_t(cur.start) + int64_t(cur.len) - 1)
      for (int64_t c = 0; c < C; ++c) st.att_shift[size_t(b * C + c)] = double(x.get(t * C + c));
    for (int64_t h = 0; h < H; ++h) {
      const int64_t c0 = h * N;
      const Vec rv = gather(r, C, T, 0, t, c0, N);
      const Vec zv = gather(z, C, T, 0, t, c0, N);
      const Vec k = gather(n, C, T, 0, t, c0, N);
      const Vec v = gather(n, C, T, 1, t, c0, N);
      const Vec a = gather(n, C, T, 2, t, c0, N);
      const Vec kk = gather(n, C, T, 3, t, c0, N);
      Vec w(N);
      for (int64_t j = 0; j < N; ++j) w[j] = std::exp(-decay / (1.0 + std::exp(-zv[j])));
      const Vec ab = kk.cwiseProduct(a);

      MatMap S(&st.S(b, h, 0, 0), N, N);
      const Vec sa = S * (-kk);
      S = (S * w.asDiagonal()).eval() + sa * ab.transpose() + v * k.transpose();
      const Vec y = S * rv;

      const double r_norm = rv.norm(), k_norm = k.norm();
      for (int64_t i = 0; i < N; ++i) {
        double& m = st.row_max[size_t(b * C + c0 + i)];
        m = std::max({m, S.row(i).norm(), std::fabs(v[i]) * k_norm});
        out.y[size_t(t * C + c0 + i)] = y[i];
        out.y_scale[size_t(t * C + c0 + i)] = r_norm * m;
      }
    }
  }
  return out;
}

TimeFirstOracleOutput time_first_v7_oracle(const oracle::Operand& r_k, const oracle::Operand& r, const oracle::Operand& n,
                                           const oracle::Operand& x, int64_t N) {
  const int64_t C = x.shape[0], T = x.shape[1];
  TimeFirstOracleOutput out;
  out.x.assign(size_t(C * T), 0.0);
  out.x_mag.assign(size_t(C * T), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c0 = 0; c0 < C; c0 += N) {
      double sum = 0, mag = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double p = double(r_k.get(c0 + j)) * double(n.get(t * C + c0 + j)) * double(r.get(t * C + c0 + j));
        sum += p;
        mag += std::fabs(p);
      }
      for (int64_t i = 0; i < N; ++i) {
        const size_t e = size_t(t * C + c0 + i);
        const double xi = double(x.get(int64_t(e))), vi = double(n.get(C * T + int64_t(e)));
        out.x[e] = xi + sum * vi;
        out.x_mag[e] = std::fabs(xi) + mag * std::fabs(vi);
      }
    }
  return out;
}

}  // namespace rwkv
