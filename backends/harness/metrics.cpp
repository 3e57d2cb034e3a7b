#include "backends/harness/metrics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "reference/kernels/parallel_work.h"
#include "reference/numeric/f16_array.h"

namespace rwkv::harness {

const char* ulp_bucket_label(int b) {
  static const char* labels[kUlpBuckets] = {"0", "1", "2", "3-4", "5-8", "9-16", "17-256", ">256"};
  return labels[b];
}

double ulp_at(DType t, double v) {
  const double a = std::fabs(v);
  // Below the smallest normal (zero included) the spacing is the subnormals'.
  if (t == DType::f16 && a < 0x1p-14) return 0x1p-24;
  if (t == DType::f32 && a < 0x1p-126) return 0x1p-149;
  int e = 0;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  if (t == DType::f16) return std::ldexp(1.0, e - 1 - 10);
  return std::ldexp(1.0, e - 1 - 23);
}

std::string TensorMetrics::beyond_str() const {
  if (beyond == 0) return fmt::format("0 of {}", count);
  return fmt::format("{} of {} ({:.3g}%)", beyond, count, 100.0 * double(beyond) / double(count));
}

namespace {

struct Partial {
  TensorMetrics m;
  double sq_diff = 0, sq_ref = 0, sq_cand = 0, dot = 0;
};

constexpr int64_t kBlock = 4096;

// ulp_at for a reference value given by its stored bits (finite), as ulp_at
// computes it: f16 2^(max(e, 1) - 25), f32 2^(max(e, 1) - 150) for the
// biased exponent e.
inline float pow2f(int k) {  // 2^k for k in [-149, 127], subnormals included, without libm
  return k >= -126 ? std::bit_cast<float>(uint32_t(k + 127) << 23) : std::bit_cast<float>(uint32_t(1) << (k + 149));
}
inline float ulp_of_f16_bits(uint16_t h) { return pow2f(std::max(int(h >> 10) & 0x1f, 1) - 25); }
inline float ulp_of_f32_bits(uint32_t b) { return pow2f(std::max(int(b >> 23) & 0xff, 1) - 150); }

// Places on the monotone integer line of ulp.h (+0 and -0 the same point),
// without branches: the magnitude, negated for a set sign bit.
inline int32_t ordinal16(uint16_t h) {
  const int32_t mag = h & 0x7fff, neg = -int32_t(h >> 15);
  return (mag ^ neg) - neg;
}
inline int32_t ordinal32(uint32_t b) {
  const int32_t mag = int32_t(b & 0x7fffffffu), neg = -int32_t(b >> 31);
  return (mag ^ neg) - neg;
}
// |a - b| of two ordinals: below 2^32, so exact in uint32 (32-bit lanes vectorise everywhere).
inline uint32_t ordinal_distance(int32_t a, int32_t b) {
  return a >= b ? uint32_t(a) - uint32_t(b) : uint32_t(b) - uint32_t(a);
}

// A block is compared in pieces of kPiece elements. For each piece, loops
// without branches (they vectorise) compute every element's values: the
// difference d, the tolerance t, the relative error, the ratio d / t that
// picks the worst element, the ULP distance and its histogram bucket, whether
// it is beyond tolerance; then the maxima, counts and the worst element are
// reduced over the piece (exact and order-free: maxima of non-NaN values,
// integer counts, the first index of the largest ratio), and the four double
// sums in eight interleaved partials of a fixed order. So every result is the
// same for any SIMD width and thread count.
// The reference's f16 bits (rh) and the candidate's (ch, or nullptr when it
// is f32) are used as they are.
constexpr int64_t kPiece = 256;

// Per-element values in float: twice the SIMD width of double. |c - r| of two
// floats is exact when they are within a factor of two (every close pair) and
// otherwise within 2^-24 of it: what matters here is how it compares with a
// tolerance, not its last bit. The sums (NMSE, cosine) stay in double.
struct PieceValues {
  float d[kPiece], t[kPiece], rel[kPiece], ratio[kPiece];
  uint32_t u[kPiece];  // ULP distance of finite elements (0 for the others)
  uint8_t finite[kPiece], bucket[kPiece], beyond[kPiece], mismatch[kPiece], not_stored[kPiece];
};

// 1 or 0 (integers, so that & combines them without a branch).
inline uint32_t finite_bits(float x) { return (f32_to_bits(x) & 0x7f800000u) != 0x7f800000u; }
inline uint32_t nan_bits(float x) { return (f32_to_bits(x) & 0x7fffffffu) > 0x7f800000u; }
inline bool both_finite(float a, float b) { return (finite_bits(a) & finite_bits(b)) != 0; }

template <bool kF16>
__attribute__((always_inline)) inline void compare_piece(const float* r, const float* c, const uint16_t* rh,
                                                         const uint16_t* ch, int64_t n, const Tolerance& tol,
                                                         PieceValues& v) {
  const float atol = float(tol.atol), ulps = float(tol.ulps);
  // Candidate f16 bits: its own, or its f32 values rounded (a value that
  // changes is not an f16: a store that missed its rounding).
  uint16_t cb[kPiece];
  if constexpr (kF16) {
    if (ch) {
      for (int64_t i = 0; i < n; ++i) cb[i] = ch[i];
      for (int64_t i = 0; i < n; ++i) v.not_stored[i] = 0;
    } else {
      for (int64_t i = 0; i < n; ++i) cb[i] = f32_to_f16_bits(c[i]);
      for (int64_t i = 0; i < n; ++i) v.not_stored[i] = f16_bits_to_f32(cb[i]) != c[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) v.not_stored[i] = 0;
  }
  // (Several simple loops rather than one: GCC 12 vectorises each of them.)
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float rv = r[i], cv = c[i];
    const bool fin = both_finite(r[i], c[i]);
    const float d = fin ? std::fabs(cv - rv) : 0.0f;
    const float ulp = kF16 ? ulp_of_f16_bits(rh[i]) : ulp_of_f32_bits(f32_to_bits(r[i]));
    const float t = fin ? atol + ulps * ulp : 0.0f;
    const float a = std::fabs(rv);
    const float q = d / (a > 0 ? a : 1.0f);
    v.d[i] = d;
    v.t[i] = t;
    v.rel[i] = ((d > 0) & (a > 0)) ? q : 0.0f;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const bool fin = both_finite(r[i], c[i]);
    // Both NaN, or the same infinity, is no mismatch.
    const bool same = ((nan_bits(r[i]) & nan_bits(c[i])) != 0) || r[i] == c[i];
    const bool mismatch = !fin & !same;
    const bool ns = fin & (v.not_stored[i] != 0);
    const float d = v.d[i], t = v.t[i];
    const float dt = d / (t > 0 ? t : 1.0f);
    const float over = t > 0 ? dt : INFINITY;
    const float ratio_fin = d > 0 ? over : 0.0f;
    const float ratio_ns = std::max(1.0f, t > 0 ? dt : 1.0f);
    const float ratio_fin_ns = ns ? ratio_ns : ratio_fin;
    const float ratio_nonfin = mismatch ? INFINITY : 0.0f;
    v.ratio[i] = fin ? ratio_fin_ns : ratio_nonfin;  // a mismatch beats any ratio
    v.finite[i] = fin;
    v.mismatch[i] = mismatch;
    v.not_stored[i] = ns;
    v.beyond[i] = fin ? (d > t) | ns : mismatch;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const bool fin = both_finite(r[i], c[i]);
    uint32_t u;
    if constexpr (kF16) u = ordinal_distance(ordinal16(rh[i]), ordinal16(cb[i]));
    else u = ordinal_distance(ordinal32(f32_to_bits(r[i])), ordinal32(f32_to_bits(c[i])));
    v.u[i] = fin ? u : 0u;
  }
  // Histogram buckets 0, 1, 2, 3-4, 5-8, 9-16, 17-256, >256 (a mismatch: the last).
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = v.u[i];
    const uint32_t b = u <= 2 ? u : u <= 4 ? 3 : u <= 8 ? 4 : u <= 16 ? 5 : u <= 256 ? 6 : 7;
    v.bucket[i] = uint8_t(v.mismatch[i] ? 7 : b);
  }
}

// Called once per block on a fresh Partial. Compiled for AVX-512, AVX2 and
// the baseline, chosen at run time: the same IEEE operations in each (no
// fusing: -ffp-contract=off), so the same results, only wider vectors.
__attribute__((target_clones("avx512f", "avx2", "default"))) void compare_block(
    const float* r, const float* c, const uint16_t* rh, const uint16_t* ch, int64_t base, int64_t n,
    const Tolerance& tol, Partial& p) {
  double sq_diff = 0, sq_ref = 0, sq_cand = 0, dot = 0, max_abs = 0, max_rel = 0;
  uint64_t ulp_max = 0;
  int64_t beyond = 0, mismatches = 0, not_stored = 0;
  int64_t hist[kUlpBuckets] = {};
  int64_t worst = -1;  // the first element of the largest ratio (ratios are >= 0, never NaN)
  double worst_ratio = -1, worst_tol = 0;
  PieceValues v;  // ~10 KiB of stack
  for (int64_t at = 0; at < n; at += kPiece) {
    const int64_t len = std::min(kPiece, n - at);
    if (rh) compare_piece<true>(r + at, c + at, rh + at, ch ? ch + at : nullptr, len, tol, v);
    else compare_piece<false>(r + at, c + at, nullptr, nullptr, len, tol, v);
    // Order-free reductions (each loop of one element type: they vectorise).
    // The double maxima in four lanes each (maxima of non-NaN values in any order are the same).
    float la[8], lr[8], lq[8];
    for (int k = 0; k < 8; ++k) la[k] = float(max_abs), lr[k] = float(max_rel), lq[k] = -1;
    for (int64_t j = 0; j < len; ++j) {
      la[j & 7] = std::max(la[j & 7], v.d[j]);
      lr[j & 7] = std::max(lr[j & 7], v.rel[j]);
      lq[j & 7] = std::max(lq[j & 7], v.ratio[j]);
    }
    float pmax_abs = la[0], pmax_rel = lr[0], pratio = lq[0];
    for (int k = 1; k < 8; ++k) pmax_abs = std::max(pmax_abs, la[k]), pmax_rel = std::max(pmax_rel, lr[k]),
                                pratio = std::max(pratio, lq[k]);
    uint32_t pulp = 0;
#pragma omp simd reduction(max : pulp)
    for (int64_t j = 0; j < len; ++j) pulp = std::max(pulp, v.u[j]);
    int32_t pbeyond = 0, pmis = 0, pns = 0;
#pragma omp simd reduction(+ : pbeyond, pmis, pns)
    for (int64_t j = 0; j < len; ++j) {
      pbeyond += v.beyond[j];
      pmis += v.mismatch[j];
      pns += v.not_stored[j];
    }
    int64_t h[4][kUlpBuckets] = {};  // four interleaved copies: no store-to-load chain on one bucket
    for (int64_t j = 0; j < len; ++j) ++h[j & 3][v.bucket[j]];
    for (int b = 0; b < kUlpBuckets; ++b) hist[b] += h[0][b] + h[1][b] + h[2][b] + h[3][b];
    max_abs = pmax_abs, max_rel = pmax_rel;
    ulp_max = pmis ? UINT64_MAX : std::max(ulp_max, uint64_t(pulp));  // a NaN/Inf mismatch: infinitely far
    beyond += pbeyond, mismatches += pmis, not_stored += pns;
    if (pratio > worst_ratio) {  // ties keep the first: an earlier piece, then the first element
      int64_t j = 0;
      while (v.ratio[j] != pratio) ++j;
      worst = at + j;
      worst_ratio = pratio;
      worst_tol = v.t[j];
    }
    // The sums over the finite elements: eight interleaved partials per
    // piece (element j into partial j % 8), added in a fixed order, so the
    // result is the same for any SIMD width and thread count.
    double s0[8] = {}, s1[8] = {}, s2[8] = {}, s3[8] = {};
    for (int64_t j0 = 0; j0 < len; j0 += 8)
      for (int64_t k = 0; k < 8; ++k) {
        const int64_t j = j0 + k;
        const bool use = j < len && v.finite[j < len ? j : 0];
        const double rv = use ? double(r[at + j]) : 0.0, cv = use ? double(c[at + j]) : 0.0, d = cv - rv;
        s0[k] += d * d;
        s1[k] += rv * rv;
        s2[k] += cv * cv;
        s3[k] += rv * cv;
      }
    auto fold = [](const double* x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); };
    sq_diff += fold(s0);
    sq_ref += fold(s1);
    sq_cand += fold(s2);
    dot += fold(s3);
  }
  TensorMetrics& m = p.m;
  m.count = n;
  m.max_abs = max_abs, m.max_rel = max_rel, m.ulp_max = ulp_max;
  m.beyond = beyond, m.nonfinite = mismatches, m.not_stored_type = not_stored;
  for (int k = 0; k < kUlpBuckets; ++k) m.ulp_hist[size_t(k)] = hist[k];
  if (worst >= 0) {
    m.worst_index = base + worst;
    m.worst_ratio = worst_ratio;
    m.worst_ref = r[worst];
    m.worst_cand = c[worst];
    m.worst_tol = worst_tol;
  }
  p.sq_diff = sq_diff, p.sq_ref = sq_ref, p.sq_cand = sq_cand, p.dot = dot;
}

}  // namespace

TensorMetrics compare_tensors(const TensorView& ref, const TensorView& cand, const Tolerance& tol) {
  const int64_t n = ref.numel();
  if (cand.numel() != n)
    throw std::invalid_argument(fmt::format("compare: reference has {} elements {}, candidate {} {}", n,
                                            ref.shape.str(), cand.numel(), cand.shape.str()));
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<Partial> parts(size_t(std::max<int64_t>(blocks, 1)));
#pragma omp parallel if (n >= kParallelMinElements)
  {
    std::vector<float> r(kBlock), c(kBlock);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t base = b * kBlock, len = std::min(kBlock, n - base);
      auto widen = [&](const TensorView& v, std::vector<float>& out) {
        if (v.dtype == DType::f16) f16_to_f32_array(v.half() + base, out.data(), len);
        else std::copy_n(v.f32() + base, len, out.data());
      };
      widen(ref, r);
      widen(cand, c);
      const uint16_t* rh = ref.dtype == DType::f16 ? &ref.half()[base].bits : nullptr;
      const uint16_t* ch = ref.dtype == DType::f16 && cand.dtype == DType::f16 ? &cand.half()[base].bits : nullptr;
      compare_block(r.data(), c.data(), rh, ch, base, len, tol, parts[size_t(b)]);
    }
  }
  // Blocks in order: the same sums for any thread count.
  TensorMetrics m;
  double sq_diff = 0, sq_ref = 0, sq_cand = 0, dot = 0;
  for (const Partial& p : parts) {
    const TensorMetrics& q = p.m;
    m.count += q.count;
    m.max_abs = std::max(m.max_abs, q.max_abs);
    m.max_rel = std::max(m.max_rel, q.max_rel);
    m.ulp_max = std::max(m.ulp_max, q.ulp_max);
    for (int i = 0; i < kUlpBuckets; ++i) m.ulp_hist[size_t(i)] += q.ulp_hist[size_t(i)];
    m.beyond += q.beyond;
    m.nonfinite += q.nonfinite;
    m.not_stored_type += q.not_stored_type;
    if (q.worst_index >= 0 && (m.worst_index < 0 || q.worst_ratio > m.worst_ratio)) {
      m.worst_index = q.worst_index;
      m.worst_ratio = q.worst_ratio;
      m.worst_ref = q.worst_ref;
      m.worst_cand = q.worst_cand;
      m.worst_tol = q.worst_tol;
    }
    sq_diff += p.sq_diff;
    sq_ref += p.sq_ref;
    sq_cand += p.sq_cand;
    dot += p.dot;
  }
  m.nmse = sq_ref > 0 ? sq_diff / sq_ref : (sq_diff > 0 ? INFINITY : 0);
  m.cosine = sq_ref > 0 && sq_cand > 0 ? dot / std::sqrt(sq_ref * sq_cand) : (sq_ref == sq_cand ? 1 : 0);
  return m;
}

}  // namespace rwkv::harness
