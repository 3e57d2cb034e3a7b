// Lane code of matmul_mat (web-rwkv matmul_mat_*.wgsl).
//
// CANONICAL ORDER. Every output y[t][m] is one sequential sum over K in
// 4-value pieces, with no cross-thread reduction:
//   acc = +0; for c = 0 .. K/4-1: acc = acc + dot4(W[m][4c..4c+3], x[t][4c..4c+3]);
//   y = act(acc) in f32, rounded once to y's dtype;
// dot4 = ((w0*x0 + w1*x1) + w2*x2) + w3*x3, the same as matmul_vec's. web-rwkv's
// 32x32 workgroup tiles and 32-value K chunks only decide which outputs run
// together, not their bits, so the tiles below are sized for this CPU.
//
// LANES. Lane l is output row m0 + l of one token: weights are decoded and
// transposed per tile into wt[k][row] so that a vector load gives one K
// position of kLanes rows, and each token's x value is broadcast. Rows beyond
// M are padded with zero weights and never stored.
#include "reference/simd/variant.h"
#include "reference/kernels/parallel_work.h"
#include "reference/kernels/matmul_detail.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/matmul_lanes.inc"
#include "reference/kernels/matmul_weights.inc"

namespace {

using matmul_detail::MatArgs;

constexpr int kRowVecs = kLanes >= 8 ? 2 : 4;  // lane vectors of rows per tile
constexpr int kTileRows = kRowVecs * kLanes;
constexpr int kTileTokens = 64;
constexpr int kTokenGroup = 4;  // tokens accumulated together in registers

// acc[t][row] += the K values [k0, k0 + n) for tokens tt .. tt+G-1 of the tile.
template <int G>
inline void accumulate(const float* wt, const float* x, int64_t K, int64_t k0, int64_t n, float* acc) {
  Lane A[G][kRowVecs];
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < kRowVecs; ++v) A[g][v] = lane_load<Lane>(acc + g * kTileRows + v * kLanes);
  for (int64_t c = 0; c < n / 4; ++c) {
    const float* wq = wt + 4 * c * kTileRows;
    Lane w[kRowVecs][4];
    for (int v = 0; v < kRowVecs; ++v)
      for (int q = 0; q < 4; ++q) w[v][q] = lane_load<Lane>(wq + q * kTileRows + v * kLanes);
    for (int g = 0; g < G; ++g) {
      const float* xq = x + g * K + k0 + 4 * c;
      const Lane x0 = lane_splat<Lane>(xq[0]), x1 = lane_splat<Lane>(xq[1]), x2 = lane_splat<Lane>(xq[2]),
                 x3 = lane_splat<Lane>(xq[3]);
      for (int v = 0; v < kRowVecs; ++v) A[g][v] = A[g][v] + dot4(w[v][0], w[v][1], w[v][2], w[v][3], x0, x1, x2, x3);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < kRowVecs; ++v) lane_store(acc + g * kTileRows + v * kLanes, A[g][v]);
}

template <class Y>
void run(const MatArgs& a, Y* y) {
  const auto& w = a.w;
  const int64_t K = w.K, M = w.M, T = a.T;
  const int64_t row_tiles = (M + kTileRows - 1) / kTileRows, token_tiles = (T + kTileTokens - 1) / kTileTokens;

#pragma omp parallel for schedule(static) if (K * M * T >= kParallelMinMacs)
  for (int64_t tile = 0; tile < row_tiles * token_tiles; ++tile) {
    const int64_t m0 = tile / token_tiles * kTileRows, t0 = tile % token_tiles * kTileTokens;
    const int nr = int(M - m0 < kTileRows ? M - m0 : kTileRows);
    const int nt = int(T - t0 < kTileTokens ? T - t0 : kTileTokens);
    alignas(64) float acc[kTileTokens * kTileRows];
    alignas(64) float wt[kDecodeChunk * kTileRows];
    alignas(64) float row[kDecodeChunk];
    for (int i = 0; i < nt * kTileRows; ++i) acc[i] = 0.0f;
    for (int64_t k0 = 0; k0 < K; k0 += kDecodeChunk) {
      const int64_t n = K - k0 < kDecodeChunk ? K - k0 : kDecodeChunk;
      for (int r = 0; r < kTileRows; ++r) {
        if (r < nr) decode_weights(w, m0 + r, k0, n, row);
        for (int64_t k = 0; k < n; ++k) wt[k * kTileRows + r] = r < nr ? row[k] : 0.0f;
      }
      const float* x = a.x + t0 * K;
      int t = 0;
      for (; t + kTokenGroup <= nt; t += kTokenGroup)
        accumulate<kTokenGroup>(wt, x + t * K, K, k0, n, acc + t * kTileRows);
      for (; t < nt; ++t) accumulate<1>(wt, x + t * K, K, k0, n, acc + t * kTileRows);
    }
    for (int t = 0; t < nt; ++t) {
      Y* out = y + (t0 + t) * M + m0;
      const float* s = acc + t * kTileRows;
      int r = 0;
      for (; r + kLanes <= nr; r += kLanes) lane_store_any(out + r, canon_activate(a.act, lane_load<Lane>(s + r)));
      for (; r < nr; ++r) lane_store_any(out + r, canon_activate(a.act, s[r]));
    }
  }
}

}  // namespace

void matmul_mat_lanes(const MatArgs& a) {
  if (a.y_f16) run(a, static_cast<f16*>(a.y));
  else run(a, static_cast<float*>(a.y));
}

}  // namespace rwkv::RWKV_SIMD_NS
