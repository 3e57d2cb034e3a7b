// Lane code for layer_norm, group_norm and l2_norm (norm.h). One row (a token,
// or a (head, token) pair) is one emulated web-rwkv workgroup of `bs` threads;
// OpenMP splits rows. Lanes are the workgroup's flat thread states (thread i,
// vec4 component c at 4i + c; see lane_loops.inc) or, in the output pass,
// channels. Nothing is ever summed across lanes inside a register.
//
// Canonical order of layer_norm / group_norm (web-rwkv layer_norm.wgsl, Welford
// version; GROUP_NORM only changes bs, the row and the weight offset):
//  1. Thread i visits vec4 indices i, i+bs, i+2bs, ... of the row, keeping one
//     Welford state (n, mean, M2) per component, starting from zeros:
//       delta = v - mean;  n = n + 1;  mean = mean + delta / n;
//       M2 = M2 + delta * (v - mean)
//     (n is an exact small integer held in f32, as web-rwkv's u32 count
//     converted to f32.)
//  2. Chan merges at strides 64, 32, 16, 8, 4, 2, 1: thread i < s absorbs
//     thread i + s, per component:
//       delta = mean2 - mean1;  n = n1 + n2;
//       mean = (mean1*n1 + mean2*n2) / n
//       M2 = (M2_1 + M2_2) + ((delta*delta) * (n1*n2)) / n
//     and mean = M2 = 0 where n = 0. Merging an empty state (n2 = 0) is not a
//     no-op: mean becomes (mean1*n1 + 0)/n1, which may differ from mean1 by
//     rounding, exactly as on the GPU.
//  3. Lane fold by thread 0 over components x, y, z, w (R = row length):
//       q_c = n_c / R
//       mean = ((mean_x*q_x + mean_y*q_y) + mean_z*q_z) + mean_w*q_w
//       d_c = mean_c - mean
//       M2 = (((M2_x + M2_y) + M2_z) + M2_w)
//            + ((((d_x*d_x)*n_x + (d_y*d_y)*n_y) + (d_z*d_z)*n_z) + (d_w*d_w)*n_w)
//       var = M2 / R + eps;  rstd = canon_rsqrt(var) = 1 / sqrt(var)
//     web-rwkv writes dot(mean, n / R) and dot(M2, 1) + dot(d*d, n); WGSL leaves
//     a dot's term order open, we fix it left to right (x, y, z, w).
//  4. y = ((x - mean) * rstd) * w + b, rounded to out's type. web-rwkv writes
//     fma((x - mean) * rstd, w, b); we round the product before adding (rule 4:
//     never fused), so a GPU that fuses may differ by one rounding here.
//
// group_norm with bs = 32 still runs the strides 64 and 32, whose partners
// (threads 64..95 and 32..63) are outside the 32-entry shared arrays. The spec
// (3.1) marks that read [unsure, possible bug]; we model it as reading an empty
// state (n = 0, mean = 0, M2 = 0), what a zero-filled out-of-range read gives,
// and still apply the merge formula to it (so step 2's empty-merge rounding
// happens there too).
//
// Canonical order of l2_norm (web-rwkv normalize.wgsl, non-subgroup):
//  1. Thread i sums squares of its vec4s: s = s + v*v per component, from 0.
//  2. Tree at strides 64..1: s[i] = s[i] + s[i + stride].
//  3. sum = ((s_x + s_y) + s_z) + s_w  (dot(s, 1) left to right);
//     scale = canon_rsqrt(sum + eps);  y = x * scale.
#include "reference/simd/variant.h"
#include "reference/kernels/parallel_work.h"
#include "reference/kernels/norm_rows.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/lane_loops.inc"

namespace {

struct WelfordStates {
  float n[kMaxFlat];
  float mean[kMaxFlat];
  float m2[kMaxFlat];
};

template <class V> inline void welford_push(V v, V& n, V& mean, V& m2) {
  const V delta = v - mean;
  n = n + lane_splat<V>(1.0f);
  mean = mean + delta / n;
  m2 = m2 + delta * (v - mean);
}

// Step 1: every thread's Welford pass over its strided vec4s.
template <class T> void welford_threads(const T* row, int64_t len, int bs, WelfordStates& s) {
  const int flat = 4 * bs;
  lane_blocks_exact(flat, [&](auto tag, int64_t f0) {
    using V = typename decltype(tag)::type;
    constexpr int W = lane_width<V>;
    V n = lane_splat<V>(0.0f), mean = lane_splat<V>(0.0f), m2 = lane_splat<V>(0.0f);
    int64_t j = f0;  // element index of lane 0 in this iteration
    for (; j + W <= len; j += flat) welford_push(lane_load_any<V>(row + j), n, mean, m2);
    lane_store(s.n + f0, n);
    lane_store(s.mean + f0, mean);
    lane_store(s.m2 + f0, m2);
    // At most one more iteration, in which only this block's first lanes still
    // have an element: run it lane by lane with the scalar code.
    for (int l = 0; l < W && j + l < len; ++l)
      welford_push(lane_load_any<float>(row + j + l), s.n[f0 + l], s.mean[f0 + l], s.m2[f0 + l]);
  });
  for (int f = flat; f < kMaxFlat; ++f) s.n[f] = s.mean[f] = s.m2[f] = 0.0f;  // empty states
}

// Step 2: the Chan tree.
void chan_tree(WelfordStates& s, int bs) {
  for (int stride = kMaxWorkgroup / 2; stride >= 1; stride /= 2) {
    const int active = 4 * (stride < bs ? stride : bs);
    const int off = 4 * stride;
    lane_blocks(active, [&](auto tag, int64_t f) {
      using V = typename decltype(tag)::type;
      const V n1 = lane_load<V>(s.n + f), n2 = lane_load<V>(s.n + f + off);
      const V mean1 = lane_load<V>(s.mean + f), mean2 = lane_load<V>(s.mean + f + off);
      const V m2_1 = lane_load<V>(s.m2 + f), m2_2 = lane_load<V>(s.m2 + f + off);
      const V delta = mean2 - mean1;
      const V total = n1 + n2;
      const V mean = (mean1 * n1 + mean2 * n2) / total;
      const V m2 = (m2_1 + m2_2) + ((delta * delta) * (n1 * n2)) / total;
      const auto nonempty = total > lane_splat<V>(0.0f);
      lane_store(s.n + f, total);
      lane_store(s.mean + f, lane_select(nonempty, mean, lane_splat<V>(0.0f)));
      lane_store(s.m2 + f, lane_select(nonempty, m2, lane_splat<V>(0.0f)));
    });
  }
}

struct RowStats {
  float mean;
  float rstd;
};

// Step 3: thread 0 folds the four components of its merged state.
RowStats fold_components(const WelfordStates& s, int64_t len, float eps) {
  const float r = float(len);
  float q[4];
  for (int c = 0; c < 4; ++c) q[c] = s.n[c] / r;
  float mean = s.mean[0] * q[0] + s.mean[1] * q[1];
  mean = mean + s.mean[2] * q[2];
  mean = mean + s.mean[3] * q[3];
  float d[4];
  for (int c = 0; c < 4; ++c) d[c] = s.mean[c] - mean;
  float m2_sum = s.m2[0] + s.m2[1];
  m2_sum = m2_sum + s.m2[2];
  m2_sum = m2_sum + s.m2[3];
  float spread = (d[0] * d[0]) * s.n[0] + (d[1] * d[1]) * s.n[1];
  spread = spread + (d[2] * d[2]) * s.n[2];
  spread = spread + (d[3] * d[3]) * s.n[3];
  const float var = (m2_sum + spread) / r + eps;
  return RowStats{mean, canon_rsqrt(var)};
}

// Step 4, lanes over channels.
template <class TX, class TO>
void normalize_row(const TX* x, TO* out, const f16* w, const f16* b, int64_t len, RowStats st) {
  lane_blocks(len, [&](auto tag, int64_t i) {
    using V = typename decltype(tag)::type;
    const V z = (lane_load_any<V>(x + i) - lane_splat<V>(st.mean)) * lane_splat<V>(st.rstd);
    lane_store_any(out + i, z * lane_load_f16<V>(w + i) + lane_load_f16<V>(b + i));
  });
}

// l2_norm steps 1 and 2: per-thread sums of squares, then the tree.
template <class T> float sum_of_squares(const T* row, int64_t len, int bs) {
  float sq[kMaxFlat];
  const int flat = 4 * bs;
  lane_blocks_exact(flat, [&](auto tag, int64_t f0) {
    using V = typename decltype(tag)::type;
    constexpr int W = lane_width<V>;
    V acc = lane_splat<V>(0.0f);
    int64_t j = f0;
    for (; j + W <= len; j += flat) {
      const V v = lane_load_any<V>(row + j);
      acc = acc + v * v;
    }
    lane_store(sq + f0, acc);
    for (int l = 0; l < W && j + l < len; ++l) {
      const float v = lane_load_any<float>(row + j + l);
      sq[f0 + l] = sq[f0 + l] + v * v;
    }
  });
  for (int f = flat; f < kMaxFlat; ++f) sq[f] = 0.0f;
  workgroup_tree(sq, bs, [](auto p, auto q) { return p + q; });
  float sum = sq[0] + sq[1];
  sum = sum + sq[2];
  return sum + sq[3];
}

}  // namespace

void layer_norm_rows(const NormRows& a) {
  with_typed_ptr(a.x, a.x_f16, [&](auto* x) {
    with_typed_ptr(a.out, a.out_f16, [&](auto* out) {
#pragma omp parallel for schedule(static) if (a.rows * a.len >= kParallelMinElements)
      for (int64_t r = 0; r < a.rows; ++r) {
        WelfordStates s;
        welford_threads(x + r * a.len, a.len, a.bs, s);
        chan_tree(s, a.bs);
        const RowStats st = fold_components(s, a.len, a.eps);
        const int64_t wo = (r % a.weight_rows) * a.len;
        normalize_row(x + r * a.len, out + r * a.len, a.w + wo, a.b + wo, a.len, st);
      }
    });
  });
}

void l2_norm_rows(const NormRows& a) {
  with_typed_ptr(a.x, a.x_f16, [&](auto* x) {
    with_typed_ptr(a.out, a.out_f16, [&](auto* out) {
#pragma omp parallel for schedule(static) if (a.rows * a.len >= kParallelMinElements)
      for (int64_t r = 0; r < a.rows; ++r) {
        const auto* row = x + r * a.len;
        auto* dst = out + r * a.len;
        const float scale = canon_rsqrt(sum_of_squares(row, a.len, a.bs) + a.eps);
        lane_blocks(a.len, [&](auto tag, int64_t i) {
          using V = typename decltype(tag)::type;
          lane_store_any(dst + i, lane_load_any<V>(row + i) * lane_splat<V>(scale));
        });
      }
    });
  });
}

}  // namespace rwkv::RWKV_SIMD_NS
