#include "backends/harness/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "reference/kernels/parallel_work.h"
#include "reference/numeric/f16_array.h"
#include "reference/numeric/ulp.h"

namespace rwkv::harness {

const char* ulp_bucket_label(int b) {
  static const char* labels[kUlpBuckets] = {"0", "1", "2", "3-4", "5-8", "9-16", "17-256", ">256"};
  return labels[b];
}

double ulp_at(DType t, double v) {
  const double a = std::fabs(v);
  int e = 0;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  if (t == DType::f16) return std::ldexp(1.0, std::max(e - 1, -14) - 10);
  return std::ldexp(1.0, std::max(e - 1, -126) - 23);
}

std::string TensorMetrics::beyond_str() const {
  if (beyond == 0) return fmt::format("0 of {}", count);
  return fmt::format("{} of {} ({:.3g}%)", beyond, count, 100.0 * double(beyond) / double(count));
}

namespace {

int bucket(uint64_t d) {
  if (d <= 2) return int(d);
  if (d <= 4) return 3;
  if (d <= 8) return 4;
  if (d <= 16) return 5;
  if (d <= 256) return 6;
  return 7;
}

// f16 ordinal distance of two f16 bit patterns (as ulp_distance for f32).
uint64_t ulp16_distance(uint16_t a, uint16_t b) {
  const bool na = (a & 0x7fff) > 0x7c00, nb = (b & 0x7fff) > 0x7c00;
  if (na || nb) return na && nb ? 0 : UINT64_MAX;
  auto ord = [](uint16_t h) { return (h >> 15) ? -int64_t(h & 0x7fff) : int64_t(h & 0x7fff); };
  const int64_t d = ord(a) - ord(b);
  return uint64_t(d < 0 ? -d : d);
}

struct Partial {
  TensorMetrics m;
  double sq_diff = 0, sq_ref = 0, sq_cand = 0, dot = 0;
};

constexpr int64_t kBlock = 4096;

void compare_block(const float* r, const float* c, int64_t base, int64_t n, DType rtype, const Tolerance& tol,
                   Partial& p) {
  TensorMetrics& m = p.m;
  for (int64_t i = 0; i < n; ++i) {
    const double rv = r[i], cv = c[i];
    ++m.count;
    bool bad = false, nonfinite = false, not_stored = false;
    double d = 0, t = 0;
    if (!std::isfinite(rv) || !std::isfinite(cv)) {
      const bool same = (std::isnan(rv) && std::isnan(cv)) || rv == cv;
      nonfinite = !same;
      bad = nonfinite;
      ++m.ulp_hist[same ? 0 : kUlpBuckets - 1];
      if (!same) m.ulp_max = UINT64_MAX;
    } else {
      d = std::fabs(cv - rv);
      t = tol.atol + tol.ulps * ulp_at(rtype, rv);
      bad = d > t;
      uint64_t u;
      if (rtype == DType::f16) {
        const uint16_t ch = f32_to_f16_bits(float(cv));
        not_stored = double(f16_bits_to_f32(ch)) != cv;
        u = ulp16_distance(f32_to_f16_bits(float(rv)), ch);
        bad = bad || not_stored;
      } else {
        u = ulp_distance(float(rv), float(cv));
      }
      m.ulp_max = std::max(m.ulp_max, u);
      ++m.ulp_hist[bucket(u)];
      m.max_abs = std::max(m.max_abs, d);
      if (rv != 0) m.max_rel = std::max(m.max_rel, d / std::fabs(rv));
      p.sq_diff += d * d;
      p.sq_ref += rv * rv;
      p.sq_cand += cv * cv;
      p.dot += rv * cv;
    }
    if (bad) {
      ++m.beyond;
      m.nonfinite += nonfinite;
      m.not_stored_type += not_stored;
    }
    // Worst: a non-finite mismatch beats any ratio; ties keep the first.
    const double ratio = nonfinite ? INFINITY : not_stored ? std::max(1.0, t > 0 ? d / t : 1.0) : (t > 0 ? d / t : (d > 0 ? INFINITY : 0));
    if (m.worst_index < 0 || ratio > m.worst_ratio) {
      m.worst_index = base + i;
      m.worst_ratio = ratio;
      m.worst_ref = rv;
      m.worst_cand = cv;
      m.worst_tol = t;
    }
  }
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
      compare_block(r.data(), c.data(), base, len, ref.dtype, tol, parts[size_t(b)]);
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
