#include "reference/numeric/ulp_sweep.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "reference/numeric/ulp.h"

namespace rwkv::canon {
namespace {

double ref_exp(double x) { return std::exp(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_sqrt(double x) { return std::sqrt(x); }
double ref_rsqrt(double x) { return 1.0 / std::sqrt(x); }
double ref_squared_relu(double x) { return x > 0 ? x * x : 0.0; }

// Inputs per work item: large enough to amortise the SIMD call, small enough
// to spread over threads. Work items are merged in order, so the worst input
// reported is the first one in increasing order whatever the thread count.
constexpr int64_t kChunk = 1 << 14;

template <double (*Ref)(double)>
void compare(const float* in, const float* out, int64_t n, UlpStats& s) {
  for (int64_t i = 0; i < n; ++i) {
    const double r = Ref(double(in[i]));
    const uint64_t d = ulp_distance(out[i], float(r));
    s.sum_ulp += d;
    ++s.by_ulp[d < 3 ? d : 3];
    if (d > s.max_ulp || s.checked + uint64_t(i) == 0) {
      s.max_ulp = d;
      s.worst_input = in[i];
      s.worst_result = out[i];
      s.worst_reference = r;
    }
  }
  s.checked += uint64_t(n);
}

void compare(Func f, const float* in, const float* out, int64_t n, UlpStats& s) {
  switch (f) {
    case Func::exp: return compare<ref_exp>(in, out, n, s);
    case Func::tanh: return compare<ref_tanh>(in, out, n, s);
    case Func::sigmoid: return compare<ref_sigmoid>(in, out, n, s);
    case Func::sqrt: return compare<ref_sqrt>(in, out, n, s);
    case Func::rsqrt: return compare<ref_rsqrt>(in, out, n, s);
    case Func::squared_relu: return compare<ref_squared_relu>(in, out, n, s);
  }
}

void merge(UlpStats& into, const UlpStats& part) {
  if (part.checked == 0) return;
  if (into.checked == 0 || part.max_ulp > into.max_ulp) {
    into.max_ulp = part.max_ulp;
    into.worst_input = part.worst_input;
    into.worst_result = part.worst_result;
    into.worst_reference = part.worst_reference;
  }
  into.checked += part.checked;
  into.sum_ulp += part.sum_ulp;
  for (int k = 0; k < 4; ++k) into.by_ulp[k] += part.by_ulp[k];
}

}  // namespace

double reference(Func f, double x) {
  switch (f) {
    case Func::exp: return ref_exp(x);
    case Func::tanh: return ref_tanh(x);
    case Func::sigmoid: return ref_sigmoid(x);
    case Func::sqrt: return ref_sqrt(x);
    case Func::rsqrt: return ref_rsqrt(x);
    case Func::squared_relu: return ref_squared_relu(x);
  }
  return x;
}

const char* func_name(Func f) {
  switch (f) {
    case Func::exp: return "exp";
    case Func::tanh: return "tanh";
    case Func::sigmoid: return "sigmoid";
    case Func::sqrt: return "sqrt";
    case Func::rsqrt: return "rsqrt";
    case Func::squared_relu: return "squared_relu";
  }
  return "?";
}

UlpStats ulp_sweep(Func f, float lo, float hi, int64_t stride) {
  if (!(lo <= hi) || stride < 1)
    throw std::invalid_argument("ulp_sweep: expected lo <= hi (not NaN) and stride >= 1");
  const int64_t first = ulp_ordinal(lo);
  const int64_t count = (ulp_ordinal(hi) - first) / stride + 1;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  std::vector<UlpStats> parts(static_cast<size_t>(chunks));
#pragma omp parallel
  {
    std::vector<float> in(kChunk), out(kChunk);
    // Dynamic: other processes share the cores, and the merge below is in
    // chunk order, so the schedule cannot change the result.
#pragma omp for schedule(dynamic, 8)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * kChunk;
      const int64_t n = count - begin < kChunk ? count - begin : kChunk;
      for (int64_t i = 0; i < n; ++i) in[size_t(i)] = float_at_ulp_ordinal(first + (begin + i) * stride);
      apply(f, in.data(), out.data(), n);
      compare(f, in.data(), out.data(), n, parts[size_t(c)]);
    }
  }
  UlpStats total;
  for (const UlpStats& p : parts) merge(total, p);
  return total;
}

}  // namespace rwkv::canon
