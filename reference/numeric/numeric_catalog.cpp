// Catalog entries for the canonical math functions and the f16 conversion:
// they are kernels too (every activation goes through them).
#include <cmath>
#include <limits>

#include "reference/kernel_catalog.h"
#include "reference/numeric/canon_math_array.h"
#include "reference/numeric/f16.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

// Seeded inputs over the range the kernels feed the function, plus the special
// values every implementation must agree on.
std::vector<float> sample_inputs(uint64_t seed, float lo, float hi) {
  Rng rng(seed);
  std::vector<float> x(4099);
  for (float& v : x) v = rng.uniform(lo, hi);
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                            1e-40f, -1e-40f, 42.0f, 42.000004f, 89.0f, -104.0f, 0.625f, -0.625f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i] = specials[i];
  return x;
}

KernelVariant math_entry(const char* name, canon::Func f, float lo, float hi, const char* order) {
  return {name, "-", "-", order, [f, lo, hi](uint64_t seed) {
            const std::vector<float> x = sample_inputs(seed, lo, hi);
            std::vector<float> y(x.size());
            canon::apply(f, x.data(), y.data(), int64_t(x.size()));
            std::vector<uint8_t> out;
            append_bytes(out, y);
            return out;
          }};
}

}  // namespace

void register_numeric_kernels(std::vector<KernelVariant>& out) {
  out.push_back(math_entry("canon_exp", canon::Func::exp, -104.0f, 89.0f,
                           "Cody-Waite ln2 split, Cephes degree-7 Horner, scale by 2^(n/2) twice"));
  out.push_back(math_entry("canon_tanh", canon::Func::tanh, -50.0f, 50.0f,
                           "|x|<0.625 odd Horner polynomial; else 1-2/(e^2|x|+1); x>42 -> 1"));
  out.push_back(math_entry("canon_sigmoid", canon::Func::sigmoid, -104.0f, 104.0f,
                           "e=exp(-|x|); x>=0: 1/(1+e), x<0: e/(1+e)"));
  out.push_back(math_entry("canon_rsqrt", canon::Func::rsqrt, 0.0f, 1e6f, "1/sqrt(x), both IEEE-rounded"));
  out.push_back(math_entry("canon_squared_relu", canon::Func::squared_relu, -10.0f, 10.0f, "max(x,0)^2"));
  out.push_back({"f16_encode", "-", "-", "f32 -> f16 round to nearest even; NaN quieted", [](uint64_t seed) {
                   Rng rng(seed);
                   std::vector<uint16_t> y(8192);
                   for (auto& h : y) h = f32_to_f16_bits(bits_to_f32(rng.next_u32()));
                   std::vector<uint8_t> out;
                   append_bytes(out, y);
                   return out;
                 }});
}

}  // namespace rwkv
