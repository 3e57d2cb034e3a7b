// Catalog entries for the canonical math functions and the f16 conversion:
// they are kernels too (every activation goes through them). Cases: the
// special values every implementation must agree on, then seeded values over
// the range the kernels feed the function, at lengths with lane tails.
// Oracles: the float64 function of the same f32 input (std::exp etc. in
// double; tanh is 1 above 42 as in web-rwkv); for f16_encode the exact
// rounding of oracle_round.h, written independently of numeric/f16.h.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "reference/kernel_catalog.h"
#include "reference/numeric/canon_math_array.h"
#include "reference/numeric/f16.h"
#include "reference/oracle/elementwise_oracle.h"
#include "reference/oracle/oracle_round.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

constexpr float kSpecials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                               1e-40f, -1e-40f, 42.0f, 42.000004f, 89.0f, -104.0f, 0.625f, -0.625f};

// Lengths: 256 (the specials, then seeded values), 1027 and 16387 (tails of
// 3 lanes at every SIMD width).
constexpr size_t kLengths[] = {256, 1027, 16387};

double canon_oracle(canon::Func f, double x) {
  switch (f) {
    case canon::Func::exp: return std::exp(x);
    case canon::Func::tanh: return oracle::activate(Activation::tanh, x);
    case canon::Func::sigmoid: return oracle::activate(Activation::sigmoid, x);
    case canon::Func::rsqrt: return 1.0 / std::sqrt(x);
    case canon::Func::squared_relu: return oracle::activate(Activation::squared_relu, x);
    case canon::Func::sqrt: return std::sqrt(x);
  }
  return NAN;
}

std::vector<KernelCase> math_cases(canon::Func f, float lo, float hi, uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (size_t n : kLengths) {
    std::vector<float> x(n);
    for (float& v : x) v = rng.uniform(lo, hi);
    const bool specials = n == kLengths[0];
    if (specials) std::copy(std::begin(kSpecials), std::end(kSpecials), x.begin());
    std::vector<float> y(n);
    canon::apply(f, x.data(), y.data(), int64_t(n));
    KernelCase c(fmt::format("{} values{}", n, specials ? ", specials first" : ""));
    c.param("n", int64_t(n));
    c.input("x", ElemType::f32, {n}, x.data());
    CaseTensor& out = c.output("y", ElemType::f32, {n}, y.data());
    if (oracle == WithOracle::yes)
      for (float v : x) out.f64.push_back(canon_oracle(f, v));
    cases.push_back(std::move(c));
  }
  return cases;
}

KernelVariant math_entry(const char* name, canon::Func f, float lo, float hi, const char* order,
                         const char* oracle) {
  return make_variant(name, "-", "-", order, oracle,
                      [f, lo, hi](uint64_t seed, WithOracle o) { return math_cases(f, lo, hi, seed, o); });
}

// f16_encode: random bit patterns (every class of float: NaNs with payloads,
// subnormals, values past the f16 range), then the specials.
std::vector<KernelCase> f16_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (size_t n : {size_t(259), size_t(2051), size_t(8195)}) {
    std::vector<float> x(n);
    for (float& v : x) v = bits_to_f32(rng.next_u32());
    if (n == 259) std::copy(std::begin(kSpecials), std::end(kSpecials), x.begin());
    std::vector<uint16_t> y(n);
    for (size_t i = 0; i < n; ++i) y[i] = f32_to_f16_bits(x[i]);
    KernelCase c(fmt::format("{} random f32 bit patterns{}", n, n == 259 ? ", specials first" : ""));
    c.param("n", int64_t(n));
    c.input("x", ElemType::f32, {n}, x.data());
    CaseTensor& out = c.output("y", ElemType::f16, {n}, y.data());
    if (oracle == WithOracle::yes)
      for (float v : x) out.f64.push_back(oracle::round_to_f16(v));
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

void register_numeric_kernels(std::vector<KernelVariant>& out) {
  out.push_back(math_entry("canon_exp", canon::Func::exp, -104.0f, 89.0f,
                           "Cody-Waite ln2 split, Cephes degree-7 Horner, scale by 2^(n/2) twice",
                           "exp(x) in double (C library)"));
  out.push_back(math_entry("canon_tanh", canon::Func::tanh, -50.0f, 50.0f,
                           "|x|<0.625 odd Horner polynomial; else 1-2/(e^2|x|+1); x>42 -> 1",
                           "tanh(x) in double (C library), 1 for x > 42"));
  out.push_back(math_entry("canon_sigmoid", canon::Func::sigmoid, -104.0f, 104.0f,
                           "e=exp(-|x|); x>=0: 1/(1+e), x<0: e/(1+e)", "1/(1 + exp(-x)) in double (C library exp)"));
  out.push_back(math_entry("canon_rsqrt", canon::Func::rsqrt, 0.0f, 1e6f, "1/sqrt(x), both IEEE-rounded",
                           "1/sqrt(x) in double"));
  out.push_back(math_entry("canon_squared_relu", canon::Func::squared_relu, -10.0f, 10.0f, "max(x,0)^2",
                           "max(x, 0)^2 in double (exact)"));
  out.push_back(make_variant("f16_encode", "-", "-", "f32 -> f16 round to nearest even; NaN quieted",
                             "x rounded to the nearest half, ties to even, overflow to Inf (oracle_round.h, "
                             "independent of numeric/f16.h); NaN stays NaN",
                             f16_cases));
}

}  // namespace rwkv
