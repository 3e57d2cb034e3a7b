#pragma once
// How far a candidate tensor is from the reference's, element by element,
// against a tolerance: the numbers the harness prints and reports.
//
// Tolerance per element: |cand - ref| <= atol + n * ulp(ref), where atol is
// the op's allowance from its float64 envelope (k times the reference's own
// max error, tolerance.h) and ulp(ref) the spacing of the stored type (f16 or
// f32) at |ref|. A NaN or Inf where the other side has a finite value (or a
// different non-finite one) always counts as beyond tolerance; so does, for a
// tensor the reference stores in f16, a candidate value that is not an f16
// (a store that missed its rounding).
#include <array>
#include <cstdint>
#include <string>

#include "reference/tensor.h"

namespace rwkv::harness {

struct Tolerance {
  double atol = 0;   // absolute allowance (k * the reference's float64 error)
  double ulps = 0;   // plus this many units in the last place of the stored type at |ref|
};

// ULP-distance histogram buckets: 0, 1, 2, 3-4, 5-8, 9-16, 17-256, >256 or non-finite.
inline constexpr int kUlpBuckets = 8;
const char* ulp_bucket_label(int b);

struct TensorMetrics {
  int64_t count = 0;
  double max_abs = 0;        // max |cand - ref|
  double max_rel = 0;        // max over ref != 0 of |cand - ref| / |ref|
  double nmse = 0;           // sum (cand - ref)^2 / sum ref^2 (0 if both are all zero)
  double cosine = 1;         // cand . ref / (|cand| |ref|) (1 if both are all zero)
  uint64_t ulp_max = 0;      // ULP distance in the reference's stored type
  std::array<int64_t, kUlpBuckets> ulp_hist{};
  int64_t beyond = 0;        // elements beyond tolerance (all causes)
  int64_t nonfinite = 0;     // of which a NaN/Inf mismatch
  int64_t not_stored_type = 0;  // of which a value the stored type cannot hold (f16 only)
  // The worst element: largest |cand - ref| / tolerance (a NaN/Inf mismatch first).
  int64_t worst_index = -1;
  double worst_ref = 0, worst_cand = 0, worst_ratio = 0, worst_tol = 0;
  bool pass() const { return beyond == 0; }
  // "3 of 196608 (0.00153%)": the exact count and a fraction that never reads 0 when it is not.
  std::string beyond_str() const;
};

// Compares cand with ref (same element count; either may be f16 or f32: the
// reference's dtype decides the ULP unit and the stored-type check).
// Deterministic for any thread count (fixed blocks, summed in order).
TensorMetrics compare_tensors(const TensorView& ref, const TensorView& cand, const Tolerance& tol);

// The spacing of floats of type t at |v| (f16: 2^-24 below 2^-14; f32: 2^-149 below 2^-126).
double ulp_at(DType t, double v);

}  // namespace rwkv::harness
