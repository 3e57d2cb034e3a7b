// The SF4 table: web-rwkv's Float4Quant::new_student(nu = 5), the levels
// Matrix::quant_sf4 uploads.
//
// Confirmed from web-rwkv's src/tensor/matrix.rs (quantile_student): all in
// f64, delta = (1/32 + 1/30)/2; probabilities delta + k*step for k = 0..6 with
// step = (0.5 - delta)/7, then 0.5 + k*step2 for k = 0..8 with
// step2 = (1.0 - delta - 0.5)/8 (evaluated in that order, so p[15] is not
// exactly 1 - delta); quantiles by statrs' StudentsT(0, 1, nu).inverse_cdf;
// each divided (f64) by the largest quantile and cast to f32 once.
//
// Ours: the same probabilities and the same tail handling (statrs works with
// p below 1/2 and 1 - p above), but the quantile is our own
// (student_t_quantile: bisection on the closed-form odd-nu CDF, IEEE
// arithmetic only), so the table does not depend on statrs' or a platform's
// libm. Inferred, not confirmed: that statrs is accurate enough that the f32
// results agree. Checked with a 200-bit evaluation (mpmath): every level lies
// at least 2e-9 (relative) away from an f32 rounding boundary, far beyond the
// ~1e-13 error of any double-precision inverse CDF, so any accurate
// implementation rounds to these same 16 floats; tests/formats_webrwkv_test.cpp
// pins their bit patterns. Level 0 is -0.99999999999999941 in f64 (p[0] and
// 1 - p[15] differ in the last bits) and rounds to -1.0f.
#include <array>

#include "reference/formats/blocks.h"
#include "reference/formats/student_t.h"

namespace rwkv::blocks {

namespace {

std::array<float, 16> build_student_t_table(int nu) {
  const double delta = (1.0 / 32.0 + 1.0 / 30.0) / 2.0;
  std::array<double, 16> p{};
  const double step = (0.5 - delta) / 7.0;
  for (int k = 0; k < 7; ++k) p[size_t(k)] = delta + step * double(k);
  const double step2 = (1.0 - delta - 0.5) / 8.0;
  for (int k = 0; k < 9; ++k) p[size_t(7 + k)] = 0.5 + step2 * double(k);

  std::array<double, 16> t{};
  double max = 0.0;
  for (size_t i = 0; i < 16; ++i) {
    t[i] = student_t_quantile(nu, p[i]);
    if (t[i] > max) max = t[i];
  }
  std::array<float, 16> table{};
  for (size_t i = 0; i < 16; ++i) table[i] = static_cast<float>(t[i] / max);  // one rounding, to nearest
  return table;
}

}  // namespace

const float* sf4_table() {
  static const std::array<float, 16> table = build_student_t_table(5);
  return table.data();
}

}  // namespace rwkv::blocks
