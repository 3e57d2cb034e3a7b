#pragma once
// Comparing a kernel's stored outputs with a float64 oracle under a documented
// bound, for the norm, element-wise and softmax tests.
//
// A kernel computes y32 in f32 and stores round(y32) in the output type. If the
// f32 arithmetic is within `tol` of the exact value `want`, the stored value is
// within tol + (half the output type's spacing at |want| + tol) of it; that is
// what near_oracle checks, with NaN, Inf and overflow handled explicitly.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/tensor.h"
#include "reference/util/rng.h"

namespace rwkv::testing {

// Half the spacing between adjacent values of the stored type around |v|.
inline double half_spacing(DType t, double v) {
  const double a = std::fabs(v);
  const int mant = t == DType::f16 ? 10 : 23;
  const int min_exp = t == DType::f16 ? -14 : -126;
  int e = 0;
  std::frexp(a, &e);
  const int lead = e - 1 < min_exp ? min_exp : e - 1;
  return std::ldexp(1.0, lead - mant - 1);
}

inline double max_finite(DType t) { return t == DType::f16 ? 65504.0 : double(FLT_MAX); }

// Worst error seen, as a fraction of the allowed error (1 = at the bound),
// kept apart for f16 and f32 outputs: with f16 outputs the final rounding
// (up to half a spacing) dominates, with f32 outputs the arithmetic bound does.
struct ErrorStats {
  struct Worst {
    double ratio = 0;
    double abs = 0;
    std::string where;
  } worst[2];  // [f16, f32]
  void note(DType t, double ratio, double abs, const std::string& where) {
    Worst& w = worst[t == DType::f16 ? 0 : 1];
    if (ratio > w.ratio) w = Worst{ratio, abs, where};
  }
  void print(const char* label) const {
    for (int i = 0; i < 2; ++i)
      if (!worst[i].where.empty())
        std::printf("[ bound  ] %s, %s out: worst |err| / bound = %.3g (|err| = %.3g at %s)\n", label,
                    i == 0 ? "f16" : "f32", worst[i].ratio, worst[i].abs, worst[i].where.c_str());
  }
};

// `label` names the case and `index` the element (the message is only built
// when needed: this runs for millions of elements).
inline ::testing::AssertionResult near_oracle(float got, double want, double tol, DType out, ErrorStats* stats,
                                              const std::string& label, int64_t index) {
  auto where = [&] { return label + " element " + std::to_string(index); };
  auto fail = [&](const char* why) {
    return ::testing::AssertionFailure() << why << ": got " << got << ", oracle " << want << ", tol " << tol
                                         << " (" << dtype_name(out) << ") at " << where();
  };
  if (std::isnan(want)) return std::isnan(got) ? ::testing::AssertionSuccess() : fail("expected NaN");
  if (std::isinf(want)) return got == want ? ::testing::AssertionSuccess() : fail("expected Inf");
  if (std::isnan(got)) return fail("unexpected NaN");
  // Rounding to nearest reaches Inf from max_finite + half its spacing up.
  const double overflow_at = max_finite(out) + half_spacing(out, max_finite(out));
  if (std::isinf(got)) {
    if ((got > 0) == (want > 0) && std::fabs(want) + tol >= overflow_at) return ::testing::AssertionSuccess();
    return fail("unexpected Inf");
  }
  const double err = std::fabs(double(got) - want);
  const double bound = tol + half_spacing(out, std::fabs(want) + tol);
  if (stats && bound > 0 && err / bound > stats->worst[out == DType::f16 ? 0 : 1].ratio)
    stats->note(out, err / bound, err, where());
  if (err <= bound) return ::testing::AssertionSuccess();
  return fail("outside the bound");
}

// A zero-filled tensor whose elements are set from gen() (rounded to the type).
inline Tensor make_tensor(DType t, Shape s, const std::function<float()>& gen) {
  Tensor out(t, s);
  TensorView v = out.view();
  for (int64_t i = 0; i < v.numel(); ++i) v.set(i, gen());
  return out;
}

inline std::vector<f16> make_f16(int64_t n, const std::function<float()>& gen) {
  std::vector<f16> out(static_cast<size_t>(n));
  for (auto& h : out) h = to_f16(gen());
  return out;
}

inline const char* dtype_label(DType t) { return dtype_name(t); }

}  // namespace rwkv::testing
