// Lane code for softmax (softmax.h). One column is one emulated web-rwkv
// workgroup of BS = 128 threads; OpenMP splits columns. Lanes are the flat
// thread states (thread i, vec4 component c at 4i + c; lane_loops.inc), and
// channels in the output pass.
//
// Canonical order (web-rwkv softmax.wgsl, non-subgroup version):
//  1. Max. Thread i starts from -1e30 in every component and visits vec4
//     indices i, i+128, ...: m = max(m, v). Tree at strides 64..1:
//     m[i] = max(m[i], m[i + s]). Thread 0 folds the components in order:
//     max(max(max(m_x, m_y), m_z), m_w).
//     max is lane_max(a, b) = a > b ? a : b: with a NaN operand the second one
//     wins (WGSL leaves max with NaN to the implementation).
//  2. Sum. Thread i: e = e + canon_exp(v - max) from 0, same visiting order;
//     tree e[i] = e[i] + e[i + s]; sum = ((e_x + e_y) + e_z) + e_w (dot with 1).
//  3. out = canon_exp(x - max) / sum (IEEE division), recomputing the exp.
#include "reference/simd/variant.h"
#include "reference/kernels/parallel_work.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/lane_loops.inc"

namespace {

constexpr int kBlock = 128;  // BS
constexpr int kFlat = 4 * kBlock;
constexpr float kInitialMax = -1.0e30f;  // the shader's starting value of every thread's max

float column_max(const float* x, int64_t len) {
  float m[kMaxFlat];
  lane_blocks_exact(kFlat, [&](auto tag, int64_t f0) {
    using V = typename decltype(tag)::type;
    constexpr int W = lane_width<V>;
    V acc = lane_splat<V>(kInitialMax);
    int64_t j = f0;
    for (; j + W <= len; j += kFlat) acc = lane_max(acc, lane_load<V>(x + j));
    lane_store(m + f0, acc);
    for (int l = 0; l < W && j + l < len; ++l) m[f0 + l] = lane_max(m[f0 + l], x[j + l]);
  });
  workgroup_tree(m, kBlock, [](auto a, auto b) { return lane_max(a, b); });
  float r = lane_max(m[0], m[1]);
  r = lane_max(r, m[2]);
  return lane_max(r, m[3]);
}

float column_sum_exp(const float* x, int64_t len, float maximum) {
  float e[kMaxFlat];
  lane_blocks_exact(kFlat, [&](auto tag, int64_t f0) {
    using V = typename decltype(tag)::type;
    constexpr int W = lane_width<V>;
    V acc = lane_splat<V>(0.0f);
    int64_t j = f0;
    for (; j + W <= len; j += kFlat) acc = acc + canon_exp(lane_load<V>(x + j) - lane_splat<V>(maximum));
    lane_store(e + f0, acc);
    for (int l = 0; l < W && j + l < len; ++l) e[f0 + l] = e[f0 + l] + canon_exp(x[j + l] - maximum);
  });
  workgroup_tree(e, kBlock, [](auto a, auto b) { return a + b; });
  float s = e[0] + e[1];
  s = s + e[2];
  return s + e[3];
}

}  // namespace

void softmax_columns(const float* x, float* out, int64_t len, int64_t cols) {
#pragma omp parallel for schedule(static) if (len * cols >= kParallelMinElements)
  for (int64_t c = 0; c < cols; ++c) {
    const float* col = x + c * len;
    float* dst = out + c * len;
    const float maximum = column_max(col, len);
    const float sum = column_sum_exp(col, len, maximum);
    lane_blocks(len, [&](auto tag, int64_t i) {
      using V = typename decltype(tag)::type;
      lane_store(dst + i, canon_exp(lane_load<V>(col + i) - lane_splat<V>(maximum)) / lane_splat<V>(sum));
    });
  }
}

}  // namespace rwkv::RWKV_SIMD_NS
