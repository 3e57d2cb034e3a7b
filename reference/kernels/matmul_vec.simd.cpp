// Lane code of matmul_vec (web-rwkv matmul_vec_*.wgsl, plain non-subgroup variant).
//
// CANONICAL ORDER. One workgroup of 128 threads computes rows m0..m0+3 of one
// token (the last group of a matrix with M % 4 != 0 has fewer rows; each row's
// bits are independent of its group-mates). For each row r:
//   1. thread i (0..127) visits the vec4 columns c = i, i+128, i+256, ... < K/4
//      in that order, starting from p_i = +0, and does
//        p_i = p_i + dot4(W[r][4c..4c+3], x[4c..4c+3])
//      with dot4 = ((w0*x0 + w1*x1) + w2*x2) + w3*x3 (every * and + rounded to f32).
//      Sparse input: the update is skipped when x[4c..4c+3] are all == 0 (+0 or -0).
//   2. tree: for s = 64, 32, 16, 8, 4, 2, 1: p_i = p_i + p_{i+s} for i < s.
//   3. y = act(p_0) in f32 (canon_activate), rounded once to y's dtype.
// Weights are the f32 values of matmul_weights.inc (blocks.h); x is f16 or f32.
//
// LANES. Lane l of a vector is one thread: a vector holds the partials of
// kLanes consecutive threads, whose columns are kLanes consecutive quads =
// 4*kLanes consecutive values of K. Those values are loaded in natural order
// and regrouped by lane_transpose_quads (a bit permutation), so each lane does
// exactly the scalar thread's operations. The input is regrouped the same way
// once per token (x_scratch). The tree adds whole vectors while the pairs
// (i, i+s) sit in the same lane, then finishes in thread order. Columns beyond
// K are padded with x = 0 and w = 0: dot4 is then +0, and p + (+0) == p because
// a partial that starts at +0 is never -0.
//
// WORK ORDER (no effect on bits): OpenMP splits row groups statically; a
// single token walks the group's rows one after another (one sequential
// weight stream per thread), several tokens share each decoded weight block.
#include "reference/simd/variant.h"
#include "reference/kernels/parallel_work.h"
#include "reference/kernels/matmul_detail.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/matmul_lanes.inc"
#include "reference/kernels/matmul_weights.inc"

namespace {

using matmul_detail::VecArgs;

constexpr int kThreads = 128;              // web-rwkv BLOCK_SIZE
constexpr int kRows = 4;                   // output rows per workgroup
constexpr int kBlock = 4 * kLanes;         // values of K in one lane block (kLanes threads)
constexpr int kSlots = kThreads / kLanes;  // lane blocks per sweep of the 128 threads
constexpr int kTokenChunk = 8;             // tokens sharing one decode of the weights
static_assert(kDecodeChunk % kBlock == 0);

// Regroups token x (K values) into x_scratch: lane block b holds, at
// [b*kBlock + q*kLanes + l], element q of the quad of lane l; nonzero[b*kLanes
// + l] is 1 unless that quad is all zeros (for sparse input).
template <class X>
void regroup_input(const X* x, int64_t K, int64_t blocks, float* out, float* nonzero) {
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t e0 = b * kBlock;
    Lane q0, q1, q2, q3;
    if (e0 + kBlock <= K) {
      q0 = lane_load_any<Lane>(x + e0), q1 = lane_load_any<Lane>(x + e0 + kLanes);
      q2 = lane_load_any<Lane>(x + e0 + 2 * kLanes), q3 = lane_load_any<Lane>(x + e0 + 3 * kLanes);
    } else {  // tail: zero columns beyond K
      alignas(64) float t[kBlock];
      for (int i = 0; i < kBlock; ++i) t[i] = e0 + i < K ? lane_load_any<float>(x + e0 + i) : 0.0f;
      q0 = lane_load<Lane>(t), q1 = lane_load<Lane>(t + kLanes);
      q2 = lane_load<Lane>(t + 2 * kLanes), q3 = lane_load<Lane>(t + 3 * kLanes);
    }
    lane_transpose_quads(q0, q1, q2, q3);
    float* o = out + b * kBlock;
    lane_store(o, q0), lane_store(o + kLanes, q1), lane_store(o + 2 * kLanes, q2), lane_store(o + 3 * kLanes, q3);
    const Lane zero = lane_splat<Lane>(0.0f);
    const Lane all_zero = lane_select(q0 == zero, lane_select(q1 == zero, lane_select(q2 == zero,
                                      lane_select(q3 == zero, lane_splat<Lane>(1.0f), zero), zero), zero), zero);
    lane_store(nonzero + b * kLanes, lane_splat<Lane>(1.0f) - all_zero);
  }
}

// The weights of one row, as lane blocks of regrouped values.
struct F16Row {  // fp16 read directly
  const uint16_t* row;
  int64_t K;
  void load(int64_t e0, Lane& a, Lane& b, Lane& c, Lane& d) const {
    if (e0 + kBlock <= K) {
      a = lane_load_f16<Lane>(row + e0), b = lane_load_f16<Lane>(row + e0 + kLanes);
      c = lane_load_f16<Lane>(row + e0 + 2 * kLanes), d = lane_load_f16<Lane>(row + e0 + 3 * kLanes);
    } else {
      alignas(64) float t[kBlock];
      for (int i = 0; i < kBlock; ++i) t[i] = e0 + i < K ? lane_load_f16<float>(row + e0 + i) : 0.0f;
      a = lane_load<Lane>(t), b = lane_load<Lane>(t + kLanes), c = lane_load<Lane>(t + 2 * kLanes),
      d = lane_load<Lane>(t + 3 * kLanes);
    }
    lane_transpose_quads(a, b, c, d);
  }
};
struct DecodedRow {  // any format, decoded kDecodeChunk values at a time into a zero-padded buffer
  const float* chunk;  // values k0 .. k0 + kDecodeChunk
  int64_t k0;
  void load(int64_t e0, Lane& a, Lane& b, Lane& c, Lane& d) const {
    const float* p = chunk + (e0 - k0);
    a = lane_load<Lane>(p), b = lane_load<Lane>(p + kLanes), c = lane_load<Lane>(p + 2 * kLanes),
    d = lane_load<Lane>(p + 3 * kLanes);
    lane_transpose_quads(a, b, c, d);
  }
};

// Step 1 for lane blocks [b_begin, b_end) of rows r0..r0+nr-1 and tokens 0..nt-1.
// NR and NT > 0 fix the row and token counts at compile time (the common full
// groups, unrolled); 0 means "given at run time" (tails).
template <bool kSparse, int NR, int NT, class Row>
inline void accumulate(const Row* rows, int nr_rt, int nt_rt, int64_t b_begin, int64_t b_end, const float* xs,
                       const float* nz, int64_t x_stride, int64_t nz_stride, Lane (*P)[kRows][kSlots], int r0 = 0) {
  const int nr = NR > 0 ? NR : nr_rt, nt = NT > 0 ? NT : nt_rt;
  for (int64_t b = b_begin; b < b_end; ++b) {
    if constexpr (kSparse) {  // whole lane block skipped by every token: nothing to do
      bool any = false;
      for (int t = 0; t < nt && !any; ++t)
        for (int l = 0; l < kLanes; ++l) any |= nz[t * nz_stride + b * kLanes + l] != 0.0f;
      if (!any) continue;
    }
    const int slot = int(b % kSlots);
    for (int r = 0; r < nr; ++r) {
      Lane w0, w1, w2, w3;
      rows[r0 + r].load(b * kBlock, w0, w1, w2, w3);
      for (int t = 0; t < nt; ++t) {
        const float* xq = xs + t * x_stride + b * kBlock;
        const Lane d = dot4(w0, w1, w2, w3, lane_load<Lane>(xq), lane_load<Lane>(xq + kLanes),
                            lane_load<Lane>(xq + 2 * kLanes), lane_load<Lane>(xq + 3 * kLanes));
        Lane& p = P[t][r0 + r][slot];
        if constexpr (kSparse)
          p = lane_select(lane_load<Lane>(nz + t * nz_stride + b * kLanes) != lane_splat<Lane>(0.0f), p + d, p);
        else
          p = p + d;
      }
    }
  }
}

template <bool kSparse, class Row>
inline void accumulate_any(const Row* rows, int nr, int nt, int64_t b_begin, int64_t b_end, const float* xs,
                           const float* nz, int64_t x_stride, int64_t nz_stride, Lane (*P)[kRows][kSlots]) {
  if (nt == 1) {  // one row after the other: the rows of a group are one sequential stream in memory
    for (int r = 0; r < nr; ++r)
      accumulate<kSparse, 1, 1>(rows, 1, 1, b_begin, b_end, xs, nz, x_stride, nz_stride, P, r);
  } else if (nr == kRows && nt == kTokenChunk)
    accumulate<kSparse, kRows, kTokenChunk>(rows, nr, nt, b_begin, b_end, xs, nz, x_stride, nz_stride, P);
  else
    accumulate<kSparse, 0, 0>(rows, nr, nt, b_begin, b_end, xs, nz, x_stride, nz_stride, P);
}

// Steps 2 and 3 for one row of one token; slots (the row's partials) are
// consumed. Tree levels s >= kLanes pair thread i with i + s in the same lane
// of another slot: whole-vector adds. The last levels pair threads inside
// slot 0, which are taken out in thread order (lane_of_thread) and added one by one.
template <class Y>
inline void reduce_and_store(Lane* slots, const int* lane_of_thread, Activation act, Y* out) {
  int s = kThreads / 2;
  for (; s >= kLanes; s /= 2)
    for (int j = 0; j < s / kLanes; ++j) slots[j] = slots[j] + slots[j + s / kLanes];
  alignas(64) float lanes[kLanes];
  lane_store(lanes, slots[0]);
  float p[kLanes];
  for (int i = 0; i < kLanes; ++i) p[i] = lanes[lane_of_thread[i]];
  for (; s >= 1; s /= 2)
    for (int i = 0; i < s; ++i) p[i] = p[i] + p[i + s];
  lane_store_any(out, canon_activate(act, p[0]));
}

template <bool kSparse, class Y>
void run(const VecArgs& a, Y* y) {
  const auto& w = a.w;
  const int64_t K = w.K, M = w.M, T = a.T;
  const int64_t Kp = matmul_detail::padded_k(K), blocks = (K + kBlock - 1) / kBlock;
  int lane_quad[kLanes], lane_of_thread[kLanes];  // within a lane block, thread = quad
  quad_lane_order(lane_quad);
  for (int l = 0; l < kLanes; ++l) lane_of_thread[lane_quad[l]] = l;

#pragma omp parallel for schedule(static) if (T > 1 && K * T >= kParallelMinElements)
  for (int64_t t = 0; t < T; ++t) {
    if (a.x_f16)
      regroup_input(static_cast<const f16*>(a.x) + t * K, K, blocks, a.x_scratch + t * Kp, a.x_nonzero + t * Kp / 4);
    else
      regroup_input(static_cast<const float*>(a.x) + t * K, K, blocks, a.x_scratch + t * Kp,
                    a.x_nonzero + t * Kp / 4);
  }

  const int64_t groups = (M + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (K * M * T >= kParallelMinMacs)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t m0 = g * kRows;
    const int nr = int(M - m0 < kRows ? M - m0 : kRows);
    Lane P[kTokenChunk][kRows][kSlots];
    alignas(64) float chunk[kRows][kDecodeChunk];
    for (int64_t t0 = 0; t0 < T; t0 += kTokenChunk) {
      const int nt = int(T - t0 < kTokenChunk ? T - t0 : kTokenChunk);
      for (int t = 0; t < nt; ++t)
        for (int r = 0; r < kRows; ++r)
          for (int s = 0; s < kSlots; ++s) P[t][r][s] = lane_splat<Lane>(0.0f);
      const float* xs = a.x_scratch + t0 * Kp;
      const float* nz = a.x_nonzero + t0 * Kp / 4;
      if (w.format == WeightFormat::fp16) {
        F16Row rows[kRows];
        for (int r = 0; r < nr; ++r) rows[r] = F16Row{reinterpret_cast<const uint16_t*>(w.data) + (m0 + r) * K, K};
        accumulate_any<kSparse>(rows, nr, nt, 0, blocks, xs, nz, Kp, Kp / 4, P);
      } else {
        for (int64_t k0 = 0; k0 < K; k0 += kDecodeChunk) {
          const int64_t n = K - k0 < kDecodeChunk ? K - k0 : kDecodeChunk;
          const int64_t b_end = (k0 + n + kBlock - 1) / kBlock;
          DecodedRow rows[kRows];
          for (int r = 0; r < nr; ++r) {
            decode_weights(w, m0 + r, k0, n, chunk[r]);
            for (int64_t i = n; i < kDecodeChunk; ++i) chunk[r][i] = 0.0f;
            rows[r] = DecodedRow{chunk[r], k0};
          }
          accumulate_any<kSparse>(rows, nr, nt, k0 / kBlock, b_end, xs, nz, Kp, Kp / 4, P);
        }
      }
      for (int t = 0; t < nt; ++t)
        for (int r = 0; r < nr; ++r) reduce_and_store(P[t][r], lane_of_thread, a.act, y + (t0 + t) * M + m0 + r);
    }
  }
}

}  // namespace

void matmul_vec_lanes(const VecArgs& a) {
  if (a.y_f16) {
    if (a.sparse) run<true>(a, static_cast<f16*>(a.y));
    else run<false>(a, static_cast<f16*>(a.y));
  } else {
    if (a.sparse) run<true>(a, static_cast<float*>(a.y));
    else run<false>(a, static_cast<float*>(a.y));
  }
}

}  // namespace rwkv::RWKV_SIMD_NS
